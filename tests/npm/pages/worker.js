// A module worker that initialises the verifier synchronously from a compiled module, as
// edge workers do with `import wasm from '…/lifeline_wasm_bg.wasm'`.
import { initSync, Verifier } from '/node_modules/@lifeline/verifier/web/lifeline_wasm.js';

try {
  const module = await WebAssembly.compileStreaming(fetch('/node_modules/@lifeline/verifier/web/lifeline_wasm_bg.wasm'));
  initSync({ module });
  const { token, keys, now } = await (await fetch('/fixture.json')).json();
  postMessage(new Verifier(keys).verify(token, now * 1000));
} catch (e) {
  postMessage({ error: String(e) });
}
