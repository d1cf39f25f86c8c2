// Every vector of tests/vectors/licenses through the package in the browser (verify, again
// from the cache, verifyMany), under the strict policy; the test compares with the native core.
import init, * as lib from '/node_modules/@lifeline/verifier/web/lifeline_wasm.js';
import { suite } from '/suite.mjs';

const out = document.getElementById('out');
try {
  await init();
  const vectors = await (await fetch('/vectors.json')).json();
  out.textContent = JSON.stringify(suite(lib, vectors));
} catch (e) {
  out.textContent = JSON.stringify({ error: String(e) });
}
