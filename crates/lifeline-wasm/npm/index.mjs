// Node ESM entry: the CommonJS build, re-exported as named ES exports.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wasm = require('./lifeline_wasm.js');

export const { Verifier, Client, inspect } = wasm;
export default wasm;
