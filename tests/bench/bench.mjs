// `make bench`: every benchmark of the project in one go, each figure a median with min–max
// over interleaved rounds and a ratio against its anchor measured in the same run. Writes
// tests/bench/results/latest.json and latest.md and prints the table.
//
//   node tests/bench/bench.mjs [--quick]
//   node tests/bench/bench.mjs --only validation    (one part, printed only: for working on it)
//
// Parts: verify (read from the npm package's and the core's own benches), provisioning,
// validate under load, seats (seats.mjs: activations and heartbeats on SQLite and on
// PostgreSQL with two nodes, and a 100,000-seat fleet), the console. Shared helpers:
// harness.mjs.
//
// Expects (the Makefile's bench target does it first): target/bench/verify.json (the npm
// package's bench), target/bench/native.json (the core's bench), release builds of
// `lifeline` and the `bare` example, and for the console figures dist/console plus
// target/console-e2e/report.json. Needs `wrk` and PostgreSQL (installed by .ci/setup).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  admin, api, closeClients, issueMany, luaScript, quick, readJson, release, repo, say, startBare,
  startServer, stat, summarize, withPostgres, work, wrk, wrkTogether,
} from './harness.mjs';
import { seats } from './seats.mjs';

// ---- provisioning: N licenses through `lifeline provision` (bulk API), SQLite and PostgreSQL --
async function provisioning() {
  const n = quick ? 5_000 : 100_000;
  const rounds = quick ? 1 : 3;
  const csv = path.join(work, 'licenses.csv');
  const rows = ['product,licensee,expires_at,entitlements,grace_s,seats'];
  for (let i = 0; i < n; i++) rows.push(`photo-pro,customer-${String(i).padStart(7, '0')},4102444800,export;raw,604800,5`);
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const sqlite = await provisionRounds(n, rounds, csv, 'SQLite', (r) => startServer(`provision-${r}`));
  const postgres = await withPostgres((fresh) => provisionRounds(n, rounds, csv, 'PostgreSQL',
    (r) => startServer(`provision-pg-${r}`, fresh(`provision_${r}`))));
  return { n, rounds, secs: sqlite, postgres_secs: postgres };
}

/** `rounds` times: a fresh server (`start(round)`), then `lifeline provision` of the CSV, timed. */
async function provisionRounds(n, rounds, csv, store, start) {
  const secs = [];
  for (let r = 0; r < rounds; r++) {
    const server = await start(r);
    try {
      await api(server.url, '/api/v1/products', { id: 'photo-pro', name: 'Photo Pro' });
      const t0 = performance.now();
      execFileSync(release('lifeline'), ['provision', '--server', server.url, '--file', csv, '--batch', '5000', '--parallel', '2'],
        { env: { ...process.env, LIFELINE_TOKEN: admin }, stdio: ['ignore', 'ignore', 'ignore'] });
      secs.push((performance.now() - t0) / 1000);
    } finally {
      server.child.kill('SIGKILL');
    }
    say(`provisioning ${n} licenses, ${store}, round ${r + 1}/${rounds}: ${secs.at(-1).toFixed(2)} s`);
  }
  return stat(secs);
}

// ---- online validation under load: wrk against validate and a bare axum handler -----------
const validateLua = `
local tokens = {}
for line in io.lines(os.getenv("LIFELINE_TOKENS")) do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i % #tokens + 1
  return wrk.format("POST", "/api/v1/validate", { ["Content-Type"] = "application/json" }, '{"token":"' .. tokens[i] .. '"}')
end
`;

async function validation() {
  const rounds = quick ? 1 : 3;
  const seconds = quick ? 1 : 5;
  const distinct = quick ? 1_000 : 10_000;
  const server = await startServer('validate');
  const bare = await startBare();
  try {
    await api(server.url, '/api/v1/products', { id: 'photo-pro', name: 'Photo Pro' });
    const tokens = await issueMany(server.url, distinct, { product: 'photo-pro', expires_at: 4102444800, entitlements: ['pro'] });
    const many = path.join(work, 'tokens-many.txt');
    const one = path.join(work, 'tokens-one.txt');
    fs.writeFileSync(many, tokens.join('\n') + '\n');
    fs.writeFileSync(one, tokens[0] + '\n');
    const script = luaScript('validate', validateLua);
    const runs = { bare: [], distinct: [], repeated: [] };
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so no case always runs first.
      const order = [['bare', bare.url, one], ['distinct', server.url, many], ['repeated', server.url, one]];
      for (let i = 0; i < order.length; i++) {
        const [name, url, file] = order[(i + r) % order.length];
        runs[name].push(await wrk({ url, script, seconds, env: { LIFELINE_TOKENS: file } }));
        say(`validate ${name} round ${r + 1}/${rounds}: ${runs[name].at(-1).rps.toFixed(0)} req/s, p99 ${runs[name].at(-1).p99_ms} ms`);
      }
    }
    const postgres = await withPostgres((fresh) => validationTwoNodes(fresh('validate'), bare, rounds, seconds, distinct, script));
    return {
      rounds, seconds, connections: 32, threads: 2, distinct_licenses: distinct,
      bare: summarize(runs.bare), distinct: summarize(runs.distinct, runs.bare), repeated: summarize(runs.repeated, runs.bare),
      postgres,
    };
  } finally {
    server.child.kill('SIGKILL');
    bare.child.kill('SIGKILL');
  }
}

/** The same test on two nodes sharing one PostgreSQL: one wrk per node with half the threads
 * and connections of the anchor's run, requests/s summed; the bare handler in every round. */
async function validationTwoNodes(db, bare, rounds, seconds, distinct, script) {
  const nodes = [];
  try {
    nodes.push(await startServer('validate-pg-a', db));
    nodes.push(await startServer('validate-pg-b', db));
    await api(nodes[0].url, '/api/v1/products', { id: 'photo-pro', name: 'Photo Pro' });
    const tokens = await issueMany(nodes[0].url, distinct, { product: 'photo-pro', expires_at: 4102444800, entitlements: ['pro'] });
    const many = path.join(work, 'tokens-many-pg.txt');
    const one = path.join(work, 'tokens-one-pg.txt');
    fs.writeFileSync(many, tokens.join('\n') + '\n');
    fs.writeFileSync(one, tokens[0] + '\n');
    const both = (file) => wrkTogether(nodes.map((node) => ({ url: node.url, script, seconds, threads: 1, connections: 16, env: { LIFELINE_TOKENS: file } })));
    const runs = { bare: [], distinct: [], repeated: [] };
    for (let r = 0; r < rounds; r++) {
      const order = [['bare', () => wrk({ url: bare.url, script, seconds, env: { LIFELINE_TOKENS: one } })], ['distinct', () => both(many)], ['repeated', () => both(one)]];
      for (let i = 0; i < order.length; i++) {
        const [name, run] = order[(i + r) % order.length];
        runs[name].push(await run());
        const last = runs[name].at(-1);
        say(`validate, PostgreSQL, two nodes, ${name} round ${r + 1}/${rounds}: ${last.rps.toFixed(0)} req/s, p99 ${last.p99_ms} ms${last.errors ? `, errors ${JSON.stringify(last.error_kinds)}` : ''}`);
      }
    }
    return { nodes: 2, bare: summarize(runs.bare), distinct: summarize(runs.distinct, runs.bare), repeated: summarize(runs.repeated, runs.bare) };
  } finally {
    for (const node of nodes) node.child.kill('SIGKILL');
  }
}

// ---- console: gzipped .wasm and time to first render (from the e2e test's report) -----------
function console_() {
  const dist = path.join(repo, 'dist/console');
  const wasm = fs.existsSync(dist) ? fs.readdirSync(dist).find((f) => f.endsWith('.wasm')) : null;
  const report = path.join(repo, 'target/console-e2e/report.json');
  const bytes = wasm ? fs.readFileSync(path.join(dist, wasm)) : null;
  return {
    wasm_raw_bytes: bytes ? bytes.length : null,
    wasm_gzip_bytes: bytes ? zlib.gzipSync(bytes, { level: 9 }).length : null,
    first_render_ms: fs.existsSync(report) ? readJson(report).time_to_first_render_ms : null,
  };
}

/** The work directory goes, unless LIFELINE_BENCH_KEEP=1 (its servers' logs are there). */
function removeWork() {
  if (process.env.LIFELINE_BENCH_KEEP === '1') say(`kept ${work} (servers' logs: *.log)`);
  else fs.rmSync(work, { recursive: true, force: true });
}

// ---- one part only, while working on it: printed, never written to results/ ----------------
//   node tests/bench/bench.mjs --only provisioning|validation [--quick]
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length)
  ?? process.argv[process.argv.indexOf('--only') + 1];
if (process.argv.some((a) => a === '--only' || a.startsWith('--only='))) {
  const parts = { provisioning, validation };
  if (!parts[only]) {
    console.error(`--only: one of ${Object.keys(parts).join(', ')}`);
    process.exit(2);
  }
  const result = await parts[only]();
  closeClients();
  removeWork();
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}

// ---- run and report ----------------------------------------------------------------------
const verify = readJson(path.join(repo, 'target/bench/verify.json'));
const native = readJson(path.join(repo, 'target/bench/native.json'));
say('provisioning');
const prov = await provisioning();
say('online validation');
const val = await validation();
say('seats');
const seat = await seats();
const con = console_();
closeClients();
removeWork();

const nativeCase = (prefix) => native.cases.find((c) => c.name.startsWith(prefix));
const signUs = nativeCase('ed25519-dalek sign').median_us;
const signingAloneSecs = (prov.n * signUs) / 1e6 / 2; // two cores
const provTarget = 4 * prov.n / 100_000;
const f = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(d));
const mm = (s, d = 2) => `${f(s.min, d)}–${f(s.max, d)}`;
const verdict = (ok) => (ok ? 'met' : 'MISSED');

const rows = [];
const row = (area, figure, value, range, anchor, ratio, target) => rows.push({ area, figure, value, range, anchor, ratio, target });
for (const [name, c] of Object.entries(verify.cases_us)) {
  row('verify (WASM, Node)', name, `${f(c.median)} µs`, mm(c), 'Node crypto.verify', `${f(c.vs_node)}×`, '');
}
for (const t of verify.targets) row('verify targets', t.name, f(t.value), '', '', '', t.goal === 'bound' ? 'bound' : `${t.goal}: ${verdict(t.met)}`);
for (const c of native.cases) row('verify (native)', c.name, `${f(c.median_us, 3)} µs`, `${f(c.min_us, 3)}–${f(c.max_us, 3)}`, 'raw verify_strict', `${f(c.vs_raw_verify_strict, 3)}×`, '');
const overhead = nativeCase('lifeline_core::verify').vs_raw_verify_strict - 1;
row('verify (native)', 'core overhead over raw verify_strict', `${f(overhead * 100, 1)} %`, '', '', '', `<= 10 %: ${verdict(overhead <= 0.1)}`);
row('provisioning', `${prov.n} licenses, bulk API, SQLite`, `${f(prov.secs.median)} s (${f(prov.n / prov.secs.median, 0)}/s)`, mm(prov.secs), `signing alone on 2 cores: ${f(signingAloneSecs)} s`, `${f(prov.secs.median / signingAloneSecs)}×`, `<= ${f(provTarget, 1)} s: ${verdict(prov.secs.median <= provTarget)}`);
row('provisioning', `${prov.n} licenses, bulk API, PostgreSQL (fsync on)`, `${f(prov.postgres_secs.median)} s (${f(prov.n / prov.postgres_secs.median, 0)}/s)`, mm(prov.postgres_secs), `signing alone on 2 cores: ${f(signingAloneSecs)} s`, `${f(prov.postgres_secs.median / signingAloneSecs)}×`, '');
const v = val;
row('validate under load', 'bare axum handler (anchor)', `${f(v.bare.rps.median, 0)} req/s`, mm(v.bare.rps, 0), '', '1.00×', `p99 ${f(v.bare.p99_ms.median)} ms`);
for (const name of ['distinct', 'repeated']) {
  const s = v[name];
  const floor = name === 'distinct' ? 0.5 : 0.7;
  const ok = s.vs_bare >= floor && s.p99_ms.median <= 5 && s.errors === 0;
  row('validate under load', `${name === 'distinct' ? `${v.distinct_licenses} distinct licenses (cache misses)` : 'one token repeated (cache hits)'}`,
    `${f(s.rps.median, 0)} req/s, p50 ${f(s.p50_ms.median)} ms, p99 ${f(s.p99_ms.median)} ms, ${s.errors} errors`, mm(s.rps, 0), 'bare handler', `${f(s.vs_bare)}×`, `>= ${floor}×, p99 <= 5 ms, 0 errors: ${verdict(ok)}`);
}
for (const name of ['distinct', 'repeated']) {
  const s = v.postgres[name];
  row('validate under load, PostgreSQL, two nodes', `${name === 'distinct' ? `${v.distinct_licenses} distinct licenses` : 'one token repeated'}`,
    `${f(s.rps.median, 0)} req/s, p50 ${f(s.p50_ms.median)} ms, p99 ${f(s.p99_ms.median)} ms, ${s.errors} errors`, mm(s.rps, 0), 'bare handler', `${f(s.vs_bare)}×`, '');
}
const seatRows = (store, x) => {
  for (const [name, what] of [['activate', 'activations'], ['heartbeat', 'heartbeats']]) {
    const a = x[`${name}_bare`];
    const s = x[name];
    row(`seats, ${store}`, `bare axum handler, the same ${name} requests (anchor)`, `${f(a.rps.median, 0)} req/s`, mm(a.rps, 0), '', '1.00×', `p99 ${f(a.p99_ms.median)} ms`);
    row(`seats, ${store}`, `${what}/s`, `${f(s.rps.median, 0)}/s, p50 ${f(s.p50_ms.median)} ms, p99 ${f(s.p99_ms.median)} ms, ${s.errors} errors`, mm(s.rps, 0), 'bare handler', `${f(s.vs_bare)}×`, '');
  }
};
seatRows('SQLite, one node', seat.sqlite);
seatRows('PostgreSQL, two nodes', seat.postgres);
{
  const c = seat.sqlite.fleet;
  const ok = c.p99_ms <= 20 && c.errors === 0 && c.held_after === c.seats;
  row('seats, SQLite, one node', `${c.seats} floating seats, each heartbeating every ${f(c.seats / c.rate_per_s, 0)} s (open loop)`,
    `${f(c.achieved_per_s, 0)}/s, p50 ${f(c.p50_ms)} ms, p99 ${f(c.p99_ms)} ms, max ${f(c.max_ms)} ms, ${c.errors} errors, ${c.held_after} held after`, '', '', '',
    `p99 <= 20 ms, 0 errors, every seat held: ${verdict(ok)}`);
}
row('console', 'gzipped .wasm', con.wasm_gzip_bytes === null ? 'not built' : `${f(con.wasm_gzip_bytes / 1000, 0)} KB`, '', '400 KB', con.wasm_gzip_bytes === null ? '' : `${f(con.wasm_gzip_bytes / 400_000)}×`, con.wasm_gzip_bytes === null ? '' : `<= 400 KB: ${verdict(con.wasm_gzip_bytes <= 400_000)}`);
row('console', 'overview first render after page load', con.first_render_ms === null ? 'not measured' : `${f(con.first_render_ms, 0)} ms`, '', '', '', '');

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
const date = new Date().toISOString();
const md = [
  `Lifeline benchmarks${quick ? ' (QUICK smoke run: figures not meaningful)' : ''}, ${date}, ${machine}.`,
  `Medians (min–max) over interleaved rounds; ratios against the anchor measured in the same run.`,
  '',
  '| area | figure | median | min–max | anchor | ratio | target |',
  '|---|---|---:|---:|---|---:|---|',
  ...rows.map((r) => `| ${r.area} | ${r.figure} | ${r.value} | ${r.range} | ${r.anchor} | ${r.ratio} | ${r.target} |`),
].join('\n');
const results = { date, quick, machine, verify, native, provisioning: prov, validation: val, seats: seat, console: con, table: rows };
const outDir = path.join(repo, 'tests/bench/results');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
fs.writeFileSync(path.join(outDir, 'latest.md'), md + '\n');
console.log(md);
