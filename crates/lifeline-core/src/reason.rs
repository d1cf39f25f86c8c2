use core::fmt;

use serde::{Deserialize, Serialize};

/// Why a license is not plainly valid: one stable snake_case code for machines and people.
///
/// Codes never change meaning once published; new ones may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The bytes are not a well-formed Lifeline license (encoding, JSON, header or claims).
    Malformed,
    /// The header's `alg` is not `EdDSA` or `Ed25519`.
    UnsupportedAlg,
    /// The header's `typ` is not `lifeline-license+jwt`.
    WrongType,
    /// No key in the key set has the header's `kid`.
    UnknownKey,
    /// The signature does not verify (strictly) under the named key.
    BadSignature,
    /// The license was signed (`iat`) outside its key's signing window.
    KeyExpired,
    /// The signing key is marked revoked in the key set.
    KeyRevoked,
    /// `nbf` or `iat` lies in the future beyond the leeway.
    NotYetValid,
    /// `now` is at or past `exp` plus any grace period.
    Expired,
    /// The license's `aud` does not name the expected product.
    WrongAudience,
    /// The license is within its grace period: usable, but past `exp`.
    GracePeriod,
    /// The license server revoked the license (a signed answer said so).
    Revoked,
    /// No validation node answered; the license and the last signed lease were verified
    /// offline and the offline grace still runs (state `offline`, usable).
    Offline,
    /// No validation node answered and the offline grace (counted from the last signed
    /// lease) is used up, or the product fails closed.
    OfflineGraceExhausted,
    /// The clock reads earlier than a time already proven by a signed lease, beyond the
    /// tolerance: it was set back.
    ClockRollback,
    /// The signing key is marked compromised in the key set and the license is not one of
    /// those the vendor issued with it (its signed issued list): a forgery, or a list not
    /// fetched yet.
    KeyCompromised,
}

impl Reason {
    /// Every code, in declaration order (for documentation and exhaustive tests).
    pub const ALL: [Self; 16] = [
        Self::Malformed,
        Self::UnsupportedAlg,
        Self::WrongType,
        Self::UnknownKey,
        Self::BadSignature,
        Self::KeyExpired,
        Self::KeyRevoked,
        Self::NotYetValid,
        Self::Expired,
        Self::WrongAudience,
        Self::GracePeriod,
        Self::Revoked,
        Self::Offline,
        Self::OfflineGraceExhausted,
        Self::ClockRollback,
        Self::KeyCompromised,
    ];

    /// The codes [`crate::verify`] gives from a token alone (the rest come from a server's
    /// answer or the validation client).
    pub const FROM_TOKEN: [Self; 12] = [
        Self::Malformed,
        Self::UnsupportedAlg,
        Self::WrongType,
        Self::UnknownKey,
        Self::BadSignature,
        Self::KeyExpired,
        Self::KeyRevoked,
        Self::NotYetValid,
        Self::Expired,
        Self::WrongAudience,
        Self::GracePeriod,
        Self::KeyCompromised,
    ];

    /// The stable snake_case code, e.g. `bad_signature`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnsupportedAlg => "unsupported_alg",
            Self::WrongType => "wrong_type",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::KeyExpired => "key_expired",
            Self::KeyRevoked => "key_revoked",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::WrongAudience => "wrong_audience",
            Self::GracePeriod => "grace_period",
            Self::Revoked => "revoked",
            Self::Offline => "offline",
            Self::OfflineGraceExhausted => "offline_grace_exhausted",
            Self::ClockRollback => "clock_rollback",
            Self::KeyCompromised => "key_compromised",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
