//! Seats: machines activated against a license (node-locked or floating), their heartbeats,
//! release and borrowing, and what operators see of them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use lifeline_core::{Overage, SeatMode, SeatRefusal, SeatState};

/// `POST /api/v1/seats`: a machine asks for a seat. The license token is its credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ActivateSeat {
    /// The license token.
    pub token: String,
    /// A stable identifier of the machine (the libraries have a default per runtime): 1–256
    /// characters. The server keeps only a keyed hash of it.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 256)))]
    pub fingerprint: String,
    /// A name people recognise (host name, user), at most 256 characters.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 256)))]
    pub name: Option<String>,
}

/// `POST /api/v1/seats/{id}/heartbeat` and `DELETE /api/v1/seats/{id}`: the machine that
/// holds the seat, proven by its license token and fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SeatHolder {
    /// The license token.
    pub token: String,
    /// The machine's fingerprint, as when it activated.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 256)))]
    pub fingerprint: String,
}

/// `POST /api/v1/seats/{id}/borrow`: hold the seat offline until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BorrowSeat {
    /// The license token.
    pub token: String,
    /// The machine's fingerprint, as when it activated.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 256)))]
    pub fingerprint: String,
    /// The end of the borrow, unix seconds: at most the license's `borrow_max_s` from now.
    pub until: u64,
}

/// A node's answer about a seat: the license's verdict and a seat lease signed by the node
/// (`typ` `lifeline-seat+jwt`), granted or refused with a code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SeatAnswer {
    /// The license's verdict, as `validate` gives it (a revoked license is `invalid`).
    pub verdict: Value,
    /// The seat, when there is one.
    pub seat_id: Option<String>,
    /// Held, borrowed or refused.
    pub state: SeatState,
    /// Why refused.
    pub reason: Option<SeatRefusal>,
    /// The signed seat lease: what the client keeps and verifies offline.
    pub lease: String,
    /// The lease's end: the heartbeat deadline, or the borrow's end.
    pub lease_expires_at: u64,
    /// Live seats of the license (lingering ones included).
    pub in_use: u32,
    /// The most seats alive at once (`seats` + overage).
    pub max: u32,
    /// Whether this seat is one of the overage allowance (granted, but beyond `seats`).
    pub overage: bool,
    /// The license's current token when the node holds a newer version than the one
    /// presented (as in `validate`'s answer): clients verify it and replace theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// Where a seat stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeatStatus {
    /// Held by a machine that heartbeats (or, node-locked, until released).
    Alive,
    /// Held offline until `borrowed_until`.
    Borrowed,
    /// Released by its machine or an admin (still counted while it lingers).
    Released,
    /// Taken back by the server: its heartbeats stopped.
    Reclaimed,
}

/// Why a seat ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeatEnd {
    /// Its machine released it.
    Released,
    /// No heartbeat for `heartbeat_s` of service time (time Lifeline was down never counts).
    Expired,
    /// An operator released it.
    Admin,
}

/// A seat, as operators see it (never the fingerprint: only the first characters of its
/// keyed hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Seat {
    /// Seat id.
    pub id: String,
    /// The license.
    pub license_id: String,
    /// The machine's name.
    pub name: String,
    /// The first 12 characters of the fingerprint's keyed hash (tells machines apart).
    pub fingerprint_hash: String,
    /// Node-locked or floating (from the license when activated).
    pub mode: SeatMode,
    /// The node that last answered for it.
    pub node: String,
    /// When it was activated.
    pub first_seen: u64,
    /// Its last activation, heartbeat or borrow.
    pub last_heartbeat: u64,
    /// Where it stands.
    pub status: SeatStatus,
    /// When its lease runs out without another heartbeat (alive), or the borrow ends.
    pub lease_expires_at: Option<u64>,
    /// The end of a borrow.
    pub borrowed_until: Option<u64>,
    /// When it was released or reclaimed.
    pub ended_at: Option<u64>,
    /// Why it ended.
    pub end_cause: Option<SeatEnd>,
    /// The operator's reason, for an admin release.
    pub end_reason: Option<String>,
}

/// `GET /api/v1/licenses/{id}/seats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LicenseSeats {
    /// The license.
    pub license_id: String,
    /// Seats sold (`None`: the license has no seats).
    pub seats: Option<u32>,
    /// Node-locked or floating.
    pub mode: Option<SeatMode>,
    /// The most seats alive at once (`seats` + overage).
    pub max: Option<u32>,
    /// Live seats now (lingering ones included).
    pub in_use: u32,
    /// Every seat, live ones first, then the most recent.
    pub items: Vec<Seat>,
}

/// `POST /api/v1/seats/{id}/release` (operator): end a seat on a machine's behalf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ForceReleaseSeat {
    /// Why (kept with the seat and in the audit log).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024)))]
    pub reason: String,
}
