//! Signing keys, API tokens, the audit log and the caller's session.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::Role;

/// Whether a signing key signs new licenses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new licenses and leases.
    Active,
    /// Rotated out: verifies what it signed, signs nothing new.
    Retired,
    /// Its private key leaked: only the licenses on its issued list verify (see
    /// `compromised_at`, `issued_list`).
    Compromised,
}

/// A signing key as the API shows it (public part only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// When it was marked compromised, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromised_at: Option<u64>,
    /// Why (the operator's words), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromise_reason: Option<String>,
    /// The operator's incident reference, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromise_incident: Option<String>,
    /// For a compromised key: how many license tokens its published issued list names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_list_licenses: Option<u64>,
}

/// `POST /api/v1/keys/{kid}/compromise`: the key leaked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CompromiseKey {
    /// What happened (1–1024 characters; audited, shown in the incident).
    pub reason: String,
    /// The operator's incident reference, e.g. `INC-2041` (1–128 characters).
    pub incident: String,
}

/// One line of the `POST /api/v1/keys/{kid}/compromise` answer (`application/x-ndjson`:
/// progress lines while the licenses are re-signed, then the result or an error).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CompromiseLine {
    /// Licenses re-signed so far.
    Progress {
        /// Re-signed.
        done: u64,
        /// To re-sign in all.
        total: u64,
    },
    /// Done: the key is marked and everything published.
    Done(CompromiseReport),
    /// The recovery stopped (run the command again: it carries on where it stopped).
    Failed {
        /// Stable code.
        code: String,
        /// What went wrong.
        detail: String,
    },
}

/// What `keys compromise` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CompromiseReport {
    /// The compromised key.
    pub kid: String,
    /// When it was marked.
    pub compromised_at: u64,
    /// The key now signing (new when the compromised one was active).
    pub active_kid: String,
    /// Whether a new key was made (the compromised key was the active one).
    pub rotated: bool,
    /// Licenses re-signed with the active key.
    pub re_signed: u64,
    /// Seconds the re-signing took.
    pub re_sign_seconds: f64,
    /// Tokens on the issued list (each license's current token and its earlier versions).
    pub listed_tokens: u64,
    /// The issued list's size in bytes.
    pub list_bytes: u64,
    /// Where verifiers fetch it.
    pub issued_list_url: String,
    /// The incident opened (`key_compromised`).
    pub incident_id: Option<String>,
}

/// `POST /api/v1/tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    /// A label for people.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Optional expiry, unix seconds.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// The person the token is for (1–128 characters). Absent: the same person as the token
    /// that mints it. The two-person rule compares persons, so a token for someone else must
    /// name them (the audit log keeps who named whom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 128)))]
    pub principal: Option<String>,
}

/// A created API token: the secret is shown once, here, and stored only hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The person who holds it.
    pub principal: String,
}

/// One audit event. Events form a hash chain: `hash = SHA-256(prev_hash || canonical event)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SessionInfo {
    /// The API token's id.
    pub token_id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it expires, if it does.
    pub expires_at: Option<u64>,
    /// The person who holds it (the two-person rule compares these). Absent in a session
    /// a console stored before principals existed.
    #[serde(default)]
    pub principal: String,
}
