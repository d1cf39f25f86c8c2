//! The verification pipeline:
//! bytes → parse → key → signature → claims → key status → policy → verdict.

use crate::jws::{self, CompactJws};
use crate::{Claims, Header, KeySet, LICENSE_TYP, State, UnixTime, Verdict, VerifyError};

/// How far in the future `nbf` / `iat` may lie before a license is `not_yet_valid`,
/// to absorb clock differences between issuer and verifier.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

/// What the verifier expects beyond an authentic signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    audience: Option<String>,
    leeway_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            audience: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }
}

impl Policy {
    /// Any audience, 60 s leeway.
    pub fn new() -> Self {
        Self::default()
    }

    /// Require the license's `aud` to name this product.
    #[must_use]
    pub fn with_audience(mut self, product: impl Into<String>) -> Self {
        self.audience = Some(product.into());
        self
    }

    /// Leeway for `nbf` / `iat` in the future.
    #[must_use]
    pub fn with_leeway_secs(mut self, secs: u64) -> Self {
        self.leeway_secs = secs;
        self
    }

    /// The required audience, if any.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The leeway in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.leeway_secs
    }
}

/// Verifies a license token at time `now`: the one call most users need.
///
/// Never panics; every failure is an `invalid` verdict with a reason.
pub fn verify(token: &[u8], keys: &KeySet, policy: &Policy, now: UnixTime) -> Verdict {
    match UnverifiedLicense::parse(token).and_then(|license| license.authenticate(keys)) {
        Ok(signed) => signed.into_verdict(keys, policy, now),
        Err(error) => Verdict::refused(error, None),
    }
}

/// A token that parsed as a compact JWS with an acceptable header. Nothing is authenticated.
#[derive(Debug)]
pub struct UnverifiedLicense<'a> {
    jws: CompactJws<'a>,
}

impl<'a> UnverifiedLicense<'a> {
    /// Splits and decodes the token and checks its header (`alg`, `typ`, `kid`).
    /// Surrounding ASCII whitespace is ignored.
    pub fn parse(token: &'a [u8]) -> Result<Self, VerifyError> {
        jws::parse(token, LICENSE_TYP).map(|jws| Self { jws })
    }

    /// The header, unauthenticated.
    pub fn header(&self) -> &Header {
        &self.jws.header
    }

    /// Finds the key named by `kid` and checks the signature strictly; then parses the
    /// claims. The key, never the token, fixes the algorithm: every key is Ed25519.
    pub fn authenticate(&self, keys: &KeySet) -> Result<SignedLicense, VerifyError> {
        let kid = &self.jws.header.kid;
        let key = keys
            .get(kid)
            .ok_or_else(|| VerifyError::UnknownKey { kid: kid.clone() })?;
        if key.is_for_overrides_only() {
            return Err(VerifyError::KeyNotForLicenses { kid: kid.clone() });
        }
        if !key.verify_strict(self.jws.signing_input, &self.jws.signature) {
            return Err(VerifyError::BadSignature);
        }
        let claims = Claims::from_payload(&self.jws.payload)?;
        // Only a compromised key's tokens are looked up in its issued list: hash them then.
        let digest = key
            .compromised_since()
            .map(|_| crate::issued_list::token_digest(self.jws.token));
        Ok(SignedLicense {
            kid: kid.clone(),
            claims,
            digest,
        })
    }
}

/// A license whose signature checked under a key of the key set: its claims are authentic.
/// Key status, audience and time are not yet applied: see [`SignedLicense::evaluate`].
///
/// Only [`UnverifiedLicense::authenticate`] makes one. It depends on the key set only
/// through the signature, so a caller may cache it per token until the key set changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedLicense {
    kid: String,
    claims: Claims,
    /// The token's digest, taken when its key was compromised in the authenticating set.
    digest: Option<[u8; 32]>,
}

impl SignedLicense {
    /// The signing key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The authentic claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Whether this was authenticated before `keys` marked its key compromised: the issued
    /// list cannot be consulted (its digest was not taken), so authenticate the token again.
    /// For callers that cache a `SignedLicense` across key-set changes.
    pub fn predates_compromise_in(&self, keys: &KeySet) -> bool {
        self.digest.is_none()
            && keys
                .get(&self.kid)
                .is_some_and(|k| k.compromised_since().is_some())
    }

    /// Applies key status, audience and time, in that order, and gives the verdict.
    ///
    /// - key gone from `keys` → `unknown_key`; revoked → `key_revoked`; `iat` outside the
    ///   key's signing window → `key_expired` (a license signed inside the window stays
    ///   valid after the window closes);
    /// - `aud` without the policy's audience → `wrong_audience`;
    /// - `nbf` or `iat` after `now + leeway` → `not_yet_valid`;
    /// - `now >= exp` → `grace` while `now < exp + grace_s`, `expired` after.
    pub fn evaluate(&self, keys: &KeySet, policy: &Policy, now: UnixTime) -> Verdict {
        match self.check(keys, policy, now) {
            Ok(state) => Verdict::usable(state, &self.kid, &self.claims),
            Err(error) => Verdict::refused(error, Some((&self.kid, &self.claims))),
        }
    }

    /// Like [`Self::evaluate`], consuming the license so its claims move into the verdict.
    pub fn into_verdict(self, keys: &KeySet, policy: &Policy, now: UnixTime) -> Verdict {
        match self.check(keys, policy, now) {
            Ok(state) => Verdict::usable_owned(state, self.kid, self.claims),
            Err(error) => Verdict::refused_owned(error, self.kid, self.claims),
        }
    }

    /// [`Self::evaluate`] for a license of a compromised key that the vendor's server
    /// vouched for (a signed lease: the server holds the key's issued list), so the client
    /// without the list does not refuse it: every rule but the compromise applies. Used by
    /// the validation client ([`crate::Session`]) only.
    pub(crate) fn evaluate_vouched(
        &self,
        keys: &KeySet,
        policy: &Policy,
        now: UnixTime,
    ) -> Verdict {
        match self.check_with(keys, policy, now, false) {
            Ok(state) => Verdict::usable(state, &self.kid, &self.claims),
            Err(error) => Verdict::refused(error, Some((&self.kid, &self.claims))),
        }
    }

    /// The state [`Self::evaluate`] would give, without building a verdict: `Ok(Valid)` or
    /// `Ok(Grace)` when usable, the refusal otherwise. For hot paths that build their own
    /// output from the claims.
    pub fn check(
        &self,
        keys: &KeySet,
        policy: &Policy,
        now: UnixTime,
    ) -> Result<State, VerifyError> {
        self.check_with(keys, policy, now, true)
    }

    fn check_with(
        &self,
        keys: &KeySet,
        policy: &Policy,
        now: UnixTime,
        compromise_applies: bool,
    ) -> Result<State, VerifyError> {
        let claims = &self.claims;
        let kid = &self.kid;
        let key = keys
            .get(kid)
            .ok_or_else(|| VerifyError::UnknownKey { kid: kid.clone() })?;
        if key.is_for_overrides_only() {
            return Err(VerifyError::KeyNotForLicenses { kid: kid.clone() });
        }
        if key.is_revoked() {
            return Err(VerifyError::KeyRevoked { kid: kid.clone() });
        }
        if let Some(since) = key.compromised_since().filter(|_| compromise_applies) {
            let list = keys.issued_list(kid);
            let issued = match (list, &self.digest) {
                (Some(list), Some(digest)) => list.contains(digest),
                _ => false,
            };
            if !issued {
                return Err(VerifyError::KeyCompromised {
                    kid: kid.clone(),
                    since,
                    list_known: list.is_some(),
                });
            }
        }
        if !key.may_have_signed_at(claims.iat()) {
            return Err(VerifyError::KeyExpired {
                kid: kid.clone(),
                signed_at: claims.iat(),
                not_before: key.not_before(),
                not_after: key.not_after(),
            });
        }
        if let Some(expected) = policy.audience()
            && !claims.aud().iter().any(|aud| aud == expected)
        {
            return Err(VerifyError::WrongAudience {
                expected: expected.to_owned(),
                found: claims.aud().to_vec(),
            });
        }
        let valid_from = claims.nbf().max(claims.iat());
        if valid_from > now.saturating_add(policy.leeway_secs()) {
            return Err(VerifyError::NotYetValid { now, valid_from });
        }
        if now < claims.exp() {
            Ok(State::Valid)
        } else if now < claims.grace_until() {
            Ok(State::Grace)
        } else {
            Err(VerifyError::Expired {
                now,
                expired_at: claims.exp(),
                grace_until: claims.grace_until(),
            })
        }
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
