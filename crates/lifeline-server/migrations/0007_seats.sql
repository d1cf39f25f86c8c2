-- Seats: machines activated against a license. fingerprint is a keyed hash (HMAC-SHA256
-- with seat_secret) of what the machine sent, never the fingerprint itself. mode,
-- heartbeat_s and linger_s are copied from the license's signed seat policy at activation.
-- A seat counts while it is alive or borrowed, and while a released seat lingers
-- (holds_until > now).
CREATE TABLE seats (
    id TEXT PRIMARY KEY,
    license_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    name TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('node_locked', 'floating')),
    heartbeat_s BIGINT NOT NULL,
    node TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_heartbeat BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('alive', 'borrowed', 'released', 'reclaimed')),
    borrowed_until BIGINT,
    holds_until BIGINT,
    ended_at BIGINT,
    end_cause TEXT CHECK (end_cause IN ('released', 'expired', 'admin')),
    end_reason TEXT
);
-- One live seat per machine and license: re-activating reuses it.
CREATE UNIQUE INDEX seats_live_fingerprint ON seats (license_id, fingerprint)
    WHERE status IN ('alive', 'borrowed');
CREATE INDEX seats_by_license ON seats (license_id, status);
CREATE INDEX seats_by_status ON seats (status, last_heartbeat);
-- The key of the fingerprints' keyed hash, made on first use.
CREATE TABLE seat_secret (
    id INTEGER PRIMARY KEY,
    secret TEXT NOT NULL
);
-- The service clock: every node's seat sweep moves last_tick forward. A gap longer than a
-- few sweeps means no node could sweep or write: the gap is recorded as an outage.
CREATE TABLE service_clock (
    id INTEGER PRIMARY KEY,
    last_tick BIGINT NOT NULL
);
INSERT INTO service_clock (id, last_tick) VALUES (1, 0);
-- Spans when heartbeats could not be taken: the whole service (node NULL), or one node
-- unreachable (node set: it counts for the seats that node last answered for).
CREATE TABLE service_outages (
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    cause TEXT NOT NULL,
    node TEXT
);
CREATE INDEX service_outages_by_end ON service_outages (end_at);
