-- Licenses that refresh themselves: every re-signing (extension, re-keying after a key
-- compromise) gives the license the next number of one store-wide counter, carried in the
-- token as `ver`. `validate` hands the stored token to a client presenting an older
-- version. The counter is store-wide so that a node can read what changed since it last
-- looked (`version > highest seen`); a license as first issued has version 0.
ALTER TABLE licenses ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX licenses_version ON licenses (version);
CREATE TABLE version_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next BIGINT NOT NULL
);
INSERT INTO version_counter (id, next) VALUES (1, 0);
