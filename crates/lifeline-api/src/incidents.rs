//! Nodes, incidents (opened by rules) and their timelines.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A server node sharing the store (`GET /api/v1/nodes`); each registers a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodeInfo {
    /// Generated when the node starts.
    pub id: String,
    /// Where clients reach it (its public URL).
    pub url: String,
    /// When it started.
    pub started_at: u64,
    /// Its latest heartbeat.
    pub last_seen: u64,
    /// Whether the heartbeat is recent (the `node_unreachable` rule's window).
    pub reachable: bool,
}

/// How urgent an incident is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Someone should look today.
    Warning,
    /// Users are or will soon be affected: page.
    Critical,
}

/// Where an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Firing, nobody has acknowledged it.
    Open,
    /// Firing, someone is on it.
    Acknowledged,
    /// The condition cleared.
    Resolved,
}

/// An incident opened by a rule (`GET /api/v1/incidents`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Incident {
    /// Its id.
    pub id: String,
    /// The rule that opened it (`validation_failure_ratio`, `node_unreachable`, ...).
    pub rule: String,
    /// What it is about (`node:ID`, `service:NAME`, `key:KID`, ...): one unresolved
    /// incident per rule and subject.
    pub subject: String,
    /// One line for people.
    pub title: String,
    /// How urgent.
    pub severity: Severity,
    /// Where it stands.
    pub status: IncidentStatus,
    /// When it opened.
    pub opened_at: u64,
    /// When it was acknowledged.
    pub acknowledged_at: Option<u64>,
    /// Who acknowledged it (API token id and name).
    pub acknowledged_by: Option<String>,
    /// When it resolved.
    pub resolved_at: Option<u64>,
    /// What it affects, when known: `products`, `licensees`, `services`, `nodes`, `keys`.
    pub affected: Value,
    /// The figures that made the rule fire (the latest snapshot).
    pub evidence: Value,
}

/// One entry of an incident's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncidentEvent {
    /// When.
    pub at: u64,
    /// `opened`, `evidence`, `acknowledged`, `note` or `resolved`.
    pub kind: String,
    /// Who: `system` (the rules engine) or an API token.
    pub actor: String,
    /// What happened, for people.
    pub text: String,
}

/// `GET /api/v1/incidents/{id}`: an incident with its timeline, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// Its timeline.
    pub timeline: Vec<IncidentEvent>,
}

/// `POST /api/v1/incidents/{id}/notes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentNote {
    /// The note: 1–4096 characters.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 4096)))]
    pub text: String,
}

/// Every incident rule's id (the server's rules engine; the console's rule filter).
pub const INCIDENT_RULES: [&str; 10] = [
    "validation_failure_ratio",
    "edge_failure_ratio",
    "validation_latency_p99",
    "node_unreachable",
    "signing_key_expiry",
    "publication_failures",
    "reason_surge",
    "degraded_verdicts",
    "seat_exhaustion",
    "activation_surge",
];
