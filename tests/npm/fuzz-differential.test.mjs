// Differential check: the WASM verifier (the npm package as users install it) gives exactly
// the native core's verdict for every input of the token fuzz targets' committed corpora
// (fuzz/corpus/token_raw, fuzz/corpus/token_structured). The native verdicts come from the
// `fuzz-verdicts` binary (tests/fuzz_verdicts.rs: fixed key set, time and audience, the same
// token decoding as the fuzz targets). Needs `make npm` and that binary; `make npm-test`
// builds both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { installPackage, camel, repo } from './harness.mjs';

const bin = process.env.FUZZ_VERDICTS_BIN || path.join(repo, 'target/debug/fuzz-verdicts');

test('native and WASM verdicts are identical over the whole token fuzz corpus', () => {
  assert.ok(fs.existsSync(bin), `${bin} is missing: cargo build -p lifeline-tests --bin fuzz-verdicts`);
  const native = JSON.parse(execFileSync(bin, [path.join(repo, 'fuzz/corpus')], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  }));
  const corpusFiles = ['token_raw', 'token_structured']
    .map((t) => fs.readdirSync(path.join(repo, 'fuzz/corpus', t)).length)
    .reduce((a, b) => a + b, 0);
  assert.equal(native.cases.length, corpusFiles, 'one native verdict per corpus file');
  assert.ok(native.cases.length > 0, 'the corpus is not empty');

  const project = installPackage();
  const lib = createRequire(path.join(project, 'index.js'))('@lifeline/verifier');
  const verifier = new lib.Verifier(native.keys, { audience: native.audience });
  const fresh = () => new lib.Verifier(native.keys, { audience: native.audience });
  const differ = [];
  const states = {};
  for (const c of native.cases) {
    const expected = camel(c.verdict);
    // Through the cached verifier (as an app uses it), and through a fresh one.
    const got = verifier.verify(c.token, native.now * 1000);
    try {
      assert.deepEqual(got, expected);
      assert.deepEqual(fresh().verify(c.token, native.now * 1000), expected);
    } catch (e) {
      differ.push(`${c.target}/${c.file}: native ${JSON.stringify(expected)} wasm ${JSON.stringify(got)}`);
    }
    // inspect() decodes without verifying: for every input it either shows the token or
    // refuses it with a typed code, never an `internal` error.
    try {
      lib.inspect(c.token);
    } catch (e) {
      if (e.code === 'internal' || !e.code) differ.push(`${c.target}/${c.file}: inspect threw ${e.code}: ${e.message}`);
    }
    const key = `${c.verdict.state}/${c.verdict.reason}`;
    states[key] = (states[key] || 0) + 1;
  }
  console.log(`fuzz differential: ${native.cases.length} corpus inputs compared; verdicts ${JSON.stringify(states)}`);
  assert.deepEqual(differ, [], `${differ.length} of ${native.cases.length} verdicts differ`);
  // The corpus must reach past the signature, or the comparison proves little.
  assert.ok(native.cases.some((c) => c.verdict.state === 'valid'), 'some corpus token is valid');
  assert.ok(native.cases.some((c) => c.verdict.claims && c.verdict.state === 'invalid'), 'some authentic token is refused');
  // Regression (found by this check): an authentic license with an integer claim beyond
  // 2^53 made the WASM verifier throw an `internal` Error instead of giving the verdict.
  const big = (v) => (typeof v === 'number' ? !Number.isSafeInteger(v) && Number.isInteger(v)
    : v !== null && typeof v === 'object' && Object.values(v).some(big));
  assert.ok(native.cases.some((c) => c.verdict.claims && big(c.verdict.claims)), 'the corpus holds an authentic license with an integer claim beyond 2^53');
});
