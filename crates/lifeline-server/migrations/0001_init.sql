-- Lifeline schema (SQLite and PostgreSQL alike). Times are unix seconds; JSON is stored as TEXT.
CREATE TABLE products (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    created_at BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT
);
CREATE TABLE licenses (
    id TEXT PRIMARY KEY,
    product TEXT NOT NULL REFERENCES products (id),
    licensee TEXT NOT NULL,
    entitlements TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    grace_s BIGINT NOT NULL,
    seats BIGINT,
    metadata TEXT NOT NULL,
    kid TEXT NOT NULL REFERENCES signing_keys (kid),
    token TEXT NOT NULL,
    revoked_at BIGINT,
    revoke_reason TEXT,
    idempotency_key TEXT UNIQUE,
    request_hash TEXT
);
CREATE INDEX licenses_product ON licenses (product, id);
CREATE INDEX licenses_licensee ON licenses (licensee, id);
CREATE INDEX licenses_expires ON licenses (expires_at);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- One row: the chain's head. Every write transaction updates it first, which serializes
-- writers (SQLite's write lock, PostgreSQL's row lock) so the chain never forks.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
