// Node ESM entry of @lifeline/verifier/lite: the CommonJS build, re-exported as named ES exports.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wasm = require('./lifeline_wasm_lite.js');

export const { Verifier } = wasm;
export default wasm;
