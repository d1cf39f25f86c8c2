// The package in real headless Chromium: a module script, a module worker, and a webpack
// bundle. Each page verifies a token and writes the verdict into the DOM; the test reads it.
// A Client holding a seat against a real `lifeline serve` (proxied by the page's origin),
// released when the page goes away.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { installPackage, licenseVectors, camel, repo, SUITE, expected, freePort, startLifeline as startNode } from './harness.mjs';

const here = path.join(repo, 'tests/npm');
const [, valid] = licenseVectors().find(([n]) => n === 'valid');
let project;
let server;
let base;
const admin = 'll_npm-browser-test-admin-token-0123456789abcdef';
let lifeline;
let seatLicense;

// The console's policy (crates/lifeline-server/src/console.rs): WebAssembly may compile,
// nothing may be compiled from strings, no inline script, no plugin, no framing.
const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

before(async () => {
  project = installPackage();
  fs.cpSync(path.join(here, 'pages'), path.join(project, 'pages'), { recursive: true });
  fs.writeFileSync(path.join(project, 'fixture.json'), JSON.stringify(valid));
  fs.writeFileSync(path.join(project, 'suite.mjs'), SUITE);
  fs.writeFileSync(path.join(project, 'vectors.json'), JSON.stringify(licenseVectors()));
  // Bundle the app with webpack, resolving the package from the project like an app build.
  const { default: webpack } = await import(path.join(here, 'node_modules/webpack/lib/index.js'));
  const stats = await promisify(webpack)({
    mode: 'production',
    target: 'web',
    context: project,
    entry: './pages/bundle-entry.js',
    output: { path: path.join(project, 'bundle'), filename: 'main.js', publicPath: '/bundle/', module: true, chunkFormat: 'module' },
    experiments: { outputModule: true, topLevelAwait: true },
    resolve: { modules: [path.join(project, 'node_modules')] },
  });
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  lifeline = await startLifeline();
  server = http.createServer((req, res) => {
    if (req.url.startsWith('/api/') || req.url.startsWith('/.well-known/')) {
      // Same origin for the page: forward to the lifeline node.
      const upstream = http.request(`${lifeline.url}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
      return;
    }
    const file = path.join(project, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!file.startsWith(project) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    // Every page and script (a worker takes its policy from its script's answer) under the
    // strict policy: the package must run without eval, new Function or inline script.
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream', 'content-security-policy': STRICT_CSP });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server?.close();
  lifeline?.child.kill('SIGKILL');
});

async function startLifeline() {
  const { child, url, call } = await startNode(admin);
  assert.equal((await call('POST', '/api/v1/products', { id: 'app', name: 'App' }))[0], 201);
  const [status, license] = await call('POST', '/api/v1/licenses', { product: 'app', licensee: 'browser', expires_at: 4102444800, entitlements: [], seats: 1, seat_mode: 'floating', heartbeat_s: 60 });
  assert.equal(status, 201);
  seatLicense = license;
  const keys = await (await fetch(`${url}/.well-known/lifeline/keys.json`)).json();
  fs.writeFileSync(path.join(project, 'seat-fixture.json'), JSON.stringify({ token: license.token, keys }));
  return { child, url, call };
}

// Headless Chromium driven over WebDriver (chromedriver), polling the page until it has
// written its result: module scripts, workers and fetches all run in real time.
let driver;
let session;

async function wd(method, url, body) {
  const res = await fetch(`${driver.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`WebDriver ${method} ${url}: ${JSON.stringify(json.value)}`);
  return json.value;
}

before(async () => {
  const port = await freePort();
  const proc = spawn('chromedriver', [`--port=${port}`], { stdio: 'ignore' });
  driver = { proc, url: `http://127.0.0.1:${port}` };
  for (let i = 0; ; i++) {
    try { await fetch(`${driver.url}/status`); break; } catch (e) { if (i > 100) throw e; await new Promise((r) => setTimeout(r, 100)); }
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-chromium-'));
  const created = await wd('POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': { binary: '/usr/bin/chromium', args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
    ] } } },
  });
  session = created.sessionId;
});

after(async () => {
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  driver?.proc.kill();
});

async function pageResult(page) {
  const { result, violations } = await pageOutcome(page);
  assert.deepEqual(violations, [], `${page}: Content-Security-Policy violations`);
  return result;
}

/** What the page wrote, and the policy violations it recorded. */
async function pageOutcome(page) {
  await wd('POST', `/session/${session}/url`, { url: `${base}/${page}` });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await wd('POST', `/session/${session}/execute/sync`, { script: "return document.getElementById('out').textContent", args: [] });
    if (text !== 'pending') {
      const violations = await wd('POST', `/session/${session}/execute/sync`, { script: 'return window.cspViolations', args: [] });
      return { result: JSON.parse(text), violations };
    }
    assert.ok(Date.now() < deadline, `${page} never finished`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('headless Chromium: the pages really are under the strict policy (code from a string is refused)', async () => {
  const { result, violations } = await pageOutcome('pages/eval.html');
  assert.match(result.error ?? '', /EvalError|unsafe-eval|Content Security Policy/i, JSON.stringify(result));
  assert.equal(violations.length, 1, JSON.stringify(violations));
});

test('headless Chromium: every vector gives the native verdict (the suite every runtime runs)', async () => {
  assert.deepEqual(await pageResult('pages/suite.html'), expected());
});

for (const page of ['pages/script.html', 'pages/worker.html', 'pages/bundle.html']) {
  test(`headless Chromium: ${page} shows the native verdict`, async () => {
    assert.deepEqual(await pageResult(page), camel(valid.verdict));
  });
}

test('headless Chromium: a Client holds a seat and releases it when the page goes away', async () => {
  const shown = await pageResult('pages/seat.html');
  assert.equal(shown.state, 'valid', JSON.stringify(shown));
  assert.equal(shown.seat.state, 'held', JSON.stringify(shown));
  assert.match(shown.fingerprint ?? '', /^[0-9a-f]{32}$/, 'a random id kept in localStorage');
  const seats = async () => (await lifeline.call('GET', `/api/v1/licenses/${seatLicense.id}/seats`))[1].items;
  const [row] = await seats();
  assert.equal(row.id, shown.seat.seatId);
  assert.equal(row.status, 'alive');
  assert.equal(row.name, 'browser tab');
  // Leave the page: pagehide releases the seat (fetch keepalive).
  await wd('POST', `/session/${session}/url`, { url: 'about:blank' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [now] = await seats();
    if (now.status === 'released') break;
    assert.ok(Date.now() < deadline, `not released on pagehide: ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The same browser comes back: the same fingerprint (localStorage), a seat again.
  const again = await pageResult('pages/seat.html');
  assert.equal(again.seat.state, 'held');
  assert.equal(again.fingerprint, shown.fingerprint);
});
