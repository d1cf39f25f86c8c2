// Field telemetry from the npm package against a real `lifeline serve` process on 127.0.0.1
// (SQLite): `verifier.telemetryReport(...)` is the body of POST /api/v1/telemetry and the
// server aggregates it; the Client posts its checks' verdicts in batches; a refused or
// undeliverable post is counted, never thrown, never a verdict.
// Needs `make npm` and the lifeline binary (LIFELINE_BIN); `make npm-test` provides both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { installPackage, repo } from './harness.mjs';

const bin = process.env.LIFELINE_BIN || path.join(repo, 'target/debug/lifeline');
const admin = 'll_npm-telemetry-test-admin-token-0123456789abcdef';
const wrong = 'll_npm-telemetry-wrong-token-0123456789abcdef';
let lib;
let server;
let url;
let keys;
let license;
let viewer;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function api(route, body) {
  const r = await fetch(`${url}${route}`, { method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  return [r.status, await r.json()];
}

/** One sample of the server's /metrics (0 when absent). */
async function metric(sample) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

const edge = (service, state) => metric(`lifeline_edge_verdicts_total{service="${service}",state="${state}"}`);

before(async () => {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: cargo build -p lifeline-cli`);
  const project = installPackage();
  lib = createRequire(path.join(project, 'index.js'))('@lifeline/verifier');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-telemetry-'));
  const port = await freePort();
  server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'data')],
    { env: { ...process.env, LIFELINE_ADMIN_TOKEN: admin }, stdio: 'ignore' });
  url = `http://127.0.0.1:${port}`;
  for (let t = 0; ; t++) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch { /* not up yet */ }
    if (t > 600) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await api('/api/v1/products', { id: 'app', name: 'App' }))[0], 201);
  const [status, issued] = await api('/api/v1/licenses', { product: 'app', licensee: 'acme', expires_at: 4102444800, entitlements: ['pro'] });
  assert.equal(status, 201);
  license = issued.token;
  keys = await (await fetch(`${url}/.well-known/lifeline/keys.json`)).json();
  const [s, token] = await api('/api/v1/tokens', { name: 'edge', role: 'viewer' });
  assert.equal(s, 201);
  viewer = token.token;
});

after(() => server?.kill('SIGKILL'));

test('verifier.telemetryReport is the body the server aggregates, and drains', async () => {
  const verifier = new lib.Verifier(keys, { audience: 'app' });
  for (let i = 0; i < 3; i++) assert.equal(verifier.verify(license).state, 'valid');
  assert.equal(verifier.verify(`${license}x`).state, 'invalid');
  assert.equal(verifier.verify(license, Date.UTC(2200, 0, 1)).reason, 'expired');
  const report = verifier.telemetryReport({ service: 'js-edge', instance: 'tab-1' });
  assert.equal(report.count, 5);
  assert.deepEqual(report.by_state, { valid: 3, invalid: 2 });
  assert.equal(report.by_reason.expired, 1);
  assert.equal(report.latency_buckets.length, report.latency_bounds_seconds.length + 1);
  assert.equal(report.latency_buckets.at(-1), 5);
  assert.equal(report.cumulative, false);
  assert.ok(report.window_start <= report.window_end && report.window_end <= Date.now() / 1000 + 1);
  // Drained: the next report is empty; stats() still counts since construction.
  assert.equal(verifier.telemetryReport({ service: 'js-edge', instance: 'tab-1' }).count, 0);
  assert.equal(verifier.stats().count, 5);

  const r = await fetch(`${url}/api/v1/telemetry`, { method: 'POST', headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' }, body: JSON.stringify(report) });
  assert.equal(r.status, 202);
  assert.deepEqual(await r.json(), { counted: 5 });
  assert.equal(await edge('js-edge', 'valid'), 3);
  assert.equal(await edge('js-edge', 'invalid'), 2);
  assert.equal(await metric('lifeline_edge_reasons_total{service="js-edge",reason="expired"}'), 1);
  const [, overview] = await api('/api/v1/overview');
  assert.deepEqual(overview.services.find((s) => s.service === 'js-edge')?.instances, 1);
});

test('telemetryReport refuses names the server would refuse, keeping the batch', () => {
  const verifier = new lib.Verifier(keys);
  verifier.verify(license);
  assert.throws(() => verifier.telemetryReport({ service: 'a b' }), (e) => e.code === 'invalid_name');
  assert.throws(() => verifier.telemetryReport({ service: 'ok', instance: 'x'.repeat(129) }), (e) => e.code === 'invalid_name');
  assert.throws(() => verifier.telemetryReport({}), (e) => e.code === 'invalid_options');
  assert.throws(() => verifier.telemetryReport(null), (e) => e.code === 'invalid_options');
  // The default instance is this Verifier's random id, and the verdict is still there.
  const report = verifier.telemetryReport({ service: 'ok' });
  assert.match(report.instance, /^js-[0-9a-f]{12}$/);
  assert.equal(report.count, 1);
});

function client(extra = {}) {
  return new lib.Client({ nodes: [url], keys, licenseToken: license, timeoutMs: 1000, deadlineMs: 2000, ...extra });
}

test('the Client posts its checks in batches: every everyMs after a check, and on sendTelemetry()', async () => {
  // Never due on its own: one batch on demand.
  const c = client({ instance: 'pod-1', telemetry: { token: viewer, service: 'js-client', everyMs: 3_600_000 } });
  for (let i = 0; i < 3; i++) assert.equal((await c.check()).state, 'valid');
  const status = await c.sendTelemetry();
  assert.deepEqual(status, { delivered: true, posted: 1, failed: 0, verdictsSent: 3, pending: 0, lastError: null });
  assert.equal(await edge('js-client', 'valid'), 3);
  assert.equal((await c.sendTelemetry()).delivered, false, 'nothing left to send');

  // everyMs 0: a background post after checks, none awaited by check().
  const auto = client({ telemetry: { token: viewer, service: 'js-auto', everyMs: 0 } });
  for (let i = 0; i < 4; i++) {
    assert.equal((await auto.check()).state, 'valid');
    await new Promise((r) => setTimeout(r, 150));
  }
  const last = await auto.sendTelemetry();
  assert.equal(last.failed, 0);
  assert.equal(last.pending, 0);
  assert.equal(last.verdictsSent, 4);
  assert.ok(last.posted >= 2, `posted in batches: ${JSON.stringify(last)}`);
  assert.equal(await edge('js-auto', 'valid'), 4);
  const [, overview] = await api('/api/v1/overview');
  const seen = Object.fromEntries(overview.services.map((s) => [s.service, s.instances]));
  assert.equal(seen['js-client'], 1);
  assert.equal(seen['js-auto'], 1);
});

test('a refused or undeliverable post changes no verdict and is counted, never thrown', async () => {
  const refused = client({ telemetry: { token: wrong, service: 'js-refused', everyMs: 0 } });
  for (let i = 0; i < 2; i++) assert.equal((await refused.check()).state, 'valid');
  await new Promise((r) => setTimeout(r, 200));
  const status = await refused.sendTelemetry();
  assert.equal(status.posted, 0);
  assert.ok(status.failed >= 1, JSON.stringify(status));
  assert.match(status.lastError, /HTTP 401/);
  assert.ok(!JSON.stringify(status).includes(wrong), 'the token is never in the status');
  assert.equal(status.pending, 0, 'a 401 will not pass: dropped, not retried forever');
  assert.equal(await edge('js-refused', 'valid'), 0);

  // Nowhere to post: kept for the next post, which delivers once the server is back.
  const dead = `http://127.0.0.1:${await freePort()}`;
  const away = client({ telemetry: { token: viewer, service: 'js-away', url: dead, everyMs: 3_600_000 } });
  assert.equal((await away.check()).state, 'valid');
  const kept = await away.sendTelemetry();
  assert.equal(kept.delivered, false);
  assert.match(kept.lastError, /no node reachable/);
  assert.ok(!kept.lastError.includes(viewer));
  assert.equal(kept.pending, 1);

  // Without the option: sendTelemetry rejects with a code; bad options throw.
  await assert.rejects(client().sendTelemetry(), (e) => e.code === 'telemetry_disabled');
  for (const telemetry of [{ service: 'x' }, { token: viewer }, { token: viewer, service: 'a b' }, { token: viewer, service: 'x', everyMs: -1 }, 'yes']) {
    assert.throws(() => client({ telemetry }), (e) => e.code === 'invalid_options', JSON.stringify(telemetry));
  }
});

test('the package types declare the telemetry API', () => {
  const dts = fs.readFileSync(path.join(repo, 'dist/npm/node/lifeline_wasm.d.ts'), 'utf8');
  assert.match(dts, /telemetryReport\(options: TelemetryOptions, nowMs\?: number \| null\): TelemetryReport;/);
  assert.match(dts, /sendTelemetry\(\): Promise<TelemetryStatus>;/);
  for (const name of ['TelemetryOptions', 'TelemetryReport', 'ClientTelemetryOptions', 'TelemetryStatus']) {
    assert.match(dts, new RegExp(`export interface ${name} \\{`));
  }
  assert.match(dts, /telemetry\?: ClientTelemetryOptions;/);
});
