import type { LeaseCache } from './lifeline_wasm.js';
/** A LeaseCache in a JSON file (Node): atomic writes, mode 0600; a corrupted file reads as empty. */
export declare function fileCache(path: string): LeaseCache;
