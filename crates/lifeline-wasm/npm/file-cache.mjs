// ESM entry of the Node file cache (see file-cache.cjs).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const { fileCache } = require('./file-cache.cjs');
