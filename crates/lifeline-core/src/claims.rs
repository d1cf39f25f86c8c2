//! The license payload: registered JWT claims plus Lifeline's own, typed, with every
//! member (known or not) kept exactly as signed.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::UnixTime;
use crate::error::{Malformed, Segment, VerifyError};
use crate::members::{missing, string, time, wrong};
use crate::seats::SeatPolicy;

/// The claims of a license whose signature checked (or, from [`crate::inspect`], did not).
///
/// Serializes as the original JSON object, unknown claims included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `iss`: who issued the license.
    iss: String,
    /// `sub`: the licensee.
    sub: String,
    /// `aud`: the product id(s) the license is for (a string in JSON becomes one entry).
    aud: Vec<String>,
    /// `jti`: the license id.
    jti: String,
    /// `iat`: when it was signed.
    iat: UnixTime,
    /// `nbf`: not valid before; defaults to `iat`.
    nbf: UnixTime,
    /// `exp`: expiry (required; perpetual licenses use a far-future `exp`).
    exp: UnixTime,
    /// `entitlements`: features the license grants (may be empty).
    entitlements: Vec<String>,
    /// `seats`: how many seats, if limited.
    seats: Option<u32>,
    /// `grace_s`: seconds after `exp` during which the license still works (`grace`).
    grace_s: u64,
    /// `offline_grace_s`: how long the license works with no validation node reachable,
    /// counted from the last signed lease (0: the product fails closed). Absent: the
    /// client's default.
    offline_grace_s: Option<u64>,
    /// The seat policy, when the license has `seats`.
    seat_policy: Option<SeatPolicy>,
    /// `ver`: the license's version in the vendor's store (absent: 0, as first issued). A
    /// re-signed license (extended, re-keyed) carries a higher one; a client replaces its
    /// license only with a higher version ([`crate::renewal`]).
    version: u64,
    raw: Map<String, Value>,
}

impl Claims {
    /// Reads claims from a JSON object, checking every required member and its type.
    pub fn from_map(raw: Map<String, Value>) -> Result<Self, VerifyError> {
        let iat = time(&raw, "iat")?.ok_or(missing("iat"))?;
        let seats = seats(&raw)?;
        Ok(Self {
            iss: string(&raw, "iss")?,
            sub: string(&raw, "sub")?,
            aud: audience(&raw)?,
            jti: string(&raw, "jti")?,
            iat,
            nbf: time(&raw, "nbf")?.unwrap_or(iat),
            exp: time(&raw, "exp")?.ok_or(missing("exp"))?,
            entitlements: entitlements(&raw)?,
            seats,
            seat_policy: SeatPolicy::from_raw(&raw, seats)?,
            grace_s: grace(&raw)?,
            offline_grace_s: match raw.get("offline_grace_s") {
                None => None,
                Some(v) => {
                    Some(v.as_u64().ok_or_else(|| {
                        wrong("offline_grace_s", "a non-negative integer (seconds)")
                    })?)
                }
            },
            version: match raw.get("ver") {
                None => 0,
                Some(v) => v
                    .as_u64()
                    .ok_or_else(|| wrong("ver", "a non-negative integer"))?,
            },
            raw,
        })
    }

    /// Parses claims from payload bytes (strict JSON).
    pub(crate) fn from_payload(payload: &[u8]) -> Result<Self, VerifyError> {
        let map = crate::json::parse_object(payload).map_err(|detail| Malformed::Json {
            segment: Segment::Payload,
            detail,
        })?;
        Self::from_map(map)
    }

    /// `ver`: the license's version (0 when absent: as first issued).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// `iss`: who issued the license.
    pub fn iss(&self) -> &str {
        &self.iss
    }

    /// `sub`: the licensee.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// `aud`: the product id(s); a JSON string becomes one entry.
    pub fn aud(&self) -> &[String] {
        &self.aud
    }

    /// `jti`: the license id.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// `iat`: when the license was signed.
    pub fn iat(&self) -> UnixTime {
        self.iat
    }

    /// `nbf`, or `iat` when absent.
    pub fn nbf(&self) -> UnixTime {
        self.nbf
    }

    /// `exp`: expiry.
    pub fn exp(&self) -> UnixTime {
        self.exp
    }

    /// `entitlements`.
    pub fn entitlements(&self) -> &[String] {
        &self.entitlements
    }

    /// `seats`, if limited.
    pub fn seats(&self) -> Option<u32> {
        self.seats
    }

    /// The seat policy (`seats` with `seat_mode`, `heartbeat_s`, `overage`, `linger_s`,
    /// `borrow_max_s` and their defaults), when the license has `seats`.
    pub fn seat_policy(&self) -> Option<&SeatPolicy> {
        self.seat_policy.as_ref()
    }

    /// `grace_s`, 0 when absent.
    pub fn grace_s(&self) -> u64 {
        self.grace_s
    }

    /// `offline_grace_s`, if the license sets it (0 = fail closed when offline).
    pub fn offline_grace_s(&self) -> Option<u64> {
        self.offline_grace_s
    }

    /// The claims exactly as signed, unknown members included.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// A claim by name, known or not.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    /// `exp + grace_s`: the last moment (exclusive) the license is usable.
    pub fn grace_until(&self) -> UnixTime {
        self.exp.saturating_add(self.grace_s)
    }

    /// Whether the license entitles to `feature`.
    pub fn has_entitlement(&self, feature: &str) -> bool {
        self.entitlements.iter().any(|e| e == feature)
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

fn audience(raw: &Map<String, Value>) -> Result<Vec<String>, VerifyError> {
    const EXPECTED: &str = "a non-empty string or a non-empty array of non-empty strings";
    match raw.get("aud") {
        Some(Value::String(s)) if !s.is_empty() => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(wrong("aud", EXPECTED)),
            })
            .collect(),
        Some(_) => Err(wrong("aud", EXPECTED)),
        None => Err(missing("aud")),
    }
}

fn entitlements(raw: &Map<String, Value>) -> Result<Vec<String>, VerifyError> {
    const EXPECTED: &str = "an array of strings";
    match raw.get("entitlements") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| wrong("entitlements", EXPECTED))
            })
            .collect(),
        Some(_) => Err(wrong("entitlements", EXPECTED)),
        None => Err(missing("entitlements")),
    }
}

fn seats(raw: &Map<String, Value>) -> Result<Option<u32>, VerifyError> {
    match raw.get("seats") {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|s| u32::try_from(s).ok())
            .map(Some)
            .ok_or_else(|| wrong("seats", "an integer from 0 to 4294967295")),
        Some(_) => Err(wrong("seats", "an integer from 0 to 4294967295")),
    }
}

fn grace(raw: &Map<String, Value>) -> Result<u64, VerifyError> {
    match raw.get("grace_s") {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| wrong("grace_s", "a non-negative integer (seconds)")),
        Some(_) => Err(wrong("grace_s", "a non-negative integer (seconds)")),
    }
}
