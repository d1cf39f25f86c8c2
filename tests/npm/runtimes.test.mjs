// The package in the edge and server runtimes npm ships as packages (tests/npm/package.json
// pins them): workerd (Cloudflare Workers' runtime), Deno and Bun. In each, the verdict
// suite (every vector of tests/vectors/licenses: verify, verify again from the cache,
// verifyMany) gives exactly the native core's verdicts, as Node does (package.test.mjs).
// In workerd the package is loaded through its Workers entry (the .wasm imported as a
// module, no compiling from bytes, no eval) and a Worker shaped like the README's example
// answers HTTP requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installPackage, licenseVectors, SUITE, expected, freePort, startLifeline } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = (name) => path.join(here, 'node_modules/.bin', name);
let project;

before(() => {
  project = installPackage();
  fs.writeFileSync(path.join(project, 'suite.mjs'), SUITE);
  fs.writeFileSync(path.join(project, 'vectors.json'), JSON.stringify(licenseVectors()));
  // A script importing the package by name, as an app in that runtime does.
  fs.writeFileSync(path.join(project, 'run-suite.mjs'), `
    import * as lib from '@lifeline/verifier';
    import { suite } from './suite.mjs';
    import fs from 'node:fs';
    const vectors = JSON.parse(fs.readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
    console.log(JSON.stringify(suite(lib, vectors)));
  `);
});

test('Deno: every vector gives the native verdict', () => {
  const out = execFileSync(bin('deno'), ['run', '--quiet', '--no-prompt', '--allow-read', '--allow-env', '--node-modules-dir=manual', 'run-suite.mjs'],
    { cwd: project, encoding: 'utf8', env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', DENO_DIR: path.join(project, '.deno') } });
  assert.deepEqual(JSON.parse(out), expected());
});

test('Bun: every vector gives the native verdict', () => {
  const out = execFileSync(bin('bun'), ['run', 'run-suite.mjs'], { cwd: project, encoding: 'utf8', env: { ...process.env, BUN_INSTALL_CACHE_DIR: path.join(project, '.bun') } });
  assert.deepEqual(JSON.parse(out), expected());
});

// ---- workerd ----------------------------------------------------------------------------
let workerd;
let workerdUrl;

// The Worker: the README's example (a request without a usable license gets 402), plus
// /suite, which runs the verdict suite inside the Worker, and /client, where a Client
// checks a license against real lifeline nodes (the first one dead) and posts telemetry.
const WORKER = `
import * as lib from './node_modules/@lifeline/verifier/web/workerd.mjs';
import { suite } from './suite.mjs';
import vectors from './vectors.json';

const [, valid] = vectors.find(([name]) => name === 'valid');
const verifier = new lib.Verifier(valid.keys);

export default {
  async fetch(req) {
    const route = new URL(req.url).pathname;
    if (route === '/suite') return Response.json(suite(lib, vectors));
    if (route === '/client') {
      const { nodes, keys, token, viewer } = await req.json();
      const client = new lib.Client({
        nodes, keys, licenseToken: token, timeoutMs: 1000, deadlineMs: 4000,
        telemetry: { token: viewer, service: 'workerd-edge', url: nodes[nodes.length - 1] },
      });
      const verdict = await client.check();
      const telemetry = await client.sendTelemetry();
      return Response.json({ verdict, telemetry });
    }
    const verdict = verifier.verify(req.headers.get('x-license') ?? '', valid.now * 1000);
    return verdict.state === 'invalid'
      ? new Response('license required: ' + verdict.reason, { status: 402 })
      : new Response('welcome, ' + verdict.claims.sub);
  },
};
`;

before(async () => {
  const pkg = 'node_modules/@lifeline/verifier/web';
  const snippets = fs.readdirSync(path.join(project, pkg, 'snippets'), { recursive: true })
    .filter((f) => f.endsWith('.js'))
    .map((f) => `${pkg}/snippets/${f}`);
  fs.writeFileSync(path.join(project, 'worker.mjs'), WORKER);
  const port = await freePort();
  const module = (name, kind) => `(name = "${name}", ${kind} = embed "${name}")`;
  const modules = [
    module('worker.mjs', 'esModule'),
    module('suite.mjs', 'esModule'),
    module('vectors.json', 'json'),
    module(`${pkg}/workerd.mjs`, 'esModule'),
    module(`${pkg}/lifeline_wasm.js`, 'esModule'),
    module(`${pkg}/lifeline_wasm_bg.wasm`, 'wasm'),
    ...snippets.map((s) => module(s, 'esModule')),
  ];
  fs.writeFileSync(path.join(project, 'config.capnp'), `
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The Worker's fetch() reaches the lifeline nodes of this test on 127.0.0.1.
    (name = "lab", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ ${modules.join(',\n    ')} ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "lab",
);
`);
  workerd = spawn(bin('workerd'), ['serve', 'config.capnp'], { cwd: project, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  workerd.stderr.on('data', (c) => { stderr += c; });
  workerdUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { await fetch(workerdUrl); break; } catch (e) {
      if (i > 200 || workerd.exitCode !== null) throw new Error(`workerd did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});

after(() => {
  workerd?.kill();
  lifeline?.child.kill('SIGKILL');
});

// ---- a real lifeline node for the Worker's Client ---------------------------------------
const admin = 'll_npm-runtimes-test-admin-token-0123456789abcdef';
let lifeline;

before(async () => {
  const { child, url, call } = await startLifeline(admin);
  assert.equal((await call('POST', '/api/v1/products', { id: 'app', name: 'App' }))[0], 201);
  const [status, license] = await call('POST', '/api/v1/licenses', { product: 'app', licensee: 'edge-customer', expires_at: 4102444800, entitlements: ['pro'] });
  assert.equal(status, 201);
  const [, viewer] = await call('POST', '/api/v1/tokens', { name: 'workerd edge', role: 'viewer' });
  const keys = await (await fetch(`${url}/.well-known/lifeline/keys.json`)).json();
  lifeline = { child, url, call, license, viewer: viewer.token, keys };
});

test('workerd: every vector gives the native verdict inside a Worker', async () => {
  const res = await fetch(`${workerdUrl}/suite`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), expected());
});

test('workerd: the README Worker lets a licensed request through and refuses others', async () => {
  const [, valid] = licenseVectors().find(([n]) => n === 'valid');
  const ok = await fetch(workerdUrl, { headers: { 'x-license': valid.token } });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /^welcome, /);
  const refused = await fetch(workerdUrl, { headers: { 'x-license': valid.token.slice(0, -4) + 'AAAA' } });
  assert.equal(refused.status, 402);
  assert.match(await refused.text(), /license required: bad_signature/);
  const none = await fetch(workerdUrl);
  assert.equal(none.status, 402);
});

test('workerd: a Client fails over from a dead node to a live one, gets its lease and posts telemetry', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const res = await fetch(`${workerdUrl}/client`, {
    method: 'POST',
    body: JSON.stringify({ nodes: [dead, lifeline.url], keys: lifeline.keys, token: lifeline.license.token, viewer: lifeline.viewer }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const { verdict, telemetry } = JSON.parse(text);
  assert.equal(verdict.state, 'valid', text);
  assert.equal(verdict.claims.sub, 'edge-customer');
  assert.equal(telemetry.delivered, true, text);
  // The node counted the Worker's validation and its telemetry.
  const [, metrics] = await lifeline.call('GET', '/metrics');
  assert.match(metrics, /lifeline_edge_verdicts_total\{[^}]*service="workerd-edge"[^}]*\} 1/);
});
