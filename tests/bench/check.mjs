// CI's check of `make bench QUICK=1`: the results file is complete and every figure is a
// finite number (speed is not judged: a smoke run on a shared machine proves nothing).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results/latest.json');
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const finite = (x, what) => assert.ok(Number.isFinite(x) && x >= 0, `${what}: ${x}`);
assert.ok(!Number.isNaN(Date.parse(r.date)), 'date');
assert.ok(Object.keys(r.verify.cases_us).length >= 5, 'verify cases');
for (const [n, c] of Object.entries(r.verify.cases_us)) finite(c.median, `verify ${n}`);
assert.ok(r.native.cases.length >= 4, 'native cases');
for (const c of r.native.cases) finite(c.median_us, `native ${c.name}`);
finite(r.provisioning.secs.median, 'provisioning');
finite(r.provisioning.postgres_secs.median, 'provisioning on PostgreSQL');
for (const [store, v] of [['SQLite', r.validation], ['PostgreSQL', r.validation.postgres]]) {
  for (const k of ['bare', 'distinct', 'repeated']) {
    for (const f of ['rps', 'p50_ms', 'p99_ms']) finite(v[k][f].median, `validation ${store} ${k} ${f}`);
    finite(v[k].vs_bare, `validation ${store} ${k} ratio`);
  }
}
assert.ok(r.verify.lite_wasm_size.gzip > 0, 'the lite entry is measured');
for (const store of ['sqlite', 'postgres']) {
  for (const k of ['activate', 'activate_bare', 'heartbeat', 'heartbeat_bare']) {
    for (const f of ['rps', 'p50_ms', 'p99_ms']) finite(r.seats[store][k][f].median, `seats ${store} ${k} ${f}`);
    finite(r.seats[store][k].vs_bare, `seats ${store} ${k} ratio`);
  }
  assert.ok(r.seats[store].activated > 0, `seats ${store}: activations counted in the store`);
}
for (const f of ['p50_ms', 'p99_ms', 'achieved_per_s']) finite(r.seats.sqlite.fleet[f], `seat fleet ${f}`);
assert.equal(r.seats.sqlite.fleet.held_after, r.seats.sqlite.fleet.seats, 'the seat fleet is still held');
finite(r.console.wasm_gzip_bytes, 'console wasm');
assert.ok(r.table.length >= 30, 'table rows');
const md = fs.readFileSync(path.join(path.dirname(file), 'latest.md'), 'utf8');
assert.match(md, /\| area \| figure \| median/);
console.log(`bench results well-formed: ${r.table.length} rows (${r.quick ? 'quick' : 'full'} run of ${r.date})`);
