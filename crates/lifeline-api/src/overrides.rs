//! Temporary overrides: what the API takes and shows of them.

use serde::{Deserialize, Serialize};

/// Which licenses an override covers: the core's type, as the override token carries it.
pub use lifeline_core::Scope as OverrideScope;

/// What an override does: the core's type, as the override token carries it.
pub use lifeline_core::Effect as OverrideEffect;

/// `POST /api/v1/overrides`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateOverride {
    /// What it covers.
    pub scope: OverrideScope,
    /// What it does.
    pub effect: OverrideEffect,
    /// When it ends, unix seconds. More than 72 hours ahead needs a second admin's approval.
    pub expires_at: u64,
    /// Why (required).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024)))]
    pub reason: String,
    /// The incident reference (required).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024)))]
    pub incident: String,
}

/// Where an override stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeOverride {
    /// Why (kept in the audit log).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024)))]
    pub reason: String,
}
