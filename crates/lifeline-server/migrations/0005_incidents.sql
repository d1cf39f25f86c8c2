-- Nodes, incidents and webhooks. Times are unix seconds; JSON is stored as TEXT.
-- Every node registers itself at start and refreshes last_seen every few seconds; a node
-- whose heartbeat is older than the rules' window is unreachable.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
-- Incidents opened by the rules engine. node_id is the node whose figures opened it (for
-- rules over one node's in-memory figures, that node judges when the condition clears).
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    title TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    node_id TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    resolved_at BIGINT,
    affected_json TEXT NOT NULL,
    evidence_json TEXT NOT NULL
);
-- At most one unresolved incident per rule and subject, whichever node evaluates: inserts
-- use ON CONFLICT DO NOTHING.
CREATE UNIQUE INDEX incidents_unresolved ON incidents (rule, subject) WHERE status <> 'resolved';
CREATE INDEX incidents_opened ON incidents (opened_at, id);
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('opened', 'evidence', 'acknowledged', 'note', 'resolved')),
    actor TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
-- Webhook endpoints. The secret signs messages, so it is stored; it is never listed.
-- events is a comma-separated list with a comma at each end (",incident.opened,").
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    disabled_at BIGINT,
    deleted_at BIGINT
);
-- The outbox: one row per message and endpoint, written in the transaction of the event, so
-- nothing is lost on a crash. msg_id is the stable webhook-id of every attempt.
CREATE TABLE webhook_outbox (
    msg_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    failed_at BIGINT,
    last_error TEXT,
    PRIMARY KEY (msg_id, webhook_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
