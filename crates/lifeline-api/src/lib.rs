//! The Lifeline server's HTTP API as plain serde types: what the server accepts and returns,
//! and what the CLI and the console send and read. No HTTP framework, no logic.
//!
//! Times are unix seconds. Every error response is an RFC 9457 `application/problem+json`
//! [`Problem`] with a stable `code`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An RFC 9457 problem document; `code` is stable and machine-readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` or `urn:lifeline:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short, human-readable summary.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable snake_case code, e.g. `unauthorized`, `not_found`, `invalid_body`.
    pub code: String,
}

/// Roles of API tokens, from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything except secrets.
    Viewer,
    /// Viewer, plus issuing and revoking licenses.
    Operator,
    /// Operator, plus keys, tokens and products.
    Admin,
}

impl Role {
    /// The role's name as in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// `POST /api/v1/products`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// Product id, used as the licenses' `aud`: 1–64 of `a-z 0-9 . _ -`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Product id (`aud`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: u64,
}

/// `POST /api/v1/licenses` (and each item of a bulk request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueLicense {
    /// Product id.
    pub product: String,
    /// Licensee (`sub`).
    pub licensee: String,
    /// Features granted.
    #[serde(default)]
    pub entitlements: Vec<String>,
    /// Expiry, unix seconds.
    pub expires_at: u64,
    /// Grace period after expiry, seconds.
    #[serde(default)]
    pub grace_s: u64,
    /// Seats, if limited.
    #[serde(default)]
    pub seats: Option<u32>,
    /// How long the license works with no validation node reachable, counted from the last
    /// signed lease (claim `offline_grace_s`; 0 = the product fails closed). Absent: the
    /// client's default (72 h). At most a year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_grace_s: Option<u64>,
    /// Free-form metadata kept with the record (not signed into the token).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// What the server knows about a license right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseState {
    /// Usable and not yet expired.
    Valid,
    /// Past expiry, inside its grace period.
    Grace,
    /// Past expiry and grace.
    Expired,
    /// Revoked by an operator.
    Revoked,
}

/// A license record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    /// License id (`jti`).
    pub id: String,
    /// Product id (`aud`).
    pub product: String,
    /// Licensee (`sub`).
    pub licensee: String,
    /// Features granted.
    pub entitlements: Vec<String>,
    /// Issued at.
    pub issued_at: u64,
    /// Expiry.
    pub expires_at: u64,
    /// Grace period after expiry, seconds.
    pub grace_s: u64,
    /// Seats, if limited.
    pub seats: Option<u32>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// The signing key.
    pub kid: String,
    /// The signed token to hand to the customer.
    pub token: String,
    /// State as of the response.
    pub state: LicenseState,
    /// When it was revoked, if it was.
    pub revoked_at: Option<u64>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

/// `POST /api/v1/licenses/bulk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkIssue {
    /// Up to 10,000 licenses, issued all-or-nothing.
    pub licenses: Vec<IssueLicense>,
}

/// Response of a bulk issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkIssued {
    /// The licenses, in request order.
    pub licenses: Vec<License>,
}

/// A page of licenses (`GET /api/v1/licenses`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensePage {
    /// This page.
    pub items: Vec<License>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/licenses/{id}/revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeLicense {
    /// Why (kept in the record and the audit log).
    pub reason: String,
}

/// Whether a signing key signs new licenses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new licenses and leases.
    Active,
    /// Rotated out: verifies what it signed, signs nothing new.
    Retired,
}

/// A signing key as the API shows it (public part only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    /// Key id.
    pub kid: String,
    /// Active or retired.
    pub status: KeyStatus,
    /// Created at.
    pub created_at: u64,
    /// Start of its signing window.
    pub not_before: u64,
    /// End of its signing window (set when rotated out).
    pub not_after: Option<u64>,
    /// For the active key: when it should be rotated by (a year after its window opened).
    #[serde(default)]
    pub rotate_by: Option<u64>,
    /// The public JWK.
    pub public_jwk: Value,
}

/// `POST /api/v1/validate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The license token.
    pub token: String,
    /// The client instance (machine, deployment) asking; named in the lease.
    #[serde(default)]
    pub instance: Option<String>,
}

/// Response of `validate`: the core's verdict, what the server knows, and a signed lease.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidateResponse {
    /// The verdict as `lifeline verify` prints it, with the server's knowledge applied
    /// (a revoked license is `invalid` with reason `revoked`).
    pub verdict: Value,
    /// Whether the server has revoked this license.
    pub revoked: bool,
    /// A short-lived lease (`typ` `lifeline-lease+jwt`) signed by the answering node: `sub`
    /// (license id), `state`, `reason`, `iat`, `exp`, `seq` (increasing). Permission when
    /// the state is usable, a signed refusal otherwise; clients cache it and verify it
    /// offline. Absent only when the token itself is not authentic.
    pub lease: Option<String>,
    /// When the lease expires.
    pub lease_expires_at: Option<u64>,
    /// Active override tokens (`lifeline-override+jwt`) covering this license: a client may
    /// keep them and apply them offline until they expire.
    #[serde(default)]
    pub overrides: Vec<String>,
}

/// `POST /api/v1/tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    /// A label for people.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Optional expiry, unix seconds.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

/// A created API token: the secret is shown once, here, and stored only hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenCreated {
    /// Token id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The bearer secret (`ll_...`). Store it now: it cannot be shown again.
    pub token: String,
    /// Expiry, if any.
    pub expires_at: Option<u64>,
}

/// One audit event. Events form a hash chain: `hash = SHA-256(prev_hash || canonical event)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When.
    pub at: u64,
    /// Who: the API token's id and name, or `system`.
    pub actor: String,
    /// What: `license.issued`, `license.revoked`, `key.rotated`, `token.created`, ...
    pub action: String,
    /// The object acted on (license id, kid, ...).
    pub subject: String,
    /// State before, if any.
    pub before: Option<Value>,
    /// State after, if any.
    pub after: Option<Value>,
    /// Hash of the previous event (hex), 64 zeros for the first.
    pub prev_hash: String,
    /// This event's hash (hex).
    pub hash: String,
}

/// A page of audit events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Events in ascending `seq` (descending with `order=desc`).
    pub items: Vec<AuditEvent>,
    /// Pass as `after` for the next page (ascending order).
    pub next_after: Option<u64>,
    /// Pass as `before` for the next page (descending order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// `GET /api/v1/audit/verify`: whether the whole hash chain checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditIntegrity {
    /// Every event's hash chains to the previous one.
    pub intact: bool,
    /// Events checked (up to the first break).
    pub events: u64,
    /// The last event's hash, when intact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// What is wrong, when not intact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `GET /api/v1/session`: who the presented bearer token is (the console signs in with it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The API token's id.
    pub token_id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it expires, if it does.
    pub expires_at: Option<u64>,
}

/// `POST /api/v1/licenses/{id}/extend`: re-signs the license (same id) with a later expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendLicense {
    /// The new expiry, unix seconds: later than the current one.
    pub expires_at: u64,
    /// Why (kept in the audit log).
    pub reason: String,
}

/// Licenses by the server's state (`GET /api/v1/overview`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// Usable, not expired.
    pub valid: u64,
    /// Expired, inside grace.
    pub grace: u64,
    /// Past expiry and grace.
    pub expired: u64,
    /// Revoked.
    pub revoked: u64,
    /// Past expiry (in grace or expired, not revoked) and covered by an active override
    /// that can keep them usable (effect `valid` or `extend_grace`).
    #[serde(default)]
    pub overridden: u64,
}

/// One minute of this node's `validate` traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinuteStats {
    /// Start of the minute, unix seconds.
    pub start: u64,
    /// Validation requests answered.
    pub requests: u64,
    /// Requests answered with an error status (4xx/5xx) instead of a verdict.
    pub errors: u64,
    /// Verdicts that were not usable (`invalid`).
    pub failures: u64,
    /// Latency percentiles in milliseconds (upper bounds of histogram buckets); absent
    /// when the minute had no requests.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
}

/// How often one reason made a verdict unusable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    /// The verdict's reason code (`expired`, `revoked`, `bad_signature`, ...).
    pub reason: String,
    /// How many verdicts over the window.
    pub count: u64,
}

/// `GET /api/v1/overview`: what an on-call engineer needs first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// The server's clock, unix seconds.
    pub now: u64,
    /// All licenses by state.
    pub licenses: StateCounts,
    /// The window "expiring soon" means, seconds.
    pub expiring_window_s: u64,
    /// How many usable licenses expire within the window.
    pub expiring_soon_total: u64,
    /// The first of them, soonest first (at most 10).
    pub expiring_soon: Vec<License>,
    /// This node's validation traffic, one entry per minute over the last hour, oldest first.
    pub validation: Vec<MinuteStats>,
    /// Unusable verdicts by reason over the last hour, most frequent first.
    pub failures_by_reason: Vec<ReasonCount>,
    /// Field verifiers' verdicts as this node received them through `POST
    /// /api/v1/telemetry`, one entry per minute over the last hour, oldest first:
    /// `requests` = verdicts, `failures` = `invalid` ones, `errors` = 0.
    #[serde(default)]
    pub edge: Vec<MinuteStats>,
    /// The field verifiers' unusable verdicts by reason over the last hour, most frequent
    /// first.
    #[serde(default)]
    pub edge_failures_by_reason: Vec<ReasonCount>,
    /// The services whose verifiers reported telemetry to this node in the last hour.
    #[serde(default)]
    pub services: Vec<ServiceSeen>,
    /// Incidents not yet resolved (open or acknowledged).
    #[serde(default)]
    pub open_incidents: u64,
}

/// `POST /api/v1/telemetry`: what one verifier instance saw over a window (the shape of
/// `lifeline_core::VerifyStats`, as `verifier.stats()` returns it; camelCase names are
/// accepted too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryReport {
    /// The service embedding the verifier: 1–128 of `A-Z a-z 0-9 . _ - : /`.
    pub service: String,
    /// The instance (machine, pod, browser session): same charset.
    pub instance: String,
    /// Start of the window the counts cover, unix seconds.
    #[serde(alias = "windowStart")]
    pub window_start: u64,
    /// End of the window, unix seconds (not before `window_start`).
    #[serde(alias = "windowEnd")]
    pub window_end: u64,
    /// Verdicts by state (`valid`, `grace`, `invalid`, `override`, `offline`).
    #[serde(alias = "byState")]
    pub by_state: std::collections::BTreeMap<String, u64>,
    /// Verdicts by reason code (at most 64 codes).
    #[serde(default, alias = "byReason")]
    pub by_reason: std::collections::BTreeMap<String, u64>,
    /// Cumulative counts per latency bucket, then `+Inf` (= `count`).
    #[serde(alias = "latencyBuckets")]
    pub latency_buckets: Vec<u64>,
    /// The buckets' upper bounds in seconds: exactly `lifeline_core::LATENCY_BUCKETS_SECS`.
    #[serde(alias = "latencyBoundsSeconds", alias = "latency_bounds_secs")]
    pub latency_bounds_seconds: Vec<f64>,
    /// Sum of the measured durations, seconds (informational).
    #[serde(
        default,
        alias = "latencySumSeconds",
        alias = "latency_sum_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency_sum_seconds: Option<f64>,
    /// Verdicts recorded.
    pub count: u64,
    /// The counts are totals since the verifier started (as `verifier.stats()` keeps them)
    /// rather than this window's: the server counts only what grew since the same instance's
    /// previous report with the same `window_start`.
    #[serde(default)]
    pub cumulative: bool,
    /// Ignored (the WASM verifier's cache figures).
    #[serde(default, alias = "cacheHits", skip_serializing_if = "Option::is_none")]
    pub cache_hits: Option<u64>,
    /// Ignored.
    #[serde(
        default,
        alias = "cachedTokens",
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_tokens: Option<u64>,
}

/// Response of `POST /api/v1/telemetry` (202).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryAccepted {
    /// Verdicts the report added (for a cumulative report: what grew since the previous).
    pub counted: u64,
}

/// A service seen through telemetry (`GET /api/v1/overview`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSeen {
    /// The service's name.
    pub service: String,
    /// Distinct instances that reported in the last hour.
    pub instances: u64,
    /// The latest report, unix seconds.
    pub last_seen: u64,
}

/// A server node sharing the store (`GET /api/v1/nodes`); each registers a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Someone should look today.
    Warning,
    /// Users are or will soon be affected: page.
    Critical,
}

/// Where an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// Its timeline.
    pub timeline: Vec<IncidentEvent>,
}

/// `POST /api/v1/incidents/{id}/notes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentNote {
    /// The note: 1–4096 characters.
    pub text: String,
}

/// What a webhook endpoint is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WebhookEventType {
    /// A rule opened an incident.
    #[serde(rename = "incident.opened")]
    IncidentOpened,
    /// An incident's condition cleared.
    #[serde(rename = "incident.resolved")]
    IncidentResolved,
    /// A license was revoked.
    #[serde(rename = "license.revoked")]
    LicenseRevoked,
    /// An override became active (signed at creation or on approval).
    #[serde(rename = "override.issued")]
    OverrideIssued,
}

impl WebhookEventType {
    /// Every event type.
    pub const ALL: [Self; 4] = [
        Self::IncidentOpened,
        Self::IncidentResolved,
        Self::LicenseRevoked,
        Self::OverrideIssued,
    ];

    /// The name as in JSON and in the message's `type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::IncidentOpened => "incident.opened",
            Self::IncidentResolved => "incident.resolved",
            Self::LicenseRevoked => "license.revoked",
            Self::OverrideIssued => "override.issued",
        }
    }
}

/// `POST /api/v1/webhooks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where to POST: an `http` or `https` URL.
    pub url: String,
    /// The events to send (at least one).
    pub events: Vec<WebhookEventType>,
}

/// A webhook endpoint as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Where messages go.
    pub url: String,
    /// What it is sent.
    pub events: Vec<WebhookEventType>,
    /// When it was created.
    pub created_at: u64,
    /// Messages that exhausted their retries in a row (reset by a delivery).
    pub consecutive_failures: u64,
    /// When it was disabled after too many failed messages (nothing more is sent).
    pub disabled_at: Option<u64>,
}

/// A created webhook endpoint: the signing secret is shown once, here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookCreated {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The Standard Webhooks signing secret (`whsec_<base64>`): verify `webhook-signature`
    /// with it. Store it now: it cannot be shown again.
    pub secret: String,
}

/// Which licenses an override covers (the same shape as the override token's `scope`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum OverrideScope {
    /// One license, by id.
    License(String),
    /// Every license of one licensee.
    Licensee(String),
    /// Every license for one product.
    Product(String),
    /// Every license.
    All,
}

/// What an override does (the same shape as the override token's `effect`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OverrideEffect {
    /// Usable though expired or signed outside its key's window, until the override ends.
    Valid,
    /// Extra entitlements for usable licenses.
    Entitlements {
        /// The entitlements added.
        add: Vec<String>,
    },
    /// A longer grace period.
    ExtendGrace {
        /// Extra seconds.
        secs: u64,
    },
}

/// `POST /api/v1/overrides`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOverride {
    /// What it covers.
    pub scope: OverrideScope,
    /// What it does.
    pub effect: OverrideEffect,
    /// When it ends, unix seconds. More than 72 hours ahead needs a second admin's approval.
    pub expires_at: u64,
    /// Why (required).
    pub reason: String,
    /// The incident reference (required).
    pub incident: String,
}

/// Where an override stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideStatus {
    /// Signed and in force.
    Active,
    /// Longer than the policy allows alone: waits for a second admin.
    PendingApproval,
    /// Past its end.
    Expired,
    /// Withdrawn.
    Revoked,
}

/// An override as the server keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideRecord {
    /// Its id (the token's `jti`).
    pub id: String,
    /// What it covers.
    pub scope: OverrideScope,
    /// What it does.
    pub effect: OverrideEffect,
    /// Why.
    pub reason: String,
    /// The incident.
    pub incident: String,
    /// Created at.
    pub created_at: u64,
    /// Who created it (API token id and name).
    pub created_by: String,
    /// When it ends.
    pub expires_at: u64,
    /// Who approved it, when approval was needed.
    pub approved_by: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<u64>,
    /// Where it stands now.
    pub status: OverrideStatus,
    /// The signed token (`lifeline-override+jwt`), once active.
    pub token: Option<String>,
}

/// `POST /api/v1/overrides/{id}/revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeOverride {
    /// Why (kept in the audit log).
    pub reason: String,
}

// ---------------------------------------------------------------------------------------
// Dependency map (`GET /api/v1/map`): who owns each licensing part, how healthy it is, what
// depends on it, and which parts are single points of failure.
// ---------------------------------------------------------------------------------------

/// What a component of the dependency map is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// A license signing key of the server's key ring (`key:KID`).
    SigningKey,
    /// The emergency override key, kept offline (`override-key:KID`; `override-key` when
    /// none is configured).
    OverrideKey,
    /// A server node sharing the store (`node:ID`).
    Node,
    /// The license store (`store`), or its declared replica (`store-replica`).
    Store,
    /// The signed status list (`status-list`).
    StatusList,
    /// The signed override bundle (`override-bundle`).
    OverrideBundle,
    /// A webhook endpoint (`webhook:ID`).
    Webhook,
    /// A service embedding a verifier, learned from telemetry (`service:NAME`).
    Service,
}

impl ComponentKind {
    /// Every kind, in the order the map lists them.
    pub const ALL: [Self; 8] = [
        Self::Service,
        Self::Node,
        Self::StatusList,
        Self::OverrideBundle,
        Self::Webhook,
        Self::Store,
        Self::SigningKey,
        Self::OverrideKey,
    ];

    /// The name as in JSON (and as an owners file names a kind).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SigningKey => "signing_key",
            Self::OverrideKey => "override_key",
            Self::Node => "node",
            Self::Store => "store",
            Self::StatusList => "status_list",
            Self::OverrideBundle => "override_bundle",
            Self::Webhook => "webhook",
            Self::Service => "service",
        }
    }
}

/// How a component is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Working.
    Ok,
    /// Working, but someone should look (rotation due soon, failures creeping up, missing).
    Warning,
    /// Not working, or about to stop.
    Critical,
    /// Nothing to judge from (no recent figures, not probed).
    Unknown,
}

impl Health {
    /// The name as in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Critical => "critical",
            Self::Unknown => "unknown",
        }
    }
}

/// One component of the dependency map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapComponent {
    /// Stable id: `key:KID`, `node:ID`, `store`, `service:NAME`, ...
    pub id: String,
    /// What it is.
    pub kind: ComponentKind,
    /// For people.
    pub name: String,
    /// Who owns it (the owners file; `unassigned` when it names nobody).
    pub owner: String,
    /// How it is doing.
    pub health: Health,
    /// Why, for people.
    pub reason: String,
    /// A part that should exist and does not (no emergency override key configured).
    pub missing: bool,
    /// Losing this component alone stops at least one other component (see `breaks`).
    pub single_point_of_failure: bool,
    /// The components that stop working if this one alone is lost (alternatives
    /// considered; nodes already unreachable count as lost), by id.
    pub breaks: Vec<String>,
    /// Every component depending on this one, directly or transitively, by id.
    pub blast_radius: Vec<String>,
    /// Usable licenses (valid or in grace) affected if it is lost, when cheap to tell:
    /// those a signing key signed; every usable license when losing it stops online
    /// validation or the status list. `None` when not known.
    pub licenses_affected: Option<u64>,
    /// Products of those licenses.
    pub products_affected: Option<u64>,
}

/// "`from` depends on `to`". Edges of one `from` with the same `requirement` are
/// alternatives: `from` works while any one of their `to` works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEdge {
    /// The dependent component's id.
    pub from: String,
    /// The component it depends on.
    pub to: String,
    /// What `from` needs (`nodes`, `store`, `signing_key`, `status_list`, `overrides`).
    pub requirement: String,
}

/// `GET /api/v1/map`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyMap {
    /// When it was computed.
    pub now: u64,
    /// Every component, grouped by kind (in [`ComponentKind::ALL`]'s order), then by id.
    pub components: Vec<MapComponent>,
    /// Every "depends on" edge.
    pub edges: Vec<MapEdge>,
    /// The ids of the components flagged `single_point_of_failure`.
    pub single_points_of_failure: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Fault injection (`lifeline serve --danger-fault-injection` only) and drill reports.
// ---------------------------------------------------------------------------------------

/// The faults a node simulates. All off by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The node is cut off: it drops every connection (the API too), stops its heartbeat and
    /// its rule evaluation. Needs `for_ms`, since nothing can reach the node to clear it.
    pub partition: bool,
    /// Every `validate` waits this long before it is answered (a hanging node), ms.
    pub hang_validate_ms: u64,
    /// This node's clock reads this many seconds ahead (negative: behind).
    pub clock_offset_s: i64,
    /// `validate` answers with the first answer this node gave for the same request (a
    /// replayed old lease), when it has one.
    pub replay_answers: bool,
    /// The node holds an exclusive lock on the store: other writers wait, then fail.
    pub store_locked: bool,
}

/// `PUT /api/v1/faults`: the faults from now on (replacing the previous set).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// The faults.
    #[serde(default)]
    pub faults: Faults,
    /// Clear them by themselves after this long, ms (at most an hour).
    #[serde(default)]
    pub for_ms: Option<u64>,
    /// Once: move the active signing key's start this many seconds back, as if it had been in
    /// use that long (past the maximum key age it is overdue for rotation).
    #[serde(default)]
    pub age_signing_key_s: u64,
}

/// `GET`/`PUT /api/v1/faults`: what the node simulates now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultState {
    /// The faults in force.
    pub faults: Faults,
    /// When they clear by themselves, unix ms.
    pub until_ms: Option<u64>,
}

/// Every incident rule's id (the server's rules engine; the console's rule filter).
pub const INCIDENT_RULES: [&str; 8] = [
    "validation_failure_ratio",
    "edge_failure_ratio",
    "validation_latency_p99",
    "node_unreachable",
    "signing_key_expiry",
    "publication_failures",
    "reason_surge",
    "degraded_verdicts",
];

/// Every drill `lifeline drill list` names, in its order (the console lists them too, so a
/// drill never run shows; a CLI test keeps this list and the drills in step).
pub const DRILL_NAMES: [&str; 12] = [
    "expired-signing-key",
    "key-rotated-mid-traffic",
    "one-node-down",
    "all-nodes-down",
    "node-hanging",
    "corrupted-license-file",
    "corrupted-lease-cache",
    "clock-skewed-ahead",
    "clock-set-back",
    "replayed-old-lease",
    "revoked-during-outage",
    "store-unavailable",
];

/// A drill's measured times, ms from the fault's injection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillTimes {
    /// Until the fault was detected (an incident opened, or readiness lost); `None`: not
    /// detected by the servers.
    pub detect_ms: Option<u64>,
    /// From the fault's end until verifiers got online answers again and the incident (if
    /// any) resolved; `None`: did not recover within the drill.
    pub recover_ms: Option<u64>,
    /// The whole drill.
    pub total_ms: u64,
}

/// What the drill's verifiers saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierOutcomes {
    /// Checks made.
    pub checks: u64,
    /// Checks whose verdict was usable.
    pub usable: u64,
    /// Checks that refused a license that should have been usable (users locked out).
    pub lockouts: u64,
    /// Verdicts by state.
    pub states: std::collections::BTreeMap<String, u64>,
    /// Verdicts by reason (verdicts without one are not counted here).
    pub reasons: std::collections::BTreeMap<String, u64>,
}

/// One expectation of a drill and whether it held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillExpectation {
    /// What was expected.
    pub expected: String,
    /// Whether it held.
    pub met: bool,
    /// What was seen.
    pub observed: String,
}

/// A drill's report (`lifeline drill run NAME --json`; stored by `POST /api/v1/drills`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillReport {
    /// The drill (kebab-case).
    pub name: String,
    /// The fault injected.
    pub fault: String,
    /// Every expectation met.
    pub passed: bool,
    /// Started at, unix seconds.
    pub started_at: u64,
    /// What detected the fault (an incident rule, `readyz`), if anything did.
    pub detected_by: Option<String>,
    /// Measured times.
    pub times: DrillTimes,
    /// What verifiers saw.
    pub verifiers: VerifierOutcomes,
    /// The expectations, each with what was seen.
    pub expectations: Vec<DrillExpectation>,
    /// Anything else worth reading.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A stored drill report (`GET /api/v1/drills`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDrillReport {
    /// Its id.
    pub id: String,
    /// When the server received it, unix seconds.
    pub received_at: u64,
    /// Who sent it (API token).
    pub received_from: String,
    /// The report.
    pub report: DrillReport,
}
