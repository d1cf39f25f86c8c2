//! Products, licenses (issue, bulk, list, revoke, extend) and online validation.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /api/v1/products`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// Product id, used as the licenses' `aud`: 1–64 of `a-z 0-9 . _ -`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Seats, if limited: machines activate against them (`POST /api/v1/seats`).
    #[serde(default)]
    pub seats: Option<u32>,
    /// With `seats`: `node_locked` (the default: a machine keeps its seat until released) or
    /// `floating` (a seat is held only while heartbeats arrive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_mode: Option<lifeline_core::SeatMode>,
    /// With `seats`: how often a seat must be renewed, seconds (10 to a year; floating 120,
    /// node-locked 86,400 by default). A floating seat without a heartbeat this long (time
    /// Lifeline was down never counts) is reclaimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 10, max = 31_536_000)))]
    pub heartbeat_s: Option<u64>,
    /// With `seats`: seats granted beyond `seats`, flagged (`{"fixed": N}` or
    /// `{"percent": P}`); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage: Option<lifeline_core::Overage>,
    /// With `seats`: a released seat still counts this long, seconds (0 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = 31_536_000)))]
    pub linger_s: Option<u64>,
    /// With `seats`: the longest a seat may be borrowed for planned offline use, seconds (0,
    /// the default: no borrowing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = 31_536_000)))]
    pub borrow_max_s: Option<u64>,
    /// How long the license works with no validation node reachable, counted from the last
    /// signed lease (claim `offline_grace_s`; 0 = the product fails closed). Absent: the
    /// client's default (72 h). At most a year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = 31_536_000)))]
    pub offline_grace_s: Option<u64>,
    /// Free-form metadata kept with the record (not signed into the token).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// What the server knows about a license right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The license's version (`ver` in its token): 0 as first issued, raised by every
    /// re-signing (extension, re-keying). Clients holding an older version get this token
    /// from their next `validate`.
    #[serde(default)]
    pub version: u64,
}

/// `POST /api/v1/licenses/bulk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkIssue {
    /// Up to 10,000 licenses, issued all-or-nothing.
    #[cfg_attr(feature = "schema", schemars(length(max = 10_000)))]
    pub licenses: Vec<IssueLicense>,
}

/// Response of a bulk issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BulkIssued {
    /// The licenses, in request order.
    pub licenses: Vec<License>,
}

/// A page of licenses (`GET /api/v1/licenses`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LicensePage {
    /// This page.
    pub items: Vec<License>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/licenses/{id}/revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeLicense {
    /// Why (kept in the record and the audit log).
    pub reason: String,
}

/// `POST /api/v1/validate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The license's current token when the node holds a newer version (`ver`) than the
    /// one presented (extended, re-signed with a new key): clients verify it and replace
    /// their license with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// `POST /api/v1/licenses/{id}/extend`: re-signs the license (same id) with a later expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExtendLicense {
    /// The new expiry, unix seconds: later than the current one.
    pub expires_at: u64,
    /// Why (kept in the audit log).
    pub reason: String,
}
