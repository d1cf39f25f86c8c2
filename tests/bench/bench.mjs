// `make bench`: every benchmark of the project in one go, each figure a median with min–max
// over interleaved rounds and a ratio against its anchor measured in the same run. Writes
// tests/bench/results/latest.json and latest.md and prints the table.
//
//   node tests/bench/bench.mjs [--quick]
//
// Expects (the Makefile's bench target does it first): target/bench/verify.json (the npm
// package's bench), target/bench/native.json (the core's bench), release builds of
// `lifeline` and the `bare` example, and for the console figures dist/console plus
// target/console-e2e/report.json. Needs `wrk` (installed by .ci/setup).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const quick = process.argv.includes('--quick');
const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
// A QUICK run only checks the harness: it uses the debug builds the tests already made.
const profileDir = quick ? 'debug' : 'release';
const release = (name) => path.join(targetDir, profileDir, name);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-bench-'));
const say = (m) => process.stderr.write(`bench: ${m}\n`);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs });
const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitUp(url, pathName = '/readyz') {
  for (let i = 0; i < 600; i++) {
    try { await fetch(url + pathName, { method: pathName === '/readyz' ? 'GET' : 'POST' }); return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not start`);
}

const admin = 'll_bench-admin-token-0123456789abcdef0123';
async function startServer(name) {
  const port = await freePort();
  const child = spawn(release('lifeline'), ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(work, name), '--validate-rate', '10000000'],
    { env: { ...process.env, LIFELINE_ADMIN_TOKEN: admin }, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return { child, url };
}

async function api(url, route, body) {
  const r = await fetch(url + route, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${route}: ${r.status} ${await r.text()}`);
  return r.json();
}

// ---- provisioning: N licenses through `lifeline provision` (bulk API) on SQLite ----------
async function provisioning() {
  const n = quick ? 5_000 : 100_000;
  const rounds = quick ? 1 : 3;
  const csv = path.join(work, 'licenses.csv');
  const rows = ['product,licensee,expires_at,entitlements,grace_s,seats'];
  for (let i = 0; i < n; i++) rows.push(`photo-pro,customer-${String(i).padStart(7, '0')},4102444800,export;raw,604800,5`);
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const secs = [];
  for (let r = 0; r < rounds; r++) {
    const server = await startServer(`provision-${r}`);
    try {
      await api(server.url, '/api/v1/products', { id: 'photo-pro', name: 'Photo Pro' });
      const t0 = performance.now();
      execFileSync(release('lifeline'), ['provision', '--server', server.url, '--file', csv, '--batch', '5000', '--parallel', '2'],
        { env: { ...process.env, LIFELINE_TOKEN: admin }, stdio: ['ignore', 'ignore', 'ignore'] });
      secs.push((performance.now() - t0) / 1000);
    } finally {
      server.child.kill('SIGKILL');
    }
    say(`provisioning round ${r + 1}/${rounds}: ${secs.at(-1).toFixed(2)} s`);
  }
  return { n, rounds, secs: stat(secs) };
}

// ---- online validation under load: wrk against validate and a bare axum handler -----------
const lua = `
local tokens = {}
for line in io.lines(os.getenv("LIFELINE_TOKENS")) do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i % #tokens + 1
  return wrk.format("POST", "/api/v1/validate", { ["Content-Type"] = "application/json" }, '{"token":"' .. tokens[i] .. '"}')
end
`;

function unit(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

function wrk(url, tokens, seconds) {
  const script = path.join(work, 'validate.lua');
  fs.writeFileSync(script, lua);
  const out = execFileSync('wrk', ['-t2', '-c32', `-d${seconds}s`, '--latency', '-s', script, url],
    { env: { ...process.env, LIFELINE_TOKENS: tokens }, encoding: 'utf8' });
  const pick = (re) => { const m = re.exec(out); return m ? m[1] : null; };
  const rps = Number(pick(/Requests\/sec:\s+([\d.]+)/));
  const p50 = unit(pick(/\n\s+50%\s+(\S+)/) ?? '');
  const p99 = unit(pick(/\n\s+99%\s+(\S+)/) ?? '');
  const non2xx = Number(pick(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps) || !Number.isFinite(p99)) throw new Error(`cannot read wrk output:\n${out}`);
  return { rps, p50_ms: p50, p99_ms: p99, errors: non2xx + socketErrors };
}

async function validation() {
  const rounds = quick ? 1 : 3;
  const seconds = quick ? 1 : 5;
  const distinct = quick ? 1_000 : 10_000;
  const server = await startServer('validate');
  const barePort = await freePort();
  const bareChild = spawn(release('examples/bare'), [`127.0.0.1:${barePort}`], { stdio: 'ignore' });
  const bareUrl = `http://127.0.0.1:${barePort}`;
  await waitUp(bareUrl, '/api/v1/validate');
  try {
    await api(server.url, '/api/v1/products', { id: 'photo-pro', name: 'Photo Pro' });
    const tokens = [];
    for (let done = 0; done < distinct; done += 5_000) {
      const batch = Array.from({ length: Math.min(5_000, distinct - done) }, (_, i) => ({ product: 'photo-pro', licensee: `c-${done + i}`, expires_at: 4102444800, entitlements: ['pro'] }));
      const r = await api(server.url, '/api/v1/licenses/bulk', { licenses: batch });
      for (const l of r.licenses) tokens.push(l.token);
    }
    const many = path.join(work, 'tokens-many.txt');
    const one = path.join(work, 'tokens-one.txt');
    fs.writeFileSync(many, tokens.join('\n') + '\n');
    fs.writeFileSync(one, tokens[0] + '\n');
    const runs = { bare: [], distinct: [], repeated: [] };
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so no case always runs first.
      const order = [['bare', bareUrl, one], ['distinct', server.url, many], ['repeated', server.url, one]];
      for (let i = 0; i < order.length; i++) {
        const [name, url, file] = order[(i + r) % order.length];
        runs[name].push(wrk(url, file, seconds));
        say(`validate ${name} round ${r + 1}/${rounds}: ${runs[name].at(-1).rps.toFixed(0)} req/s, p99 ${runs[name].at(-1).p99_ms} ms`);
      }
    }
    const summary = (name) => ({
      rps: stat(runs[name].map((x) => x.rps)),
      p50_ms: stat(runs[name].map((x) => x.p50_ms)),
      p99_ms: stat(runs[name].map((x) => x.p99_ms)),
      errors: runs[name].reduce((a, x) => a + x.errors, 0),
      vs_bare: name === 'bare' ? 1 : median(runs[name].map((x, i) => x.rps / runs.bare[i].rps)),
    });
    return { rounds, seconds, connections: 32, threads: 2, distinct_licenses: distinct, bare: summary('bare'), distinct: summary('distinct'), repeated: summary('repeated') };
  } finally {
    server.child.kill('SIGKILL');
    bareChild.kill('SIGKILL');
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

// ---- run and report ----------------------------------------------------------------------
const verify = readJson(path.join(repo, 'target/bench/verify.json'));
const native = readJson(path.join(repo, 'target/bench/native.json'));
say('provisioning');
const prov = await provisioning();
say('online validation');
const val = await validation();
const con = console_();
fs.rmSync(work, { recursive: true, force: true });

const nativeCase = (prefix) => native.cases.find((c) => c.name.startsWith(prefix));
const signUs = nativeCase('ed25519-dalek sign').median_us;
const signingAloneSecs = (prov.n * signUs) / 1e6 / 2; // two cores
const provTarget = 5 * prov.n / 100_000;
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
const v = val;
row('validate under load', 'bare axum handler (anchor)', `${f(v.bare.rps.median, 0)} req/s`, mm(v.bare.rps, 0), '', '1.00×', `p99 ${f(v.bare.p99_ms.median)} ms`);
for (const name of ['distinct', 'repeated']) {
  const s = v[name];
  const ok = s.vs_bare >= 0.5 && s.p99_ms.median <= 5 && s.errors === 0;
  row('validate under load', `${name === 'distinct' ? `${v.distinct_licenses} distinct licenses (cache misses)` : 'one token repeated (cache hits)'}`,
    `${f(s.rps.median, 0)} req/s, p50 ${f(s.p50_ms.median)} ms, p99 ${f(s.p99_ms.median)} ms, ${s.errors} errors`, mm(s.rps, 0), 'bare handler', `${f(s.vs_bare)}×`, `>= 0.5×, p99 <= 5 ms, 0 errors: ${verdict(ok)}`);
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
const results = { date, quick, machine, verify, native, provisioning: prov, validation: val, console: con, table: rows };
const outDir = path.join(repo, 'tests/bench/results');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
fs.writeFileSync(path.join(outDir, 'latest.md'), md + '\n');
console.log(md);
