//! Signed leases and the offline rules of the validation client.
//!
//! A node answers `validate` with a lease (`typ` `lifeline-lease+jwt`) signed by a server
//! key: the license id, the server's state and reason, when, and a sequence number. The
//! client trusts a node's answer only through its lease; anything else is a node failure.
//!
//! ```text
//! answer ──Trust::accept(lease, license id, keys)──▶ Lease (authentic, this license, not a replay)
//!   │                                                    └─ raises the trusted-time high-water mark
//!   ├─ online_verdict(local verdict, lease)       the server's refusal (revoked, ...) wins
//!   └─ (no node answered) offline_verdict(local, cached lease, trust, now)
//!          clock set back?            → invalid clock_rollback
//!          last lease refused it?     → invalid, its reason
//!          now < lease.iat + offline grace → offline (usable), until when
//!          otherwise                  → invalid offline_grace_exhausted
//! ```

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::members::{missing, string, time, wrong};
use crate::{KeySet, Reason, UnixTime, Verdict, jws};

/// The `typ` of a lease.
pub const LEASE_TYP: &str = "lifeline-lease+jwt";

/// An authentic lease (only [`Lease::verify`] makes one). Time is not checked here: an old
/// lease still proves when the server last vouched for the license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The license's id (`sub` of the lease, `jti` of the license).
    pub license_id: String,
    /// The client instance it was issued to, if the client named one.
    pub instance: Option<String>,
    /// The server's state for the license (`valid`, `grace`, `override`, `invalid`).
    pub state: String,
    /// The server's reason, when not plainly valid (`revoked`, `expired`, ...).
    pub reason: Option<String>,
    /// When the server signed it: time the client can trust.
    pub issued_at: UnixTime,
    /// Until when it stands for an online check.
    pub expires_at: UnixTime,
    /// Increases with every lease (milliseconds of the server's clock): an older answer
    /// replayed has a lower one.
    pub seq: u64,
    /// The signing key.
    pub kid: String,
}

impl Lease {
    /// Authenticates a lease with the server's public keys and reads its claims.
    pub fn verify(token: &[u8], keys: &KeySet) -> Result<Self, VerifyError> {
        let jws::Authenticated {
            kid,
            key,
            payload: raw,
        } = jws::authenticate(token, LEASE_TYP, keys)?;
        if key.is_for_overrides_only() {
            return Err(VerifyError::KeyNotForLicenses { kid });
        }
        if key.is_revoked() {
            return Err(VerifyError::KeyRevoked { kid });
        }
        let lease = Self::from_claims(kid, &raw)?;
        key.check_signed_before_compromise(lease.issued_at)?;
        Ok(lease)
    }

    /// Reads a lease's claims (also checked before signing one).
    pub(crate) fn from_claims(
        kid: String,
        raw: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, VerifyError> {
        let optional = |name: &'static str| match raw.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong(name, "a string or null")),
        };
        Ok(Self {
            license_id: string(raw, "sub")?,
            instance: optional("instance")?,
            state: string(raw, "state")?,
            reason: optional("reason")?,
            issued_at: time(raw, "iat")?.ok_or_else(|| missing("iat"))?,
            expires_at: time(raw, "exp")?.ok_or_else(|| missing("exp"))?,
            seq: match raw.get("seq") {
                Some(v) => v
                    .as_u64()
                    .ok_or_else(|| wrong("seq", "a non-negative integer"))?,
                None => return Err(missing("seq")),
            },
            kid,
        })
    }

    /// Whether the server said the license may run.
    pub fn is_usable(&self) -> bool {
        matches!(self.state.as_str(), "valid" | "grace" | "override")
    }
}

/// Why an answer's lease is not trusted. Each is a node failure, never a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseProblem {
    /// No lease, or one that does not verify.
    Unauthentic(Option<VerifyError>),
    /// A lease for another license.
    OtherLicense {
        /// The license asked about.
        expected: String,
        /// The license the lease names.
        found: String,
    },
    /// An answer older than one already seen (replayed or rolled back).
    Replayed {
        /// The lease's sequence.
        seq: u64,
        /// The highest sequence already accepted.
        last_seq: u64,
    },
}

impl fmt::Display for LeaseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthentic(None) => f.write_str("the answer carries no signed lease"),
            Self::Unauthentic(Some(e)) => write!(f, "the answer's lease does not verify: {e}"),
            Self::OtherLicense { expected, found } => {
                write!(f, "the lease is for license {found:?}, not {expected:?}")
            }
            Self::Replayed { seq, last_seq } => write!(
                f,
                "the lease (seq {seq}) is older than one already seen (seq {last_seq}): replayed"
            ),
        }
    }
}

/// What the client has learnt to trust; keep it with the cached lease.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trust {
    /// The latest time a signed lease proved (unix seconds): the clock cannot honestly read
    /// much earlier.
    pub high_water: u64,
    /// The highest lease sequence accepted.
    pub last_seq: u64,
}

impl Trust {
    /// Accepts the lease of a node's answer about `license_id`: authentic, for that license,
    /// not older than one already accepted. Raises the high-water mark and the sequence, but
    /// never past `now` (this client's clock): a node whose clock runs ahead must not make
    /// every other node's answers look replayed, nor this client's own clock look set back.
    pub fn accept(
        &mut self,
        lease: Option<&[u8]>,
        license_id: &str,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<Lease, LeaseProblem> {
        let token = lease.ok_or(LeaseProblem::Unauthentic(None))?;
        let lease = Lease::verify(token, keys).map_err(|e| LeaseProblem::Unauthentic(Some(e)))?;
        if lease.license_id != license_id {
            return Err(LeaseProblem::OtherLicense {
                expected: license_id.to_owned(),
                found: lease.license_id,
            });
        }
        if lease.seq < self.last_seq {
            return Err(LeaseProblem::Replayed {
                seq: lease.seq,
                last_seq: self.last_seq,
            });
        }
        // Sequences are the nodes' clocks in milliseconds.
        let now_ms = now.as_secs().saturating_mul(1000);
        self.last_seq = self.last_seq.max(lease.seq.min(now_ms));
        self.high_water = self
            .high_water
            .max(lease.issued_at.as_secs().min(now.as_secs()));
        Ok(lease)
    }
}

/// The client's offline rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfflinePolicy {
    /// Offline grace for licenses without an `offline_grace_s` claim, seconds.
    pub default_grace_s: u64,
    /// How far the clock may read before the high-water mark, seconds.
    pub clock_tolerance_s: u64,
}

impl Default for OfflinePolicy {
    fn default() -> Self {
        Self {
            default_grace_s: 72 * 3600,
            clock_tolerance_s: 300,
        }
    }
}

/// The verdict after a node answered: the local verdict (license + overrides), unless the
/// server refused the license — then its signed reason (e.g. `revoked`) wins.
pub fn online_verdict(local: Verdict, lease: &Lease) -> Verdict {
    if lease.is_usable() || !local.is_usable() {
        return local;
    }
    let reason = match lease.reason.as_deref() {
        Some("revoked") | None => Reason::Revoked,
        Some(other) => Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == other)
            .unwrap_or(Reason::Revoked),
    };
    let detail = format!(
        "the license server refused the license at {}: {}",
        lease.issued_at,
        lease.reason.as_deref().unwrap_or("no reason given")
    );
    local.refused_for(reason, detail)
}

/// The verdict when no node answered: the local verdict, the last accepted lease and the
/// trusted time decide (see the module docs).
pub fn offline_verdict(
    local: Verdict,
    lease: Option<&Lease>,
    trust: &Trust,
    policy: &OfflinePolicy,
    now: UnixTime,
) -> Verdict {
    if now.as_secs().saturating_add(policy.clock_tolerance_s) < trust.high_water {
        let detail = format!(
            "the clock reads {now}, but a signed lease proved {} already: the clock was set back",
            trust.high_water
        );
        return local.refused_for(Reason::ClockRollback, detail);
    }
    if !local.is_usable() {
        return local;
    }
    let Some(lease) = lease else {
        return local.refused_for(
            Reason::OfflineGraceExhausted,
            "no validation node answered and no signed lease is cached".to_owned(),
        );
    };
    if !lease.is_usable() {
        return online_verdict(local, lease);
    }
    let grace = local
        .claims()
        .and_then(crate::Claims::offline_grace_s)
        .unwrap_or(policy.default_grace_s);
    if grace == 0 {
        return local.refused_for(
            Reason::OfflineGraceExhausted,
            "no validation node answered and this product fails closed (offline_grace_s = 0)"
                .to_owned(),
        );
    }
    let until = lease.issued_at.saturating_add(grace);
    if now < until {
        let detail = format!(
            "no validation node answered; last signed lease at {}; offline grace until {until} ({} s left)",
            lease.issued_at,
            until.as_secs() - now.as_secs()
        );
        local.offline(until, detail)
    } else {
        let detail = format!(
            "no validation node answered since {}; the offline grace of {grace} s ran out at {until}",
            lease.issued_at
        );
        local.refused_for(Reason::OfflineGraceExhausted, detail)
    }
}

#[cfg(test)]
#[path = "offline_tests.rs"]
mod tests;
