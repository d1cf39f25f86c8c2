-- Token Status List (IETF draft-ietf-oauth-status-list): each license gets an index; the
-- signed list at /api/v1/status-list has bit `index` set when that license is revoked.
ALTER TABLE licenses ADD COLUMN status_idx BIGINT;
CREATE UNIQUE INDEX licenses_status_idx ON licenses (status_idx);
CREATE TABLE status_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next BIGINT NOT NULL
);
INSERT INTO status_counter (id, next) VALUES (1, 0);
