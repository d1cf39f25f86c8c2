// Shared by the npm package tests: install the built package into a fresh project the way a
// user would (npm pack + npm install), and read the shared vector files.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const packageDir = path.join(repo, 'dist/npm');

/** A temp project with @lifeline/verifier installed from the packed tarball. */
export function installPackage() {
  if (!fs.existsSync(path.join(packageDir, 'package.json'))) {
    throw new Error('dist/npm is missing: run `make npm` first');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-npm-'));
  const tarball = execFileSync('npm', ['pack', packageDir, '--pack-destination', dir, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop();
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', path.join(dir, tarball)], { cwd: dir, stdio: 'pipe' });
  return dir;
}

/** Every license vector file: [name, vector]. */
export function licenseVectors() {
  const dir = path.join(repo, 'tests/vectors/licenses');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))]);
}

/** The native verdict (snake_case, as `lifeline verify` prints) in the JS naming. */
export function camel(native) {
  const { expires_at: expiresAt, grace_until: graceUntil, ...rest } = native;
  return { ...rest, expiresAt, graceUntil };
}

// The verdict suite every runtime runs (Node, Chromium, workerd, Deno, Bun): each vector,
// verified, verified again from the cache and in verifyMany, given the package's exports.
export const SUITE = `
export function suite(lib, vectors) {
  const out = {};
  for (const [name, v] of vectors) {
    const verifier = new lib.Verifier(v.keys, v.audience ? { audience: v.audience } : undefined);
    out[name] = {
      first: verifier.verify(v.token, v.now * 1000),
      cached: verifier.verify(v.token, v.now * 1000),
      many: verifier.verifyMany([v.token, v.token], v.now * 1000),
    };
  }
  return out;
}
`;

/** What the suite must give: the native core's verdict for every vector, three times. */
export function expected() {
  return Object.fromEntries(licenseVectors().map(([name, v]) => {
    const verdict = camel(v.verdict);
    return [name, { first: verdict, cached: verdict, many: [verdict, verdict] }];
  }));
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => resolve(port)); });
  });
}

/** A real `lifeline serve` (SQLite, its own data directory) with `admin` as its admin token,
 *  once `/readyz` answers; `call(method, route, body)` is the admin API ([status, body]). */
export async function startLifeline(admin) {
  const port = await freePort();
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-npm-node-'));
  const bin = process.env.LIFELINE_BIN || path.join(repo, 'target/debug/lifeline');
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', data], { env: { ...process.env, LIFELINE_ADMIN_TOKEN: admin }, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let t = 0; ; t++) {
    try { if ((await fetch(`${url}/readyz`)).status === 200) break; } catch { /* not up yet */ }
    if (t >= 600) throw new Error('lifeline serve did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const call = async (method, route, body) => {
    const r = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    return [r.status, r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text()];
  };
  return { child, url, call };
}
