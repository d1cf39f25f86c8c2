// The signing-key-leaked drill's JS clients: the npm package's Client in Node, one per
// license, each checking every `everyMs` with its own file cache, as an application would.
// `node js_clients.mjs PACKAGE_DIR CONFIG.json`; prints one JSON line per verdict
// ({client, state, reason, kid, ver}) and stops when its stdin closes (the drill holds it).
// A key-set file that changes is read again and the Clients rebuilt with it (a deployment's
// key refresh), each from its cache and the license it holds now.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [pkg, configPath] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const lib = require(path.join(pkg, 'node/lifeline_wasm.js'));
const { fileCache } = require(path.join(pkg, 'node/file-cache.cjs'));
const cfg = JSON.parse(fs.readFileSync(configPath, 'utf8'));

let keysSeen = 0;
const held = cfg.licenses.map((l) => l.token);
let clients = [];
const build = () => {
  keysSeen = fs.statSync(cfg.keysPath).mtimeMs;
  const keys = fs.readFileSync(cfg.keysPath, 'utf8');
  clients = cfg.licenses.map((l, i) => new lib.Client({
    nodes: cfg.nodes, keys, licenseToken: held[i], timeoutMs: cfg.timeoutMs, deadlineMs: cfg.deadlineMs,
    cache: fileCache(path.join(cfg.dir, `js-${i}.json`)), instance: `js-${i}`,
    onLicense: (token) => { held[i] = token; },
  }));
};
build();

let running = true;
process.stdin.on('close', () => { running = false; });
process.stdin.resume();

while (running) {
  const started = Date.now();
  if (fs.statSync(cfg.keysPath).mtimeMs !== keysSeen) build();
  await Promise.all(clients.map(async (c, i) => {
    let line;
    try {
      const v = await c.check();
      line = { client: `js-${i}`, state: v.state, reason: v.reason, kid: v.kid, ver: v.claims?.ver ?? 0 };
    } catch (e) {
      line = { client: `js-${i}`, state: 'error', reason: String(e.code ?? e.message) };
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }));
  await new Promise((r) => setTimeout(r, Math.max(0, cfg.everyMs - (Date.now() - started))));
}
process.exit(0);
