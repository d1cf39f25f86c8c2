// A lease cache in a JSON file, for Node: `new Client({ ..., cache: fileCache(path) })`.
// Writes are atomic (temporary file + rename) with mode 0600. A missing file is an empty
// cache; a corrupted one is treated as empty (the client discards what it cannot verify
// anyway, and rewrites the file at the next answer).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function read(file) {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** A LeaseCache backed by the JSON file at `file`. */
function fileCache(file) {
  if (typeof file !== 'string' || file === '') {
    throw Object.assign(new Error('fileCache(path): path must be a non-empty string'), { code: 'invalid_options' });
  }
  return {
    get(key) {
      const value = read(file)[key];
      return typeof value === 'string' ? value : null;
    },
    set(key, value) {
      const all = read(file);
      all[key] = value;
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
      fs.writeFileSync(tmp, JSON.stringify(all), { mode: 0o600 });
      fs.renameSync(tmp, file);
    },
  };
}

module.exports = { fileCache };
