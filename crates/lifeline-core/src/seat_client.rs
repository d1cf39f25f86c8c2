//! The client side of a seat, pure: what to send (activate, heartbeat, release), which
//! answers to trust, when to renew, and whether the machine holds its seat now — online, or
//! offline through an outage on its last seat lease plus the license's offline grace. The
//! shell (`lifeline check --seat`, the JS `Client`) does the HTTP and keeps [`SeatCache`].
//!
//! ```text
//! SeatKeeper::call() ─▶ Activate | Heartbeat(seat) ─▶ shell POSTs ─▶ SeatKeeper::receive(body)
//!   trusted: an authentic seat lease for this license and fingerprint, newer than the last
//!   SeatKeeper::renew_at(jitter)      when to heartbeat (half to three quarters of the lease)
//!   SeatKeeper::standing(now, grace)  Held | Offline (no answer, within grace) | Refused | Lost
//! ```

use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{KeySet, SeatLease, SeatRefusal, SeatState, UnixTime, VerifyError, fingerprint_hash};

/// The longest machine fingerprint a client sends (and a server takes), characters.
pub const MAX_FINGERPRINT_CHARS: usize = 256;

/// Whether `fingerprint` is one a server takes: 1 to [`MAX_FINGERPRINT_CHARS`] characters.
pub fn fingerprint_ok(fingerprint: &str) -> bool {
    !fingerprint.is_empty() && fingerprint.chars().count() <= MAX_FINGERPRINT_CHARS
}

/// A machine's default fingerprint from its machine id and host name: hex SHA-256 of both,
/// NUL-separated (the CLI and the JS `Client` in Node use it; the shell reads the two).
pub fn machine_fingerprint(machine_id: &str, host_name: &str) -> String {
    let mut h = Sha256::new();
    h.update(machine_id.trim().as_bytes());
    h.update([0]);
    h.update(host_name.trim().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a seat client keeps between runs (a cache file, browser storage).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatCache {
    /// The last trusted seat lease.
    pub lease: Option<String>,
}

/// The request the shell sends next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeatCall {
    /// `POST /api/v1/seats`.
    Activate,
    /// `POST /api/v1/seats/{id}/heartbeat`.
    Heartbeat(String),
}

impl SeatCall {
    /// The request's path.
    pub fn path(&self) -> String {
        match self {
            Self::Activate => "/api/v1/seats".to_owned(),
            Self::Heartbeat(id) => format!("/api/v1/seats/{id}/heartbeat"),
        }
    }
}

/// Where the machine stands with its seat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Standing {
    /// Holds its seat (a held or borrowed lease) until `until`.
    Held {
        /// The seat.
        seat_id: String,
        /// The lease's end.
        until: UnixTime,
    },
    /// No node answered; the last seat lease held the seat and the offline grace (counted
    /// from that lease) still runs: usable until `until`.
    Offline {
        /// The seat.
        seat_id: String,
        /// The end of the offline grace.
        until: UnixTime,
    },
    /// A node refused a seat (signed).
    Refused {
        /// Why.
        reason: SeatRefusal,
    },
    /// No seat: never activated, or the lease and its offline grace ran out.
    Lost,
}

impl Standing {
    /// Whether the application may run.
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Held { .. } | Self::Offline { .. })
    }
}

/// Why an answer was not trusted (the node counts as failed; nothing changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeatProblem {
    /// Not a seat answer (not JSON, no lease).
    NotAnAnswer(String),
    /// The lease does not verify.
    Unauthentic(VerifyError),
    /// A lease for another license or machine.
    NotMine,
    /// Older than one already trusted (replayed).
    Replayed {
        /// The lease's sequence.
        seq: u64,
        /// The highest trusted.
        last_seq: u64,
    },
}

impl fmt::Display for SeatProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnAnswer(why) => write!(f, "not a seat answer: {why}"),
            Self::Unauthentic(e) => write!(f, "the seat lease does not verify: {e}"),
            Self::NotMine => f.write_str("the seat lease is for another license or machine"),
            Self::Replayed { seq, last_seq } => write!(
                f,
                "the seat lease (seq {seq}) is older than one already seen (seq {last_seq})"
            ),
        }
    }
}

/// One machine's seat on one license.
#[derive(Clone, Debug)]
pub struct SeatKeeper {
    license_id: String,
    /// The license's `offline_grace_s`, when it sets one.
    license_grace_s: Option<u64>,
    fingerprint: String,
    keys: KeySet,
    lease: Option<(String, SeatLease)>,
}

impl SeatKeeper {
    /// A keeper for `fingerprint` on the license `license_id`, trusting `keys`; `cache` is
    /// what an earlier run kept (a lease that does not verify or is not this machine's is
    /// dropped, never trusted).
    pub fn new(license_id: &str, fingerprint: &str, keys: KeySet, cache: &SeatCache) -> Self {
        let mut keeper = Self {
            license_id: license_id.to_owned(),
            license_grace_s: None,
            fingerprint: fingerprint.to_owned(),
            keys,
            lease: None,
        };
        keeper.restore(cache);
        keeper
    }

    /// A keeper for the license `token` (its id and `offline_grace_s` read from it: decoded,
    /// not verified here; the seat leases are what is verified).
    pub fn for_license(
        token: &str,
        fingerprint: &str,
        keys: KeySet,
        cache: &SeatCache,
    ) -> Result<Self, VerifyError> {
        let claims = crate::inspect(token.as_bytes())?.claims;
        let license_id = crate::members::string(&claims, "jti")?;
        let mut keeper = Self::new(&license_id, fingerprint, keys, cache);
        keeper.license_grace_s = claims.get("offline_grace_s").and_then(Value::as_u64);
        Ok(keeper)
    }

    /// The offline grace the seat runs on when no node answers: the license's
    /// `offline_grace_s`, else `default_s`.
    pub fn offline_grace_s(&self, default_s: u64) -> u64 {
        self.license_grace_s.unwrap_or(default_s)
    }

    /// Takes a cached lease (dropped unless it is authentic, this machine's, and newer than
    /// the one held).
    pub fn restore(&mut self, cache: &SeatCache) {
        let Some(token) = &cache.lease else {
            return;
        };
        let Ok(lease) = SeatLease::verify(token.as_bytes(), &self.keys) else {
            return;
        };
        let newer = self
            .lease
            .as_ref()
            .is_none_or(|(_, held)| lease.seq > held.seq);
        if newer && lease.is_for(&self.license_id, &self.fingerprint) {
            self.lease = Some((token.clone(), lease));
        }
    }

    /// What to keep for the next run.
    pub fn cache(&self) -> SeatCache {
        SeatCache {
            lease: self.lease.as_ref().map(|(token, _)| token.clone()),
        }
    }

    /// The per-license hash of this machine's fingerprint (what seat leases carry).
    pub fn fingerprint_hash(&self) -> String {
        fingerprint_hash(&self.license_id, &self.fingerprint)
    }

    /// The seat this machine holds or last held.
    pub fn seat_id(&self) -> Option<&str> {
        self.lease.as_ref().and_then(|(_, l)| l.seat_id.as_deref())
    }

    /// The request to send: a heartbeat for a held seat, else an activation.
    pub fn call(&self) -> SeatCall {
        match &self.lease {
            Some((_, l)) if l.state != SeatState::Refused => match &l.seat_id {
                Some(id) => SeatCall::Heartbeat(id.clone()),
                None => SeatCall::Activate,
            },
            _ => SeatCall::Activate,
        }
    }

    /// The JSON body of a call (`name` only for an activation).
    pub fn body(&self, call: &SeatCall, token: &str, name: Option<&str>) -> Value {
        match (call, name) {
            (SeatCall::Activate, Some(name)) => {
                json!({ "token": token, "fingerprint": self.fingerprint, "name": name })
            }
            _ => json!({ "token": token, "fingerprint": self.fingerprint }),
        }
    }

    /// The body of `DELETE /api/v1/seats/{id}` for the held seat, if there is one.
    pub fn release(&self, token: &str) -> Option<(String, Value)> {
        let id = self.seat_id()?;
        Some((
            format!("/api/v1/seats/{id}"),
            json!({ "token": token, "fingerprint": self.fingerprint }),
        ))
    }

    /// Forgets the seat (after a release).
    pub fn forget(&mut self) {
        self.lease = None;
    }

    /// Reads a node's answer (any 2xx body with a seat lease). A trusted lease replaces the
    /// last one; a signed `seat_expired`/`seat_released` refusal of a heartbeat means the next
    /// call activates again.
    pub fn receive(&mut self, body: &[u8]) -> Result<&SeatLease, SeatProblem> {
        let answer: Value =
            serde_json::from_slice(body).map_err(|e| SeatProblem::NotAnAnswer(e.to_string()))?;
        let token = answer
            .get("lease")
            .and_then(Value::as_str)
            .ok_or_else(|| SeatProblem::NotAnAnswer("no lease".into()))?;
        let lease =
            SeatLease::verify(token.as_bytes(), &self.keys).map_err(SeatProblem::Unauthentic)?;
        if !lease.is_for(&self.license_id, &self.fingerprint) {
            return Err(SeatProblem::NotMine);
        }
        if let Some((_, last)) = &self.lease
            && lease.seq <= last.seq
        {
            return Err(SeatProblem::Replayed {
                seq: lease.seq,
                last_seq: last.seq,
            });
        }
        let (_, kept) = self.lease.insert((token.to_owned(), lease));
        Ok(kept)
    }

    /// The newer version of the license an answer carried (`license`, as `validate`'s), and
    /// whether it replaces `held` ([`crate::renewal`], with this keeper's keys); `None` when
    /// the answer carried none.
    pub fn renewal_in(
        &self,
        body: &[u8],
        held: &str,
        policy: &crate::Policy,
        now: UnixTime,
    ) -> Option<(String, Result<crate::Verdict, crate::RenewalProblem>)> {
        let answer: Value = serde_json::from_slice(body).ok()?;
        let candidate = answer.get("license")?.as_str()?.to_owned();
        let held = crate::verify(held.as_bytes(), &self.keys, policy, now);
        let judged = match held.claims() {
            Some(claims) => crate::renewal(claims, candidate.as_bytes(), &self.keys, policy, now),
            None => Err(crate::RenewalProblem::Refused(
                held.reason().unwrap_or(crate::Reason::Malformed),
            )),
        };
        Some((candidate, judged))
    }

    /// When to renew: between half and three quarters of the lease's life (`jitter` in
    /// 0..=1 picks where, so machines do not renew in step). `None` without a held lease.
    pub fn renew_at(&self, jitter: f64) -> Option<UnixTime> {
        let (_, l) = self.lease.as_ref()?;
        if l.state == SeatState::Refused {
            return None;
        }
        let life = l.expires_at.as_secs().saturating_sub(l.issued_at.as_secs());
        let share = 0.5 + 0.25 * jitter.clamp(0.0, 1.0);
        // Whole seconds; a lease shorter than 2 s renews at once.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let after = (life as f64 * share) as u64;
        Some(UnixTime::from_secs(
            l.issued_at.as_secs().saturating_add(after),
        ))
    }

    /// Where the machine stands at `now`, when its last call got no trusted answer or none
    /// was made: held while the last lease holds, then offline until `offline_grace_s` after
    /// that lease was signed.
    pub fn standing(&self, now: UnixTime, offline_grace_s: u64) -> Standing {
        let Some((_, l)) = &self.lease else {
            return Standing::Lost;
        };
        if let Some(reason) = l.reason {
            return Standing::Refused { reason };
        }
        // A clock set back before the lease was signed (beyond the leeway for clock skew)
        // proves nothing.
        if now.as_secs().saturating_add(crate::DEFAULT_LEEWAY_SECS) < l.issued_at.as_secs() {
            return Standing::Lost;
        }
        let seat_id = l.seat_id.clone().unwrap_or_default();
        if l.holds_at(now) {
            return Standing::Held {
                seat_id,
                until: l.expires_at,
            };
        }
        let grace_end = l.issued_at.as_secs().saturating_add(offline_grace_s);
        if now.as_secs() < grace_end {
            return Standing::Offline {
                seat_id,
                until: UnixTime::from_secs(grace_end),
            };
        }
        Standing::Lost
    }
}

#[cfg(test)]
#[path = "seat_client_tests.rs"]
mod tests;
