// The npm package's validation Client against real `lifeline serve` processes on 127.0.0.1
// (three nodes over one SQLite store): a node SIGKILLed under a stream of checks, every node
// down (offline, then the grace runs out), a node answering garbage, a corrupted file cache.
// Needs `make npm` and the lifeline binary (LIFELINE_BIN); `make npm-test` provides both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { installPackage, repo } from './harness.mjs';

const bin = process.env.LIFELINE_BIN || path.join(repo, 'target/debug/lifeline');
const admin = 'll_npm-client-test-admin-token-0123456789abcdef';
let lib;
let fileCache;
let dir;
const nodes = [];
let keys;
let license;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startNode(i) {
  const port = await freePort();
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, `node${i}`),
    '--db', `sqlite://${path.join(dir, 'shared.db')}`], { env: { ...process.env, LIFELINE_ADMIN_TOKEN: admin }, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let t = 0; t < 600; t++) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { child, url };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`node ${i} did not start`);
}

async function api(url, route, body) {
  const r = await fetch(`${url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return [r.status, await r.json()];
}

before(async () => {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: cargo build -p lifeline-cli`);
  const project = installPackage();
  const require = createRequire(path.join(project, 'index.js'));
  lib = require('@lifeline/verifier');
  ({ fileCache } = require('@lifeline/verifier/file-cache'));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-client-'));
  for (let i = 0; i < 3; i++) nodes.push(await startNode(i));
  assert.equal((await api(nodes[0].url, '/api/v1/products', { id: 'app', name: 'App' }))[0], 201);
  const [status, issued] = await api(nodes[0].url, '/api/v1/licenses', { product: 'app', licensee: 'acme', expires_at: 4102444800, entitlements: ['pro'] });
  assert.equal(status, 201);
  license = issued;
  keys = await (await fetch(`${nodes[0].url}/.well-known/lifeline/keys.json`)).json();
});

after(() => {
  for (const n of nodes) n.child.kill('SIGKILL');
});

function client(urls, extra = {}) {
  return new lib.Client({ nodes: urls, keys, licenseToken: license.token, timeoutMs: 500, deadlineMs: 2000, ...extra });
}

test('bad options throw coded errors', () => {
  for (const bad of [{}, { nodes: [], keys, licenseToken: 'x' }, { nodes: ['http://x'], keys, licenseToken: 'x', cache: 42 },
    { nodes: ['http://x'], keys: { keys: 'no' }, licenseToken: 'x' }, { nodes: ['http://x'], keys, licenseToken: 'x', timeoutMs: -1 }]) {
    assert.throws(() => new lib.Client(bad), (e) => typeof e.code === 'string', JSON.stringify(bad));
  }
});

test('a seat: held, refused when taken, released, restored from the cache with every node down', async () => {
  const [status, seated] = await api(nodes[0].url, '/api/v1/licenses', { product: 'app', licensee: 'seated', expires_at: 4102444800, entitlements: [], seats: 1, seat_mode: 'floating', heartbeat_s: 60 });
  assert.equal(status, 201);
  const urls = nodes.map((n) => n.url);
  const seatClient = (fingerprint, extra = {}) => new lib.Client({ nodes: urls, keys, licenseToken: seated.token, timeoutMs: 500, deadlineMs: 2000, seat: { fingerprint, name: `box ${fingerprint}` }, ...extra });
  const a = seatClient('machine-a', { cache: fileCache(path.join(dir, 'seat-a.json')) });
  const first = await a.check();
  assert.equal(first.state, 'valid');
  assert.equal(first.seat.state, 'held');
  assert.equal(first.seat.usable, true);
  assert.ok(first.seat.until > Date.now() / 1000 + 50, JSON.stringify(first.seat));
  const b = seatClient('machine-b');
  const refused = await b.check();
  assert.equal(refused.state, 'valid', 'the license itself is fine');
  assert.deepEqual({ state: refused.seat.state, reason: refused.seat.reason, usable: refused.seat.usable }, { state: 'refused', reason: 'seats_exhausted', usable: false });
  // Another Client of machine a, every node down: the cached seat lease still holds.
  const dead = `http://127.0.0.1:${await freePort()}`;
  const offline = new lib.Client({ nodes: [dead], keys, licenseToken: seated.token, timeoutMs: 300, deadlineMs: 600, cache: fileCache(path.join(dir, 'seat-a.json')), seat: { fingerprint: 'machine-a' } });
  const held = await offline.check();
  assert.equal(held.seat.state, 'held');
  assert.equal(held.seat.seatId, first.seat.seatId);
  // Released: the seat is free for machine b.
  assert.equal(await a.release(), true);
  assert.equal((await b.check()).seat.state, 'held');
  assert.equal(await b.release(), true);
  // Without the seat option there is nothing to release.
  await assert.rejects(client(urls).release(), (e) => e.code === 'seat_disabled');
  for (const bad of [{ seat: 7 }, { seat: { fingerprint: '' } }, { seat: { fingerprint: 'x'.repeat(257) } }]) {
    assert.throws(() => client(urls, bad), (e) => e.code === 'invalid_options', JSON.stringify(bad));
  }
});

test('a seat without a fingerprint uses a hash of the machine id and host name in Node', async () => {
  const [status, seated] = await api(nodes[0].url, '/api/v1/licenses', { product: 'app', licensee: 'default-fp', expires_at: 4102444800, entitlements: [], seats: 2 });
  assert.equal(status, 201);
  const c = new lib.Client({ nodes: nodes.map((n) => n.url), keys, licenseToken: seated.token, timeoutMs: 500, seat: true });
  const v = await c.check();
  assert.equal(v.seat.state, 'held', JSON.stringify(v.seat));
  const crypto = await import('node:crypto');
  const machineId = ['/etc/machine-id', '/var/lib/dbus/machine-id'].map((p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch { return null; } }).find((x) => x != null) ?? '';
  const fingerprint = crypto.createHash('sha256').update(`${machineId}\0${os.hostname()}`).digest('hex');
  // The same machine asking again with that fingerprint gets the same seat.
  const again = new lib.Client({ nodes: nodes.map((n) => n.url), keys, licenseToken: seated.token, timeoutMs: 500, seat: { fingerprint } });
  assert.equal((await again.check()).seat.seatId, v.seat.seatId);
  assert.equal(await c.release(), true);
});

test('a node SIGKILLed under a steady stream of checks fails no check', async () => {
  const c = client(nodes.map((n) => n.url), { cache: fileCache(path.join(dir, 'stream.json')) });
  const states = [];
  for (let i = 0; i < 30; i++) {
    if (i === 10) nodes[0].child.kill('SIGKILL');
    states.push((await c.check()).state);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual([...new Set(states)], ['valid']);
});

test('a node answering garbage is a node failure, never a verdict', async () => {
  const garbage = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"verdict":{"state":"invalid","reason":"revoked"},'); });
  await new Promise((r) => garbage.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${garbage.address().port}`;
  try {
    const v = await client([url, nodes[1].url]).check();
    assert.equal(v.state, 'valid');
  } finally {
    garbage.close();
  }
});

test('every node down: offline from the cached lease, then the grace runs out', async () => {
  const cacheFile = path.join(dir, 'offline.json');
  const urls = [nodes[1].url, nodes[2].url];
  assert.equal((await client(urls, { cache: fileCache(cacheFile) }).check()).state, 'valid');
  const dead = `http://127.0.0.1:${await freePort()}`;
  const c = client([dead], { cache: fileCache(cacheFile), offlineGraceSeconds: 2, deadlineMs: 600 });
  const offline = await c.check();
  assert.equal(offline.state, 'offline');
  assert.equal(offline.reason, 'offline');
  await new Promise((r) => setTimeout(r, 2200));
  const gone = await c.check();
  assert.equal(gone.state, 'invalid');
  assert.equal(gone.reason, 'offline_grace_exhausted');
});

test('a corrupted file cache is discarded, never trusted, and rebuilt', async () => {
  const cacheFile = path.join(dir, 'corrupt.json');
  fs.writeFileSync(cacheFile, '{"lifeline.lease": "{\\"lease\\": \\"not.a.lease\\", \\"trust\\": {\\"high_water\\": 0, \\"last_seq\\": 0}}"}');
  const dead = `http://127.0.0.1:${await freePort()}`;
  const offline = await client([dead], { cache: fileCache(cacheFile), deadlineMs: 600 }).check();
  assert.equal(offline.reason, 'offline_grace_exhausted');
  fs.writeFileSync(cacheFile, '\u0000garbage');
  const v = await client([nodes[2].url], { cache: fileCache(cacheFile) }).check();
  assert.equal(v.state, 'valid');
  const stored = JSON.parse(JSON.parse(fs.readFileSync(cacheFile, 'utf8'))['lifeline.lease']);
  assert.match(stored.lease, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.equal((fs.statSync(cacheFile).mode & 0o777), 0o600);
});

test('a renewed license reaches the Client at its next check: onLicense, client.license, the cache', async () => {
  const [status, issued] = await api(nodes[1].url, '/api/v1/licenses', { product: 'app', licensee: 'renewing', expires_at: 4102444800, entitlements: ['pro'] });
  assert.equal(status, 201);
  const cacheFile = path.join(dir, 'renew.json');
  const seen = [];
  const c = client([nodes[2].url], {
    licenseToken: issued.token,
    cache: fileCache(cacheFile),
    onLicense: (token, verdict) => seen.push([token, verdict.claims.ver, verdict.expiresAt]),
  });
  assert.equal((await c.check()).state, 'valid');
  assert.deepEqual(seen, [], 'nothing newer yet');
  assert.equal(c.license, issued.token);
  // The vendor renews it on another node; that node's peers read re-signed licenses every second.
  const [st, extended] = await api(nodes[1].url, `/api/v1/licenses/${issued.id}/extend`, { expires_at: 4200000000, reason: 'renewal order 9' });
  assert.equal(st, 200, JSON.stringify(extended));
  let v;
  for (let i = 0; i < 25 && seen.length === 0; i++) {
    v = await c.check();
    if (seen.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(seen, [[extended.token, 1, 4200000000]], 'onLicense once, with the verified renewal');
  assert.equal(v.state, 'valid');
  assert.equal(v.expiresAt, 4200000000);
  assert.equal(c.license, extended.token);
  await c.check();
  assert.equal(seen.length, 1, 'not again: the client now presents the new version');
  // The cache keeps it: a restarted Client handed the old token, every node down, checks the new one.
  const dead = `http://127.0.0.1:${await freePort()}`;
  const restarted = client([dead], { licenseToken: issued.token, cache: fileCache(cacheFile), deadlineMs: 600 });
  const offline = await restarted.check();
  assert.equal(offline.state, 'offline');
  assert.equal(offline.expiresAt, 4200000000);
  assert.equal(restarted.license, extended.token);
  assert.throws(() => client([dead], { onLicense: 'call me' }), (e) => e.code === 'invalid_options');
});

test('the package types declare Client, ClientOptions and LeaseCache', () => {
  const dts = fs.readFileSync(path.join(repo, 'dist/npm/node/lifeline_wasm.d.ts'), 'utf8');
  assert.match(dts, /export class Client/);
  assert.match(dts, /export interface ClientOptions/);
  assert.match(dts, /export interface LeaseCache/);
  assert.match(dts, /check\(\): Promise<Verdict>/);
  assert.match(dts, /export interface SeatOptions/);
  assert.match(dts, /export interface SeatStanding/);
  assert.match(dts, /release\(\): Promise<boolean>/);
  assert.match(dts, /onLicense\?: \(token: string, verdict: Verdict\) => void/);
  assert.match(dts, /readonly license: string;/);
});

// Last: it changes the servers' keys (the tests above share them).
test('after a key leak: the key set marks it, addIssuedList restores its licenses, a bad list is refused', async () => {
  const before = new lib.Verifier(keys);
  assert.equal(before.verify(license.token).state, 'valid');
  const r = await fetch(`${nodes[1].url}/api/v1/keys/${license.kid}/compromise`, {
    method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'npm test: the key leaked', incident: 'INC-NPM' }),
  });
  assert.equal(r.status, 200);
  const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.at(-1).kind, 'done', JSON.stringify(lines.at(-1)));
  const jwks = await (await fetch(`${nodes[1].url}/.well-known/lifeline/keys.json`)).json();
  const leaked = jwks.keys.find((k) => k.kid === license.kid);
  assert.equal(leaked.status, 'compromised');
  const list = await (await fetch(leaked.issued_list.replace(/^https?:\/\/[^/]+/, nodes[1].url))).text();
  const edge = new lib.Verifier(jwks, { audience: 'app' });
  const refused = edge.verify(license.token);
  assert.deepEqual([refused.state, refused.reason], ['invalid', 'key_compromised']);
  assert.throws(() => edge.addIssuedList(`${list.slice(0, -4)}AAAA`), (e) => e.code === 'bad_signature');
  assert.throws(() => edge.addIssuedList(license.token), (e) => e.code === 'wrong_type');
  assert.throws(() => edge.addIssuedList(42), (e) => e.code === 'invalid_argument');
  const info = edge.addIssuedList(list);
  assert.equal(info.kid, license.kid);
  assert.equal(info.signedBy, lines.at(-1).active_kid);
  assert.ok(info.count >= 1);
  assert.equal(edge.verify(license.token).state, 'valid');
  // The Client takes the list as an option; a bad one is an options error.
  const c = client([nodes[2].url], { keys: jwks, issuedLists: [list] });
  assert.equal((await c.check()).state, 'valid');
  assert.throws(() => client([nodes[2].url], { keys: jwks, issuedLists: ['nope'] }), (e) => e.code === 'invalid_options');
});

