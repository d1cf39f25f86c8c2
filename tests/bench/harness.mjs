// What every part of `make bench` shares: where the builds are, statistics, starting a
// server, the admin API, a keep-alive HTTP client and wrk.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const quick = process.argv.includes('--quick');
const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
// A QUICK run only checks the harness: it uses the debug builds the tests already made.
const profileDir = quick ? 'debug' : 'release';
export const release = (name) => path.join(targetDir, profileDir, name);
export const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-bench-'));
export const say = (m) => process.stderr.write(`bench: ${m}\n`);

export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
export const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs });
/** The q-quantile (0..1) of a list of numbers. */
export const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
export const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export async function waitUp(url, pathName = '/readyz') {
  for (let i = 0; i < 600; i++) {
    try { await fetch(url + pathName, { method: pathName === '/readyz' ? 'GET' : 'POST' }); return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not start`);
}

export const admin = 'll_bench-admin-token-0123456789abcdef0123';

/** A `lifeline serve` on a free port: its own SQLite under `name`, or the store `db`. */
export async function startServer(name, db) {
  const port = await freePort();
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(work, name), '--validate-rate', '10000000'];
  if (db) args.push('--db', db);
  // Its log (warnings and errors only: logging is not what is measured) goes to NAME.log.
  const log = fs.openSync(path.join(work, `${name}.log`), 'w');
  const child = spawn(release('lifeline'), args, { env: { ...process.env, LIFELINE_ADMIN_TOKEN: admin, RUST_LOG: 'warn' }, stdio: ['ignore', 'ignore', log] });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return { child, url };
}

/**
 * `fn(fresh)` with a throwaway PostgreSQL cluster on 127.0.0.1 with durable commits (fsync on,
 * like SQLite's synchronous=FULL); `fresh(name)` creates an empty database and returns its URL.
 * The cluster is stopped and removed afterwards, whatever `fn` does.
 */
export async function withPostgres(fn) {
  // Directly under the temporary directory: the cluster runs as the postgres user.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-bench-pg-'));
  const pg = path.join(repo, '.ci/pg');
  const url = execFileSync('bash', [pg, 'start', dir], { env: { ...process.env, PG_FSYNC: 'on' }, encoding: 'utf8' }).trim();
  const fresh = (name) => {
    execFileSync('psql', [url, '-q', '-c', `CREATE DATABASE ${name}`]);
    return url.replace(/\/postgres$/, `/${name}`);
  };
  try {
    return await fn(fresh);
  } finally {
    execFileSync('bash', [pg, 'stop', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The bare axum handler (the anchor): answers every POST with a constant. */
export async function startBare() {
  const port = await freePort();
  const child = spawn(release('examples/bare'), [`127.0.0.1:${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, '/api/v1/validate');
  return { child, url };
}

export async function api(url, route, body, method = 'POST') {
  const r = await fetch(url + route, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${route}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Issues `n` licenses of `product` in bulk batches; returns their tokens. */
export async function issueMany(url, n, license) {
  const tokens = [];
  for (let done = 0; done < n; done += 5_000) {
    const batch = Array.from({ length: Math.min(5_000, n - done) }, (_, i) => ({ ...license, licensee: `c-${done + i}` }));
    const r = await api(url, '/api/v1/licenses/bulk', { licenses: batch });
    for (const l of r.licenses) tokens.push(l.token);
  }
  return tokens;
}

// One keep-alive pool for the load the bench drives from Node (cheaper than fetch).
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** POSTs JSON; resolves to { status, body } (body parsed when it is JSON). */
export function post(url, route, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(url + route, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

export function closeClients() { agent.destroy(); }

function unit(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

/** Reads wrk's report: requests/s, requests answered, p50/p99 (ms) and errors (non-2xx + socket errors). */
export function readWrk(out) {
  const pick = (re) => { const m = re.exec(out); return m ? m[1] : null; };
  const rps = Number(pick(/Requests\/sec:\s+([\d.]+)/));
  const p50 = unit(pick(/\n\s+50%\s+(\S+)/) ?? '');
  const p99 = unit(pick(/\n\s+99%\s+(\S+)/) ?? '');
  const non2xx = Number(pick(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps) || !Number.isFinite(p99)) throw new Error(`cannot read wrk output:\n${out}`);
  const requests = Number(pick(/(\d+) requests in/) ?? NaN);
  const kinds = { non2xx, ...(sock ? Object.fromEntries(['connect', 'read', 'write', 'timeout'].map((k, i) => [k, Number(sock[i + 1])])) : {}) };
  const errors = non2xx + socketErrors;
  return { rps, requests, p50_ms: p50, p99_ms: p99, errors, ...(errors > 0 ? { error_kinds: kinds } : {}) };
}

/** Writes a wrk Lua script into the work directory; returns its path. */
export function luaScript(name, text) {
  const file = path.join(work, `${name}.lua`);
  fs.writeFileSync(file, text);
  return file;
}

const wrkArgs = ({ threads = 2, connections = 32, seconds, script, url }) =>
  [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url];

// wrk runs as a child process, not with execFileSync: a blocked event loop would keep Node's
// idle keep-alive sockets past the server's idle deadline and reuse them after it closed them.
function runWrk(opts) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', wrkArgs(opts), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(readWrk(out)) : reject(new Error(`wrk exited ${code}:\n${out}`))));
  });
}

/** One wrk run (closed loop) against `url`. */
export const wrk = runWrk;

/** Several wrk runs at once (one per node); requests/s summed, latencies the worst, errors summed. */
export async function wrkTogether(runs) {
  const each = await Promise.all(runs.map(runWrk));
  return {
    rps: each.reduce((a, x) => a + x.rps, 0),
    requests: each.reduce((a, x) => a + x.requests, 0),
    p50_ms: Math.max(...each.map((x) => x.p50_ms)),
    p99_ms: Math.max(...each.map((x) => x.p99_ms)),
    errors: each.reduce((a, x) => a + x.errors, 0),
    ...(each.some((x) => x.errors) ? { error_kinds: each.map((x) => x.error_kinds ?? {}) } : {}),
  };
}

/** A summary of closed-loop rounds: medians, min–max, errors and the ratio to the anchor's rounds. */
export function summarize(rounds, anchorRounds) {
  return {
    rps: stat(rounds.map((x) => x.rps)),
    p50_ms: stat(rounds.map((x) => x.p50_ms)),
    p99_ms: stat(rounds.map((x) => x.p99_ms)),
    errors: rounds.reduce((a, x) => a + x.errors, 0),
    vs_bare: anchorRounds ? median(rounds.map((x, i) => x.rps / anchorRounds[i].rps)) : 1,
  };
}
