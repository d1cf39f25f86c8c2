// What a .wasm file is made of, by crate: `node tests/bench/wasm-size.mjs FILE.wasm [--top N]`.
// Needs the file's name section (wasm-opt -g keeps it; build.sh keeps a copy for this:
// dist/npm/size/). Prints the code bytes of each crate (from the function names) and the
// data and other sections, each raw and as a share of the file, then the N largest
// functions. Twiggy-style accounting with no tool to install; gzip works on the whole file, so
// shares are of raw bytes.
import fs from 'node:fs';

const file = process.argv[2];
const topIndex = process.argv.indexOf('--top');
const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
if (!file) {
  console.error('usage: node tests/bench/wasm-size.mjs FILE.wasm [--top N]');
  process.exit(2);
}
const bytes = fs.readFileSync(file);

let pos = 8;
const u32 = () => {
  let result = 0, shift = 0, byte;
  do {
    byte = bytes[pos++];
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return result;
};
const name = () => {
  const len = u32();
  const s = bytes.subarray(pos, pos + len).toString('utf8');
  pos += len;
  return s;
};

const sections = [];
let importedFunctions = 0;
const bodies = []; // [size] per defined function
const names = new Map();
const sectionNames = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'];
while (pos < bytes.length) {
  const id = bytes[pos++];
  const size = u32();
  const start = pos;
  const end = pos + size;
  let label = sectionNames[id] ?? `section ${id}`;
  if (id === 0) label = `custom "${name()}"`;
  if (id === 2) {
    const count = u32();
    for (let i = 0; i < count; i++) {
      name(); name();
      const kind = bytes[pos++];
      if (kind === 0) { importedFunctions++; u32(); }
      else if (kind === 1) { pos++; const flags = u32(); u32(); if (flags & 1) u32(); }
      else if (kind === 2) { const flags = u32(); u32(); if (flags & 1) u32(); }
      else if (kind === 3) { pos += 2; }
    }
  }
  if (id === 10) {
    const count = u32();
    for (let i = 0; i < count; i++) {
      const len = u32();
      bodies.push(len);
      pos += len;
    }
  }
  if (id === 0 && label === 'custom "name"') {
    while (pos < end) {
      const sub = bytes[pos++];
      const len = u32();
      const subEnd = pos + len;
      if (sub === 1) {
        const count = u32();
        for (let i = 0; i < count; i++) {
          const index = u32();
          names.set(index, name());
        }
      }
      pos = subEnd;
    }
  }
  sections.push({ label, size });
  pos = end;
}

// The crate a function belongs to, from its (possibly mangled) Rust name.
function crateOf(fn) {
  if (!fn) return '(unnamed)';
  let s = fn;
  const legacy = s.match(/^_?_ZN(\d+)/);
  if (legacy) {
    const len = Number(legacy[1]);
    const start = legacy[0].length;
    s = s.slice(start, start + len);
  } else {
    s = s.replace(/^<+/, '').replace(/^(dyn |&mut |&|\[)/, '');
  }
  const crate = s.split('::')[0].split(/[ <>[;]/)[0];
  return crate || '(unnamed)';
}

const byCrate = new Map();
const functions = [];
bodies.forEach((size, i) => {
  const fn = names.get(i + importedFunctions);
  const crate = crateOf(fn);
  byCrate.set(crate, (byCrate.get(crate) ?? 0) + size);
  functions.push({ fn: fn ?? `#${i + importedFunctions}`, size });
});
if (names.size === 0) console.log('(no name section: build with wasm-opt -g to see crates)');

const total = bytes.length;
const pct = (n) => `${((100 * n) / total).toFixed(1)} %`;
console.log(`${file}: ${total} bytes raw\n`);
console.log('| part | bytes | share |\n|---|---:|---:|');
const code = sections.find((s) => s.label === 'code')?.size ?? 0;
for (const [crate, size] of [...byCrate].sort((a, b) => b[1] - a[1])) {
  console.log(`| code: ${crate} | ${size} | ${pct(size)} |`);
}
for (const s of sections) {
  if (s.label === 'code') continue;
  console.log(`| ${s.label} section | ${s.size} | ${pct(s.size)} |`);
}
console.log(`\ncode section ${code} bytes in ${bodies.length} functions; largest ${top}:\n`);
console.log('| function | bytes |\n|---|---:|');
for (const { fn, size } of functions.sort((a, b) => b.size - a.size).slice(0, top)) {
  console.log(`| ${fn.length > 110 ? `${fn.slice(0, 107)}...` : fn} | ${size} |`);
}
