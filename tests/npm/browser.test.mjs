// The package in real headless Chromium: a module script, a module worker, and a webpack
// bundle. Each page verifies a token and writes the verdict into the DOM; the test reads it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { installPackage, licenseVectors, camel, repo } from './harness.mjs';

const here = path.join(repo, 'tests/npm');
const [, valid] = licenseVectors().find(([n]) => n === 'valid');
let project;
let server;
let base;

const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

before(async () => {
  project = installPackage();
  fs.cpSync(path.join(here, 'pages'), path.join(project, 'pages'), { recursive: true });
  fs.writeFileSync(path.join(project, 'fixture.json'), JSON.stringify(valid));
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
  server = http.createServer((req, res) => {
    const file = path.join(project, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!file.startsWith(project) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server?.close());

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
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => resolve(port)); });
  });
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
  await wd('POST', `/session/${session}/url`, { url: `${base}/${page}` });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await wd('POST', `/session/${session}/execute/sync`, { script: "return document.getElementById('out').textContent", args: [] });
    if (text !== 'pending') return JSON.parse(text);
    assert.ok(Date.now() < deadline, `${page} never finished`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const page of ['pages/script.html', 'pages/worker.html', 'pages/bundle.html']) {
  test(`headless Chromium: ${page} shows the native verdict`, async () => {
    assert.deepEqual(await pageResult(page), camel(valid.verdict));
  });
}
