// The verify-only entry, `@lifeline/verifier/lite`: loaded as users load it (require, import,
// initSync from the web build), and held to the very verdicts of the full package and of the
// native core over every license vector and the whole token fuzz corpus. Needs `make npm` and
// the `fuzz-verdicts` binary (`make npm-test` builds both).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { installPackage, licenseVectors, camel, packageDir, repo } from './harness.mjs';

let project;
let lite;
let full;
before(() => {
  project = installPackage();
  const require = createRequire(path.join(project, 'index.js'));
  lite = require('@lifeline/verifier/lite');
  full = require('@lifeline/verifier');
});

const [, valid] = licenseVectors().find(([n]) => n === 'valid');

function run(file, source) {
  fs.writeFileSync(path.join(project, file), source);
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8' }));
}

test('the lite entry loads with require, import and initSync, and exports Verifier only', () => {
  assert.deepEqual(Object.keys(lite).filter((k) => !k.startsWith('__')), ['Verifier']);
  const expected = camel(valid.verdict);
  for (const [file, source] of [
    ['lite.cjs', `const { Verifier } = require('@lifeline/verifier/lite');`],
    ['lite.mjs', `import { Verifier } from '@lifeline/verifier/lite';`],
    ['lite-sync.mjs', `
      import fs from 'node:fs';
      import { createRequire } from 'node:module';
      import { initSync, Verifier } from '@lifeline/verifier/lite/web';
      const wasmPath = createRequire(import.meta.url).resolve('@lifeline/verifier/lite/lifeline_wasm_lite_bg.wasm');
      initSync({ module: new WebAssembly.Module(fs.readFileSync(wasmPath)) });`],
  ]) {
    const out = run(file, `${source}
      const v = ${JSON.stringify(valid)};
      console.log(JSON.stringify(new Verifier(v.keys).verify(v.token, v.now * 1000)));`);
    assert.deepEqual(out, expected, file);
  }
});

test('every vector: the lite verdict is the full package\'s and the native one', () => {
  let count = 0;
  for (const [name, v] of licenseVectors()) {
    const options = v.audience ? { audience: v.audience } : undefined;
    const small = new lite.Verifier(v.keys, options);
    const big = new full.Verifier(v.keys, options);
    const expected = camel(v.verdict);
    const got = small.verify(v.token, v.now * 1000);
    assert.deepEqual(got, expected, name);
    assert.deepEqual(got, big.verify(v.token, v.now * 1000), `${name}: lite and full`);
    assert.deepEqual(small.verify(v.token, v.now * 1000), expected, `${name} (cached)`);
    assert.deepEqual(small.verifyMany([v.token, v.token], v.now * 1000), [expected, expected], `${name} (many)`);
    count++;
  }
  assert.ok(count > 10, `only ${count} vectors`);
});

test('the whole token fuzz corpus: lite verdicts are the native ones', () => {
  const bin = process.env.FUZZ_VERDICTS_BIN || path.join(repo, 'target/debug/fuzz-verdicts');
  const native = JSON.parse(execFileSync(bin, [path.join(repo, 'fuzz/corpus')], { encoding: 'utf8', maxBuffer: 1 << 30 }));
  // One verifier for all (its keys' tables of multiples get built, as in a long-lived app),
  // and verifyMany over the same tokens in one call.
  const verifier = new lite.Verifier(native.keys, { audience: native.audience, cacheSize: 0 });
  const differ = [];
  for (const c of native.cases) {
    const got = verifier.verify(c.token, native.now * 1000);
    try {
      assert.deepEqual(got, camel(c.verdict));
    } catch {
      differ.push(`${c.target}/${c.file}: native ${JSON.stringify(c.verdict)} lite ${JSON.stringify(got)}`);
    }
  }
  const many = new lite.Verifier(native.keys, { audience: native.audience })
    .verifyMany(native.cases.map((c) => c.token), native.now * 1000);
  many.forEach((got, i) => {
    try {
      assert.deepEqual(got, camel(native.cases[i].verdict));
    } catch {
      differ.push(`${native.cases[i].file} (verifyMany)`);
    }
  });
  assert.deepEqual(differ, [], `${differ.length} verdicts differ`);
  assert.ok(native.cases.length > 1000 && native.cases.some((c) => c.verdict.state === 'valid'));
});

test('bad arguments throw coded Errors; bad tokens get verdicts', () => {
  assert.throws(() => new lite.Verifier('{"keys": 1}'), (e) => e.code === 'malformed_key_set');
  assert.throws(() => new lite.Verifier(42), (e) => e.code === 'malformed_key_set');
  for (const options of [{ audience: 7 }, { leewaySeconds: -1 }, { leewaySeconds: 1.5 }, { cacheSize: 'big' }, { cacheSize: 2 ** 40 }]) {
    assert.throws(() => new lite.Verifier(valid.keys, options), (e) => e.code === 'invalid_options', JSON.stringify(options));
  }
  const verifier = new lite.Verifier(valid.keys, { audience: null, leewaySeconds: 0, cacheSize: 0 });
  assert.throws(() => verifier.verify(valid.token, Number.NaN), (e) => e.code === 'invalid_time');
  assert.throws(() => verifier.verify(valid.token, -1), (e) => e.code === 'invalid_time');
  for (const bad of [12, null, undefined, {}, ['x']]) {
    assert.throws(() => verifier.verify(bad), (e) => e.code === 'invalid_argument', String(bad));
  }
  assert.throws(() => verifier.verifyMany(valid.token), (e) => e.code === 'invalid_argument');
  assert.throws(() => verifier.verifyMany([valid.token, 3]), (e) => e.code === 'invalid_argument');
  assert.equal(verifier.verify('', valid.now * 1000).reason, 'malformed');
  assert.equal(verifier.verify('a.b.c', valid.now * 1000).state, 'invalid');
  assert.equal(verifier.verify(valid.token, valid.now * 1000).state, 'valid');
});

test('size.json names both entries; the lite one is the smaller', () => {
  const size = JSON.parse(fs.readFileSync(path.join(packageDir, 'size.json'), 'utf8'));
  assert.ok(size.lite.gzip_bytes > 0 && size.lite.gzip_bytes < size.gzip_bytes, JSON.stringify(size));
});
