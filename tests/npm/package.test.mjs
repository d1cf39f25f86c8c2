// The package as Node users load it: require(), import, and the synchronous initialisation
// an edge worker uses. Needs `make npm` first (the Makefile's npm-test target does both).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { installPackage, licenseVectors, camel, repo } from './harness.mjs';

let project;
let lib;
before(() => {
  project = installPackage();
  lib = createRequire(path.join(project, 'index.js'))('@lifeline/verifier');
});

function run(file, source) {
  fs.writeFileSync(path.join(project, file), source);
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' }));
}

const [, valid] = licenseVectors().find(([n]) => n === 'valid');

test('require() in CommonJS', () => {
  const out = run('app.cjs', `
    const { Verifier } = require('@lifeline/verifier');
    const v = ${JSON.stringify(valid)};
    console.log(JSON.stringify(new Verifier(v.keys).verify(v.token, v.now * 1000)));`);
  assert.deepEqual(out, camel(valid.verdict));
});

test('import in Node ESM', () => {
  const out = run('app.mjs', `
    import { Verifier, inspect } from '@lifeline/verifier';
    const v = ${JSON.stringify(valid)};
    console.log(JSON.stringify({ verdict: new Verifier(v.keys).verify(v.token, v.now * 1000), header: inspect(v.token).header }));`);
  assert.deepEqual(out.verdict, camel(valid.verdict));
  assert.equal(out.header.typ, 'lifeline-license+jwt');
});

test('edge/module worker style: initSync from a compiled WebAssembly.Module', () => {
  const out = run('worker.mjs', `
    import fs from 'node:fs';
    import { createRequire } from 'node:module';
    import { initSync, Verifier } from '@lifeline/verifier/web';
    const wasmPath = createRequire(import.meta.url).resolve('@lifeline/verifier/lifeline_wasm_bg.wasm');
    initSync({ module: new WebAssembly.Module(fs.readFileSync(wasmPath)) });
    const v = ${JSON.stringify(valid)};
    console.log(JSON.stringify(new Verifier(v.keys).verify(v.token, v.now * 1000)));`);
  assert.deepEqual(out, camel(valid.verdict));
});

test('every vector gives the native verdict, one by one and through verifyMany', () => {
  for (const [name, v] of licenseVectors()) {
    const verifier = new lib.Verifier(v.keys, v.audience ? { audience: v.audience } : undefined);
    const expected = camel(v.verdict);
    assert.deepEqual(verifier.verify(v.token, v.now * 1000), expected, name);
    assert.deepEqual(verifier.verify(v.token, v.now * 1000), expected, `${name} (cached)`);
    assert.deepEqual(verifier.verifyMany([v.token, v.token], v.now * 1000), [expected, expected], `${name} (many)`);
  }
});

test('a tampered token is refused; bad keys throw a coded Error', () => {
  const verifier = new lib.Verifier(valid.keys);
  const [h, p, s] = valid.token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[0] ^= 0x80;
  const verdict = verifier.verify(`${h}.${p}.${sig.toString('base64url')}`, valid.now * 1000);
  assert.equal(verdict.state, 'invalid');
  assert.equal(verdict.reason, 'bad_signature');
  assert.equal(verdict.claims, null);
  assert.throws(() => new lib.Verifier('{"keys": 1}'), (e) => e instanceof Error && e.code === 'malformed_key_set');
  assert.throws(() => lib.inspect('x'), (e) => e.code === 'malformed');
});

test('a token that is not a string throws a coded Error; any string gets a verdict', () => {
  const verifier = new lib.Verifier(valid.keys);
  for (const bad of [12, null, undefined, {}, ['x'], Buffer.from(valid.token)]) {
    assert.throws(() => verifier.verify(bad), (e) => e.code === 'invalid_argument', String(bad));
  }
  assert.throws(() => verifier.verifyMany(valid.token), (e) => e.code === 'invalid_argument');
  assert.throws(() => verifier.verifyMany([valid.token, 3]), (e) => e.code === 'invalid_argument');
  // Non-ASCII text (UTF-16 in JS, UTF-8 in WASM) and the empty string are malformed tokens.
  for (const text of ['', 'é.😀.\u0000', `${valid.token}é`, '\ud800']) {
    assert.equal(verifier.verify(text, valid.now * 1000).reason, 'malformed', JSON.stringify(text));
  }
  // The buffer that receives tokens is reused: a long token, then a short one.
  assert.equal(verifier.verifyMany([`${valid.token}${'x'.repeat(5000)}`, valid.token], valid.now * 1000)[1].state, 'valid');
});

test('a token signed by Node crypto.sign (an independent signer) verifies', () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'node' };
  const now = Math.floor(Date.now() / 1000);
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ alg: 'EdDSA', typ: 'lifeline-license+jwt', kid: 'node' })}.${enc({ iss: 'n', sub: 's', aud: 'app', jti: 'j', iat: now, exp: now + 60, entitlements: ['x'] })}`;
  const token = `${input}.${crypto.sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
  const verifier = new lib.Verifier({ keys: [jwk] }, { audience: 'app' });
  const verdict = verifier.verify(token);
  assert.equal(verdict.state, 'valid', verdict.detail);
  assert.deepEqual(verdict.claims.entitlements, ['x']);
});

test('stats, metricsText and onVerdict', () => {
  const seen = [];
  const verifier = new lib.Verifier(valid.keys, { onVerdict: (v) => seen.push(v.state) });
  verifier.verify(valid.token, valid.now * 1000);
  verifier.verify('nope', valid.now * 1000);
  assert.deepEqual(seen, ['valid', 'invalid']);
  const stats = verifier.stats();
  assert.equal(stats.count, 2);
  assert.deepEqual(stats.byReason, { malformed: 1 });
  assert.match(verifier.metricsText(), /lifeline_verifier_verdicts_total\{state="valid"\} 1\n/);
});

test('the package ships TypeScript types for both builds', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(project, 'node_modules/@lifeline/verifier/package.json'), 'utf8'));
  for (const types of [pkg.exports['.'].node.types, pkg.exports['.'].types]) {
    const dts = fs.readFileSync(path.join(project, 'node_modules/@lifeline/verifier', types), 'utf8');
    assert.match(dts, /export interface Verdict/);
    assert.match(dts, /verifyMany\(tokens: string\[\]/);
  }
});

test('the package carries the license text and the workspace license', () => {
  const installed = path.join(project, 'node_modules/@lifeline/verifier');
  const pkg = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  const workspace = fs.readFileSync(path.join(repo, 'Cargo.toml'), 'utf8');
  const declared = /^\[workspace\.package\][^[]*?^license = "([^"]+)"/m.exec(workspace)?.[1];
  assert.equal(declared, 'Apache-2.0', 'the workspace declares its license');
  assert.equal(pkg.license, declared, 'package.json names the workspace license');
  // What `npm pack` puts in the tarball (the installed copy above came from it).
  const text = fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8');
  assert.equal(text, fs.readFileSync(path.join(repo, 'LICENSE'), 'utf8'));
  assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
});

test('no code is compiled from strings anywhere in the package (Workers and strict CSP forbid it)', () => {
  const installed = path.join(project, 'node_modules/@lifeline/verifier');
  const files = fs.readdirSync(installed, { recursive: true }).filter((f) => /\.(m|c)?js$/.test(f));
  assert.ok(files.length >= 5, files.join(', '));
  for (const file of files) {
    const text = fs.readFileSync(path.join(installed, file), 'utf8');
    assert.doesNotMatch(text, /\bnew Function\s*\(|\beval\s*\(|setTimeout\s*\(\s*['"`]/, file);
  }
});
