// The entry for Cloudflare Workers and workerd (export conditions "workerd" and "worker"):
// Workers cannot compile WebAssembly from bytes at run time, so the .wasm is imported as a
// module (what Wrangler and workerd hand over: a WebAssembly.Module) and the verifier is
// initialised synchronously when this module loads. Nothing to call before `new Verifier`.
import wasm from './lifeline_wasm_bg.wasm';
import { initSync } from './lifeline_wasm.js';

initSync({ module: wasm });

export * from './lifeline_wasm.js';
