-- Temporary overrides. A row is pending while `token` is NULL (it waits for a second
-- admin), active once signed, until `expires_at` or `revoked_at`. `created_by_token` is the
-- creating API token's id: the approver's must differ (the two-person rule).
CREATE TABLE overrides (
    id TEXT PRIMARY KEY,
    token TEXT,
    scope_type TEXT NOT NULL CHECK (scope_type IN ('license', 'licensee', 'product', 'all')),
    scope_value TEXT,
    effect_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    incident TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_token TEXT NOT NULL REFERENCES api_tokens (id),
    expires_at BIGINT NOT NULL,
    approved_by TEXT,
    approved_at BIGINT,
    revoked_at BIGINT,
    revoke_reason TEXT,
    revoked_by TEXT
);
-- Every validating node re-reads the active ones every few seconds: signed, not revoked,
-- not yet expired.
CREATE INDEX overrides_active ON overrides (expires_at) WHERE token IS NOT NULL AND revoked_at IS NULL;
-- Listing, newest first.
CREATE INDEX overrides_created ON overrides (created_at, id);
