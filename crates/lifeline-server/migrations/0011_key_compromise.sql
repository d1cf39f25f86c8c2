-- A leaked signing key: marked compromised (when, why, the operator's incident), its
-- licenses re-signed with the active key, and its issued list — the digest of every token
-- the key signed for a license, signed by a key that is not compromised — published at
-- /.well-known/lifeline/issued/KID. The list names the current token of each license and
-- every earlier version of it (license_versions: a re-signing keeps the token it replaces),
-- so a machine still holding an older version is not locked out either.
ALTER TABLE signing_keys ADD COLUMN compromised_at BIGINT;
ALTER TABLE signing_keys ADD COLUMN compromise_reason TEXT;
ALTER TABLE signing_keys ADD COLUMN compromise_incident TEXT;
CREATE TABLE license_versions (
    license_id TEXT NOT NULL REFERENCES licenses (id),
    version BIGINT NOT NULL,
    kid TEXT NOT NULL,
    token TEXT NOT NULL,
    replaced_at BIGINT NOT NULL,
    PRIMARY KEY (license_id, version)
);
CREATE INDEX license_versions_kid ON license_versions (kid);
CREATE TABLE issued_lists (
    kid TEXT PRIMARY KEY REFERENCES signing_keys (kid),
    token TEXT NOT NULL,
    licenses BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
