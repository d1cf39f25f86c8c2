//! Seats: the policy a license signs (how many machines, floating or node-locked, how often
//! a seat must be renewed, overage, linger, borrowing) and the seat lease a node signs for
//! one machine's seat, which the client verifies offline like the validation lease.
//!
//! ```text
//! license claims ──SeatPolicy::from_claims──▶ seats, mode, heartbeat_s, overage, linger_s, borrow_max_s
//! activate / heartbeat / borrow answer ──SeatLease::verify──▶ held | borrowed | refused (code), in use / max
//!                                          └─ SeatLease::is_for(license id, fingerprint): else it changes nothing
//! ```

use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::VerifyError;
use crate::members::{missing, string, time, wrong};
use crate::{KeySet, UnixTime, jws};

/// The `typ` of a seat lease.
pub const SEAT_TYP: &str = "lifeline-seat+jwt";
/// How often a floating seat must be renewed when the license does not say, seconds.
pub const DEFAULT_FLOATING_HEARTBEAT_S: u64 = 120;
/// How long a node-locked seat's lease lasts when the license does not say, seconds.
pub const DEFAULT_NODE_LOCKED_HEARTBEAT_S: u64 = 86_400;
/// The shortest `heartbeat_s` a license may set.
pub const MIN_HEARTBEAT_S: u64 = 10;
/// The longest `heartbeat_s`, `linger_s` or `borrow_max_s` a license may set (a year).
pub const MAX_SEAT_SECS: u64 = 365 * 86_400;

const SECS_FROM_10: &str = "an integer from 10 to 31536000 (seconds)";
const SECS_FROM_0: &str = "an integer from 0 to 31536000 (seconds)";

/// How seats are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeatMode {
    /// A machine stays activated until it is released (or an admin releases it); its lease
    /// is renewed every `heartbeat_s`.
    NodeLocked,
    /// Concurrent use: a seat is held only while heartbeats arrive; one missing for
    /// `heartbeat_s` of service time is reclaimed.
    Floating,
}

impl SeatMode {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NodeLocked => "node_locked",
            Self::Floating => "floating",
        }
    }
}

/// Seats granted beyond `seats`, flagged as overage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Overage {
    /// This many seats more (`{"fixed": 2}`).
    Fixed(u32),
    /// This percentage of `seats` more, rounded down (`{"percent": 20}`, at most 1000).
    Percent(u32),
}

impl Overage {
    /// The extra seats allowed on top of `seats`.
    pub fn allowance(self, seats: u32) -> u32 {
        match self {
            Self::Fixed(n) => n,
            Self::Percent(p) => {
                u32::try_from(u64::from(seats) * u64::from(p) / 100).unwrap_or(u32::MAX)
            }
        }
    }
}

/// The seat policy a license signs (claims `seats`, `seat_mode`, `heartbeat_s`, `overage`,
/// `linger_s`, `borrow_max_s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SeatPolicy {
    /// Seats sold.
    pub seats: u32,
    /// Node-locked (the default) or floating.
    pub mode: SeatMode,
    /// Floating: a seat without a heartbeat for this long (service time) is reclaimed.
    /// Both: a seat lease lasts this long.
    pub heartbeat_s: u64,
    /// Seats granted beyond `seats` (flagged); none by default.
    pub overage: Option<Overage>,
    /// A released seat still counts this long (FlexNet's LINGER); 0 by default.
    pub linger_s: u64,
    /// The longest a seat may be borrowed for planned offline use; 0 (the default): not
    /// allowed.
    pub borrow_max_s: u64,
}

impl SeatPolicy {
    /// Reads the policy from a license's claims: `None` when the license has no `seats`.
    pub(crate) fn from_raw(
        raw: &Map<String, Value>,
        seats: Option<u32>,
    ) -> Result<Option<Self>, VerifyError> {
        let Some(seats) = seats else {
            for claim in [
                "seat_mode",
                "heartbeat_s",
                "overage",
                "linger_s",
                "borrow_max_s",
            ] {
                if raw.contains_key(claim) {
                    return Err(wrong(claim, "absent when the license has no seats"));
                }
            }
            return Ok(None);
        };
        let mode = match raw.get("seat_mode") {
            None => SeatMode::NodeLocked,
            Some(Value::String(s)) if s == "node_locked" => SeatMode::NodeLocked,
            Some(Value::String(s)) if s == "floating" => SeatMode::Floating,
            Some(_) => return Err(wrong("seat_mode", "\"node_locked\" or \"floating\"")),
        };
        let secs = |claim: &'static str, min: u64, expected: &'static str| match raw.get(claim) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(s) if (min..=MAX_SEAT_SECS).contains(&s) => Ok(Some(s)),
                _ => Err(wrong(claim, expected)),
            },
        };
        let default_heartbeat = match mode {
            SeatMode::NodeLocked => DEFAULT_NODE_LOCKED_HEARTBEAT_S,
            SeatMode::Floating => DEFAULT_FLOATING_HEARTBEAT_S,
        };
        let overage = match raw.get("overage") {
            None | Some(Value::Null) => None,
            Some(v) => match serde_json::from_value::<Overage>(v.clone()) {
                Ok(Overage::Percent(p)) if p > 1000 => {
                    return Err(wrong("overage", "a percentage of at most 1000"));
                }
                Ok(o) => Some(o),
                Err(_) => {
                    return Err(wrong("overage", "{\"fixed\": N} or {\"percent\": P}"));
                }
            },
        };
        Ok(Some(Self {
            seats,
            mode,
            heartbeat_s: secs("heartbeat_s", MIN_HEARTBEAT_S, SECS_FROM_10)?
                .unwrap_or(default_heartbeat),
            overage,
            linger_s: secs("linger_s", 0, SECS_FROM_0)?.unwrap_or(0),
            borrow_max_s: secs("borrow_max_s", 0, SECS_FROM_0)?.unwrap_or(0),
        }))
    }

    /// The most seats alive at once: `seats` plus the overage allowance.
    pub fn limit(&self) -> u32 {
        self.seats
            .saturating_add(self.overage.map_or(0, |o| o.allowance(self.seats)))
    }
}

/// Why a node refused a seat (the seat lease's `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SeatRefusal {
    /// Every seat (and the overage allowance) is held.
    SeatsExhausted,
    /// The seat's heartbeat deadline passed and it was reclaimed: activate again.
    SeatExpired,
    /// The seat was released (by its machine or an admin): activate again.
    SeatReleased,
    /// The seat belongs to another fingerprint.
    FingerprintMismatch,
    /// The license allows no borrowing, or not for that long.
    BorrowNotAllowed,
    /// The license itself is not usable (see the answer's verdict).
    LicenseUnusable,
    /// The license has no `seats`: there is nothing to activate.
    NoSeats,
}

impl SeatRefusal {
    /// The stable snake_case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SeatsExhausted => "seats_exhausted",
            Self::SeatExpired => "seat_expired",
            Self::SeatReleased => "seat_released",
            Self::FingerprintMismatch => "fingerprint_mismatch",
            Self::BorrowNotAllowed => "borrow_not_allowed",
            Self::LicenseUnusable => "license_unusable",
            Self::NoSeats => "no_seats",
        }
    }
}

impl fmt::Display for SeatRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a seat lease says of the seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    /// The machine holds the seat until the lease's `exp` (renew before).
    Held,
    /// The machine holds the seat offline until the lease's `exp` (the borrow's end).
    Borrowed,
    /// No seat: see `reason`.
    Refused,
}

impl SeatState {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Borrowed => "borrowed",
            Self::Refused => "refused",
        }
    }
}

/// The hash of a machine's fingerprint that seat leases carry (`fph`): base64url SHA-256 of
/// `lifeline-seat`, the license id and the fingerprint, NUL-separated. Per license, so one
/// machine's hashes cannot be linked across licenses; the server stores only a keyed hash.
pub fn fingerprint_hash(license_id: &str, fingerprint: &str) -> String {
    let mut h = Sha256::new();
    for part in ["lifeline-seat", license_id, fingerprint] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    jws::encode(&h.finalize())
}

/// An authentic seat lease (only [`SeatLease::verify`] makes one). Time is not checked
/// here: the client compares `expires_at` with its clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeatLease {
    /// The license (`sub`).
    pub license_id: String,
    /// The seat (`seat`), absent when refused before a seat existed.
    pub seat_id: Option<String>,
    /// The fingerprint's [`fingerprint_hash`] (`fph`).
    pub fingerprint_hash: String,
    /// Held, borrowed or refused.
    pub state: SeatState,
    /// Why refused.
    pub reason: Option<SeatRefusal>,
    /// When the node signed it.
    pub issued_at: UnixTime,
    /// The heartbeat deadline (held) or the borrow's end (borrowed).
    pub expires_at: UnixTime,
    /// Increases with every lease of the node (milliseconds of its clock).
    pub seq: u64,
    /// Live seats of the license when signed.
    pub in_use: u32,
    /// The most seats alive at once (`seats` + overage).
    pub max: u32,
    /// The signing key.
    pub kid: String,
}

impl SeatLease {
    /// Authenticates a seat lease with the server's public keys and reads its claims.
    pub fn verify(token: &[u8], keys: &KeySet) -> Result<Self, VerifyError> {
        let jws::Authenticated { kid, key, payload } = jws::authenticate(token, SEAT_TYP, keys)?;
        if key.is_for_overrides_only() {
            return Err(VerifyError::KeyNotForLicenses { kid });
        }
        if key.is_revoked() {
            return Err(VerifyError::KeyRevoked { kid });
        }
        let lease = Self::from_claims(kid, &payload)?;
        key.check_signed_before_compromise(lease.issued_at)?;
        Ok(lease)
    }

    /// Reads a seat lease's claims (also checked before signing one).
    pub(crate) fn from_claims(kid: String, raw: &Map<String, Value>) -> Result<Self, VerifyError> {
        let count = |name: &'static str| -> Result<u32, VerifyError> {
            raw.get(name)
                .ok_or_else(|| missing(name))?
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| wrong(name, "an integer from 0 to 4294967295"))
        };
        let state = serde_json::from_value::<SeatState>(
            raw.get("state").cloned().ok_or_else(|| missing("state"))?,
        )
        .map_err(|_| wrong("state", "\"held\", \"borrowed\" or \"refused\""))?;
        let reason = match raw.get("reason") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value::<SeatRefusal>(v.clone())
                    .map_err(|_| wrong("reason", "a seat refusal code"))?,
            ),
        };
        if (state == SeatState::Refused) != reason.is_some() {
            return Err(wrong("reason", "present exactly when the state is refused"));
        }
        Ok(Self {
            license_id: string(raw, "sub")?,
            seat_id: match raw.get("seat") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(wrong("seat", "a string or null")),
            },
            fingerprint_hash: string(raw, "fph")?,
            state,
            reason,
            issued_at: time(raw, "iat")?.ok_or_else(|| missing("iat"))?,
            expires_at: time(raw, "exp")?.ok_or_else(|| missing("exp"))?,
            seq: raw
                .get("seq")
                .ok_or_else(|| missing("seq"))?
                .as_u64()
                .ok_or_else(|| wrong("seq", "a non-negative integer"))?,
            in_use: count("in_use")?,
            max: count("max")?,
            kid,
        })
    }

    /// Whether this lease is about this license and this machine: a lease for another one
    /// changes nothing for the client.
    pub fn is_for(&self, license_id: &str, fingerprint: &str) -> bool {
        self.license_id == license_id
            && self.fingerprint_hash == fingerprint_hash(license_id, fingerprint)
    }

    /// Whether the machine holds its seat at `now`: held or borrowed, and not past `exp`.
    pub fn holds_at(&self, now: UnixTime) -> bool {
        self.state != SeatState::Refused && now < self.expires_at
    }
}

/// What a node signs into a seat lease.
#[cfg(any(test, feature = "sign"))]
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "sign"), allow(dead_code, unreachable_pub))]
pub struct SeatTerms<'a> {
    /// `iss`: the signing server.
    pub issuer: &'a str,
    /// The license.
    pub license_id: &'a str,
    /// The seat, when there is one.
    pub seat_id: Option<&'a str>,
    /// The machine's [`fingerprint_hash`].
    pub fingerprint_hash: &'a str,
    /// Held, borrowed or refused.
    pub state: SeatState,
    /// Why refused.
    pub reason: Option<SeatRefusal>,
    /// When the node answers.
    pub now: UnixTime,
    /// The lease's end.
    pub expires_at: UnixTime,
    /// The node's lease sequence.
    pub seq: u64,
    /// Live seats now.
    pub in_use: u32,
    /// The most seats alive at once.
    pub max: u32,
}

/// The claims of a seat lease (sign them with [`crate::LicenseSigner::sign_seat_lease`]).
#[cfg(any(test, feature = "sign"))]
#[cfg_attr(not(feature = "sign"), allow(dead_code, unreachable_pub))]
pub fn seat_lease_claims(terms: &SeatTerms<'_>) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), terms.issuer.into());
    claims.insert("sub".into(), terms.license_id.into());
    claims.insert("seat".into(), terms.seat_id.map_or(Value::Null, Into::into));
    claims.insert("fph".into(), terms.fingerprint_hash.into());
    claims.insert("state".into(), terms.state.as_str().into());
    claims.insert(
        "reason".into(),
        terms.reason.map_or(Value::Null, |r| r.as_str().into()),
    );
    claims.insert("iat".into(), terms.now.as_secs().into());
    claims.insert("nbf".into(), terms.now.as_secs().into());
    claims.insert("exp".into(), terms.expires_at.as_secs().into());
    claims.insert("seq".into(), terms.seq.into());
    claims.insert("in_use".into(), terms.in_use.into());
    claims.insert("max".into(), terms.max.into());
    claims
}

#[cfg(test)]
#[path = "seats_tests.rs"]
mod tests;
