//! What a validation node answers about a license, written by the same crate that reads it:
//! the verdict once the store's revocation is applied ([`Verdict::revoked`]), how long a
//! usable verdict lasts ([`Verdict::usable_until`]), and the claims of the lease the node
//! signs for it ([`lease_claims`], feature `sign`), which [`crate::Lease::verify`] and
//! [`crate::online_verdict`] read on the client.

use crate::{Effect, Reason, UnixTime, Verdict};

impl Verdict {
    /// The same license, refused because its vendor revoked it at `at` for `why` (what a
    /// server's store knows and a token cannot say). The claims stay; an override no longer
    /// applies.
    pub fn revoked(self, at: UnixTime, why: &str) -> Self {
        self.refused_for(Reason::Revoked, format!("license revoked at {at}: {why}"))
    }

    /// Until when a usable verdict stays usable: the end of the license's grace, or what the
    /// override that made it usable allows. `None` for a verdict that is not usable.
    pub fn usable_until(&self) -> Option<UnixTime> {
        if !self.is_usable() {
            return None;
        }
        let grace_until = self.claims()?.grace_until().as_secs();
        let until = match self.applied_override() {
            Some(o) => match &o.effect {
                Effect::Valid => o.expires_at.as_secs().max(grace_until),
                Effect::ExtendGrace { secs } => grace_until
                    .saturating_add(*secs)
                    .min(o.expires_at.as_secs()),
                Effect::Entitlements { .. } => grace_until,
            },
            None => grace_until,
        };
        Some(UnixTime::from_secs(until))
    }
}

/// The terms of a lease besides the verdict: who signs, for which client, when, how long.
#[cfg(any(test, feature = "sign"))]
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "sign"), allow(dead_code, unreachable_pub))]
pub struct LeaseTerms<'a> {
    /// `iss`: the signing server.
    pub issuer: &'a str,
    /// The client instance that asked, if it named one.
    pub instance: Option<&'a str>,
    /// When the node answers (`iat`, `nbf`).
    pub now: UnixTime,
    /// How long a lease stands at most, seconds.
    pub ttl_secs: u64,
    /// The node's lease sequence (never lower than its previous one).
    pub seq: u64,
}

/// The claims of the lease a node signs for `verdict` (sign them with
/// [`crate::LicenseSigner::sign_lease`]), and the lease's end. Every answer about an
/// authentic license carries one: permission while usable (never past
/// [`Verdict::usable_until`]), a signed refusal otherwise. `None` when the verdict has no
/// authentic claims (there is no license to lease).
#[cfg(any(test, feature = "sign"))]
#[cfg_attr(not(feature = "sign"), allow(dead_code, unreachable_pub))]
pub fn lease_claims(
    verdict: &Verdict,
    terms: &LeaseTerms<'_>,
) -> Option<(serde_json::Map<String, serde_json::Value>, UnixTime)> {
    use serde_json::Value;

    let claims = verdict.claims()?;
    let now = terms.now.as_secs();
    let longest = now.saturating_add(terms.ttl_secs);
    let exp = verdict
        .usable_until()
        .map_or(longest, |until| longest.min(until.as_secs()));
    let mut lease = serde_json::Map::new();
    lease.insert("iss".into(), terms.issuer.into());
    lease.insert("sub".into(), claims.jti().into());
    lease.insert(
        "aud".into(),
        Value::Array(claims.aud().iter().map(|a| a.as_str().into()).collect()),
    );
    lease.insert(
        "instance".into(),
        terms.instance.map_or(Value::Null, Into::into),
    );
    lease.insert("state".into(), verdict.state().as_str().into());
    lease.insert(
        "reason".into(),
        verdict.reason().map_or(Value::Null, |r| r.as_str().into()),
    );
    lease.insert("iat".into(), now.into());
    lease.insert("nbf".into(), now.into());
    lease.insert("exp".into(), exp.into());
    lease.insert("license_exp".into(), claims.exp().as_secs().into());
    lease.insert("seq".into(), terms.seq.into());
    if let Some(o) = verdict.applied_override() {
        lease.insert("override".into(), o.id.as_str().into());
    }
    Some((lease, UnixTime::from_secs(exp)))
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
