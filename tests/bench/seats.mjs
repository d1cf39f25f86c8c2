// `make bench`'s seat figures: activations/s and heartbeats/s (wrk, closed loop) on SQLite
// with one node and on PostgreSQL with two nodes, each against the bare axum handler run
// with the same requests in the same rounds; and one node holding a fleet of 100,000
// floating seats that heartbeat every 60 s (≈ 1,700/s, open loop at that fixed rate: each
// request's latency counts from when it was due, so a stall is never hidden), p99 ≤ 20 ms.
import fs from 'node:fs';
import path from 'node:path';
import {
  api, issueMany, luaScript, post, quantile, quick, say, startBare, startServer, summarize,
  withPostgres, work, wrk, wrkTogether,
} from './harness.mjs';

const YEAR_2100 = 4102444800;

// wrk's setup: each thread gets its number, `tid` (the scripts start from a different place
// per thread, and activations name their machines with it).
const threadIds = `
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
`;

// Each request activates a new machine: a fingerprint unique to the run, thread and count,
// on the licenses in turn.
const activateLua = `
local tokens = {}
for line in io.lines(os.getenv("LIFELINE_TOKENS")) do tokens[#tokens + 1] = line end
local tag = os.getenv("LIFELINE_TAG")
${threadIds}local i = nil
local n = 0
request = function()
  if i == nil then i = (tid * 7919) % #tokens end
  i = i % #tokens + 1
  n = n + 1
  local body = '{"token":"' .. tokens[i] .. '","fingerprint":"' .. tag .. '-' .. tid .. '-' .. n .. '","name":"bench"}'
  return wrk.format("POST", "/api/v1/seats", { ["Content-Type"] = "application/json" }, body)
end
`;

// Heartbeats over a fleet of held seats (lines: seat id, fingerprint, token).
const heartbeatLua = `
local seats = {}
for line in io.lines(os.getenv("LIFELINE_SEATS")) do
  local id, fp, token = line:match("([^\\t]+)\\t([^\\t]+)\\t(.+)")
  seats[#seats + 1] = { "/api/v1/seats/" .. id .. "/heartbeat", '{"token":"' .. token .. '","fingerprint":"' .. fp .. '"}' }
end
${threadIds}local i = nil
request = function()
  if i == nil then i = (tid * 50021) % #seats end
  i = i % #seats + 1
  return wrk.format("POST", seats[i][1], { ["Content-Type"] = "application/json" }, seats[i][2])
end
`;

const ok = (r, held) => (r.status === 200 || r.status === 201) && r.body?.state === 'held' && (!held || r.body.seat_id);

/** Activates one seat per fingerprint on the licenses in turn, `concurrency` at a time,
 *  spreading the requests over `urls`; returns the held seats (id, fingerprint, token). */
export async function activateFleet(urls, tokens, n, tag, concurrency = 64) {
  const seats = new Array(n);
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n) {
      const k = next++;
      const token = tokens[k % tokens.length];
      const fingerprint = `${tag}-${k}`;
      const r = await post(urls[k % urls.length], '/api/v1/seats', { token, fingerprint, name: `machine ${k}` });
      if (!ok(r, true)) { failed++; if (failed < 4) say(`activation refused: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`); continue; }
      seats[k] = { id: r.body.seat_id, fingerprint, token };
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  if (failed) throw new Error(`${failed} of ${n} fleet activations failed`);
  return { seats, secs };
}

function writeSeats(seats, name) {
  const file = path.join(work, `${name}.tsv`);
  fs.writeFileSync(file, seats.map((s) => `${s.id}\t${s.fingerprint}\t${s.token}`).join('\n') + '\n');
  return file;
}

/** Every seat of `seats` heartbeats once, in order, at `rate` a second (open loop). Latency of
 *  each from the moment it was due; an answer that is not a held seat is an error. */
async function heartbeatCycle(url, seats, rate) {
  const latencies = new Array(seats.length);
  let errors = 0;
  let sent = 0;
  let done = 0;
  const start = performance.now();
  const due = (k) => start + (k * 1000) / rate;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < seats.length && due(sent) <= now) {
        const k = sent++;
        const s = seats[k];
        post(url, `/api/v1/seats/${s.id}/heartbeat`, { token: s.token, fingerprint: s.fingerprint })
          .then((r) => { if (!ok(r, false)) errors++; }, () => { errors++; })
          .finally(() => {
            latencies[k] = performance.now() - due(k);
            if (++done === seats.length) resolve();
          });
      }
      if (sent < seats.length) setTimeout(tick, 1);
    };
    tick();
  });
  const secs = (performance.now() - start) / 1000;
  return {
    seats: seats.length, rate_per_s: rate, achieved_per_s: seats.length / secs,
    p50_ms: quantile(latencies, 0.5), p99_ms: quantile(latencies, 0.99), max_ms: Math.max(...latencies), errors,
  };
}

async function seatsInUse(url, product) {
  const o = await api(url, '/api/v1/overview', undefined, 'GET');
  return o.seats.find((p) => p.product === product)?.in_use ?? 0;
}

/** Closed-loop rounds of `cases` (name → () => wrk result), the order rotated each round. */
async function rounds(label, n, cases) {
  const runs = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const names = Object.keys(cases);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      runs[name].push(await cases[name](r));
      say(`${label} ${name} round ${r + 1}/${n}: ${runs[name].at(-1).rps.toFixed(0)} req/s, p99 ${runs[name].at(-1).p99_ms} ms, ${runs[name].at(-1).errors} errors`);
    }
  }
  return runs;
}

const seatLicense = (product, seats, mode) => ({
  product, expires_at: YEAR_2100, seats, seat_mode: mode, ...(mode === 'floating' ? { heartbeat_s: 120 } : {}),
});

async function setUp(url) {
  await api(url, '/api/v1/products', { id: 'bench-seat', name: 'Seat bench' });
  await api(url, '/api/v1/products', { id: 'bench-fleet', name: 'Seat fleet' });
}

/** Checks the store counts what the clients were granted: every wrk activation that got an
 *  answer holds a seat (a request cut off at the end of a run may still have landed). */
async function checkActivations(url, runs, connections) {
  const answered = runs.reduce((a, x) => a + x.requests - x.errors, 0);
  const inUse = await seatsInUse(url, 'bench-seat');
  if (inUse < answered || inUse > answered + connections * runs.length) {
    throw new Error(`activations: ${answered} answered but ${inUse} seats in use`);
  }
  return inUse;
}

async function sqliteOneNode(bare, n, seconds) {
  const fleetSize = quick ? 2_000 : 100_000;
  const cycleSecs = quick ? 5 : 60;
  const server = await startServer('seats-sqlite');
  try {
    await setUp(server.url);
    // Node-locked seats for the activation runs (never reclaimed, so the count can be checked),
    // floating seats (10 a license, heartbeat_s 120, renewed every 60 s) for the fleet.
    const act = await issueMany(server.url, quick ? 200 : 2_000, seatLicense('bench-seat', 100, 'node_locked'));
    const fleetLicenses = await issueMany(server.url, fleetSize / 10, seatLicense('bench-fleet', 10, 'floating'));
    const actFile = path.join(work, 'seat-tokens.txt');
    fs.writeFileSync(actFile, act.join('\n') + '\n');
    const activateScript = luaScript('activate', activateLua);
    const activations = await rounds('seats sqlite activate', n, {
      bare: () => wrk({ url: bare.url, script: activateScript, seconds, env: { LIFELINE_TOKENS: actFile, LIFELINE_TAG: 'bare' } }),
      activate: (r) => wrk({ url: server.url, script: activateScript, seconds, env: { LIFELINE_TOKENS: actFile, LIFELINE_TAG: `r${r}` } }),
    });
    const activated = await checkActivations(server.url, activations.activate, 32);

    say(`seats: activating a fleet of ${fleetSize} floating seats`);
    const fleet = await activateFleet([server.url], fleetLicenses, fleetSize, 'fleet');
    say(`seats: fleet activated in ${fleet.secs.toFixed(1)} s; one heartbeat each over ${cycleSecs} s`);
    const cycle = await heartbeatCycle(server.url, fleet.seats, fleetSize / cycleSecs);
    say(`seats: fleet cycle ${cycle.achieved_per_s.toFixed(0)}/s, p50 ${cycle.p50_ms.toFixed(2)} ms, p99 ${cycle.p99_ms.toFixed(2)} ms, ${cycle.errors} errors`);

    const seatsFile = writeSeats(fleet.seats, 'fleet');
    const heartbeatScript = luaScript('heartbeat', heartbeatLua);
    const heartbeats = await rounds('seats sqlite heartbeat', n, {
      bare: () => wrk({ url: bare.url, script: heartbeatScript, seconds, env: { LIFELINE_SEATS: seatsFile } }),
      heartbeat: () => wrk({ url: server.url, script: heartbeatScript, seconds, env: { LIFELINE_SEATS: seatsFile } }),
    });
    // The node still holds the whole fleet (nothing reclaimed while it was busy).
    const held = await seatsInUse(server.url, 'bench-fleet');
    if (held !== fleetSize) throw new Error(`the fleet was ${fleetSize} seats, ${held} are held after the heartbeats`);
    return {
      activate: summarize(activations.activate, activations.bare), activate_bare: summarize(activations.bare), activated,
      heartbeat: summarize(heartbeats.heartbeat, heartbeats.bare), heartbeat_bare: summarize(heartbeats.bare),
      fleet: { ...cycle, activation_secs: fleet.secs, held_after: held },
    };
  } finally {
    server.child.kill('SIGKILL');
  }
}

async function postgresTwoNodes(bare, n, seconds) {
  return withPostgres(async (fresh) => {
    const db = fresh('seats');
    const nodes = [];
    try {
      nodes.push(await startServer('seats-pg-a', db));
      nodes.push(await startServer('seats-pg-b', db));
      const [a] = nodes;
      await setUp(a.url);
      const act = await issueMany(a.url, quick ? 200 : 2_000, seatLicense('bench-seat', 100, 'node_locked'));
      const fleetSize = quick ? 1_000 : 10_000;
      const fleetLicenses = await issueMany(a.url, fleetSize / 10, seatLicense('bench-fleet', 10, 'floating'));
      const actFile = path.join(work, 'seat-tokens-pg.txt');
      fs.writeFileSync(actFile, act.join('\n') + '\n');
      const activateScript = luaScript('activate', activateLua);
      // One wrk per node, each with half the connections and threads of the anchor's run.
      const both = (script, env) => wrkTogether(nodes.map((node, k) => ({
        url: node.url, script, seconds, threads: 1, connections: 16, env: typeof env === 'function' ? env(k) : env,
      })));
      const activations = await rounds('seats postgres activate', n, {
        bare: () => wrk({ url: bare.url, script: activateScript, seconds, env: { LIFELINE_TOKENS: actFile, LIFELINE_TAG: 'bare' } }),
        activate: (r) => both(activateScript, (k) => ({ LIFELINE_TOKENS: actFile, LIFELINE_TAG: `r${r}n${k}` })),
      });
      const activated = await checkActivations(a.url, activations.activate, 32);
      const fleet = await activateFleet(nodes.map((x) => x.url), fleetLicenses, fleetSize, 'fleet');
      const seatsFile = writeSeats(fleet.seats, 'fleet-pg');
      const heartbeatScript = luaScript('heartbeat', heartbeatLua);
      const heartbeats = await rounds('seats postgres heartbeat', n, {
        bare: () => wrk({ url: bare.url, script: heartbeatScript, seconds, env: { LIFELINE_SEATS: seatsFile } }),
        heartbeat: () => both(heartbeatScript, { LIFELINE_SEATS: seatsFile }),
      });
      const held = await seatsInUse(a.url, 'bench-fleet');
      if (held !== fleetSize) throw new Error(`postgres: the fleet was ${fleetSize} seats, ${held} are held after the heartbeats`);
      return {
        activate: summarize(activations.activate, activations.bare), activate_bare: summarize(activations.bare), activated,
        heartbeat: summarize(heartbeats.heartbeat, heartbeats.bare), heartbeat_bare: summarize(heartbeats.bare), fleet_size: fleetSize,
      };
    } finally {
      for (const node of nodes) node.child.kill('SIGKILL');
    }
  });
}

/** Every seat figure; the bare handler is started once and measured in every round. */
export async function seats() {
  const n = quick ? 1 : 3;
  const seconds = quick ? 1 : 5;
  const bare = await startBare();
  try {
    const sqlite = await sqliteOneNode(bare, n, seconds);
    const postgres = await postgresTwoNodes(bare, n, seconds);
    return { rounds: n, seconds, connections: 32, sqlite, postgres };
  } finally {
    bare.child.kill('SIGKILL');
  }
}
