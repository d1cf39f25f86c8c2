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
}

impl Reason {
    /// Every code, in declaration order (for documentation and exhaustive tests).
    pub const ALL: [Self; 11] = [
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
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
