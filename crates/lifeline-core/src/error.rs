//! Typed errors with context. Machines read [`VerifyError::reason`] and
//! [`KeySetError::code`]; people read the `Display` text.

use core::fmt;

use crate::{Reason, UnixTime};

/// Why a license was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is not a well-formed Lifeline license.
    Malformed(Malformed),
    /// The header names an algorithm other than `EdDSA` / `Ed25519`.
    UnsupportedAlg {
        /// The `alg` the header carried.
        alg: String,
    },
    /// The header's `typ` is missing or is not `lifeline-license+jwt`.
    WrongType {
        /// The `typ` the header carried, if any.
        typ: Option<String>,
        /// The `typ` this kind of token must have.
        expected: &'static str,
    },
    /// The key set has no key with this `kid`.
    UnknownKey {
        /// The `kid` the header named.
        kid: String,
    },
    /// The named key is an emergency override key: it signs overrides, never licenses.
    KeyNotForLicenses {
        /// The key.
        kid: String,
    },
    /// The signature does not verify under the named key. Deliberately carries no detail.
    BadSignature,
    /// The license was signed outside its key's signing window.
    KeyExpired {
        /// The signing key.
        kid: String,
        /// The license's `iat`.
        signed_at: UnixTime,
        /// The key's `not_before`, if any.
        not_before: Option<UnixTime>,
        /// The key's `not_after`, if any.
        not_after: Option<UnixTime>,
    },
    /// The signing key is revoked.
    KeyRevoked {
        /// The revoked key.
        kid: String,
    },
    /// The signing key is marked compromised and the token is not on its issued list.
    KeyCompromised {
        /// The compromised key.
        kid: String,
        /// When it was marked compromised.
        since: UnixTime,
        /// Whether the key set holds the key's issued list (without one, no token of the
        /// key is accepted: fetch it).
        list_known: bool,
    },
    /// The license is not valid yet (`nbf` or `iat` beyond `now` + leeway).
    NotYetValid {
        /// The verification time.
        now: UnixTime,
        /// The later of `nbf` and `iat`.
        valid_from: UnixTime,
    },
    /// The license has expired, past any grace period.
    Expired {
        /// The verification time.
        now: UnixTime,
        /// The license's `exp`.
        expired_at: UnixTime,
        /// `exp` plus `grace_s`.
        grace_until: UnixTime,
    },
    /// The license's audience does not include the expected product.
    WrongAudience {
        /// The product the caller expected.
        expected: String,
        /// The audiences the license names.
        found: Vec<String>,
    },
}

impl VerifyError {
    /// The stable reason code for this error.
    pub const fn reason(&self) -> Reason {
        match self {
            Self::Malformed(_) => Reason::Malformed,
            Self::UnsupportedAlg { .. } => Reason::UnsupportedAlg,
            Self::WrongType { .. } => Reason::WrongType,
            Self::UnknownKey { .. } | Self::KeyNotForLicenses { .. } => Reason::UnknownKey,
            Self::BadSignature => Reason::BadSignature,
            Self::KeyExpired { .. } => Reason::KeyExpired,
            Self::KeyRevoked { .. } => Reason::KeyRevoked,
            Self::KeyCompromised { .. } => Reason::KeyCompromised,
            Self::NotYetValid { .. } => Reason::NotYetValid,
            Self::Expired { .. } => Reason::Expired,
            Self::WrongAudience { .. } => Reason::WrongAudience,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(m) => write!(f, "malformed license: {m}"),
            Self::UnsupportedAlg { alg } => {
                write!(
                    f,
                    "unsupported algorithm {alg:?}: only EdDSA / Ed25519 is accepted"
                )
            }
            Self::WrongType {
                typ: Some(typ),
                expected,
            } => write!(f, "wrong token type {typ:?}: expected {expected:?}"),
            Self::WrongType {
                typ: None,
                expected,
            } => write!(f, "header has no typ: expected {expected:?}"),
            Self::UnknownKey { kid } => write!(f, "no key with kid {kid:?} in the key set"),
            Self::KeyNotForLicenses { kid } => write!(
                f,
                "key {kid:?} signs only overrides: no license key has that kid"
            ),
            Self::BadSignature => f.write_str("signature does not verify"),
            Self::KeyExpired {
                kid,
                signed_at,
                not_before,
                not_after,
            } => {
                write!(
                    f,
                    "license signed at {signed_at}, outside the signing window of key {kid:?} ("
                )?;
                match not_before {
                    Some(t) => write!(f, "from {t}")?,
                    None => f.write_str("from the start")?,
                }
                match not_after {
                    Some(t) => write!(f, " until {t})"),
                    None => f.write_str(" with no end)"),
                }
            }
            Self::KeyRevoked { kid } => write!(f, "signing key {kid:?} is revoked"),
            Self::KeyCompromised {
                kid,
                since,
                list_known: true,
            } => write!(
                f,
                "signing key {kid:?} was marked compromised at {since} and this token is not one the vendor issued with it"
            ),
            Self::KeyCompromised {
                kid,
                since,
                list_known: false,
            } => write!(
                f,
                "signing key {kid:?} was marked compromised at {since}; without its issued list no token it signed is accepted"
            ),
            Self::NotYetValid { now, valid_from } => {
                write!(f, "license is valid from {valid_from}, now is {now}")
            }
            Self::Expired {
                now,
                expired_at,
                grace_until,
            } if grace_until > expired_at => write!(
                f,
                "license expired at {expired_at} and its grace period ended at {grace_until}, now is {now}"
            ),
            Self::Expired {
                now, expired_at, ..
            } => {
                write!(f, "license expired at {expired_at}, now is {now}")
            }
            Self::WrongAudience { expected, found } => {
                write!(f, "license is for {found:?}, not for {expected:?}")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// Which of the three compact-serialization segments a problem is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Segment {
    /// The protected header.
    Header,
    /// The payload (claims).
    Payload,
    /// The signature.
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Payload => "payload",
            Self::Signature => "signature",
        })
    }
}

/// The ways a token can be malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// Nothing but whitespace.
    Empty,
    /// Larger than its limit ([`crate::MAX_TOKEN_BYTES`]; an issued list's
    /// [`crate::MAX_ISSUED_LIST_BYTES`]); refused before any parsing.
    TooLarge {
        /// Size in bytes after trimming surrounding whitespace.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not exactly three `.`-separated segments.
    SegmentCount {
        /// How many segments there were.
        found: usize,
    },
    /// A segment is not unpadded base64url (RFC 4648 §5) in canonical form.
    Base64 {
        /// The segment.
        segment: Segment,
    },
    /// A segment is not the strict JSON object required.
    Json {
        /// The segment.
        segment: Segment,
        /// What the JSON parser objected to.
        detail: String,
    },
    /// A header member is missing, mistyped or forbidden.
    Header {
        /// What is wrong.
        detail: &'static str,
    },
    /// The signature is not 64 bytes.
    SignatureLength {
        /// Its length in bytes.
        len: usize,
    },
    /// A claim is missing, mistyped or out of range.
    Claim {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong with it.
        problem: ClaimProblem,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the input is empty"),
            Self::TooLarge { len, limit } => {
                write!(f, "token is {len} bytes, over the {limit} byte limit")
            }
            Self::SegmentCount { found } => write!(
                f,
                "expected 3 dot-separated segments (header.payload.signature), found {found}"
            ),
            Self::Base64 { segment } => write!(f, "{segment} is not unpadded base64url"),
            Self::Json { segment, detail } => {
                write!(f, "{segment} is not a valid JSON object: {detail}")
            }
            Self::Header { detail } => write!(f, "header {detail}"),
            Self::SignatureLength { len } => write!(f, "signature is {len} bytes, expected 64"),
            Self::Claim { claim, problem } => write!(f, "claim {claim:?} {problem}"),
        }
    }
}

/// What is wrong with one claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimProblem {
    /// The claim is required and absent.
    Missing,
    /// The claim has the wrong JSON type or shape.
    WrongType {
        /// What was expected, e.g. "a non-negative integer".
        expected: &'static str,
    },
}

impl fmt::Display for ClaimProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("is missing (required)"),
            Self::WrongType { expected } => write!(f, "must be {expected}"),
        }
    }
}

/// Why a key set (JWKS) could not be loaded. Loading is all-or-nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySetError {
    /// Larger than [`crate::MAX_KEY_SET_BYTES`].
    TooLarge {
        /// Size in bytes.
        len: usize,
    },
    /// Not a strict JSON object with a `keys` array.
    Json {
        /// What is wrong.
        detail: String,
    },
    /// One key is unusable.
    Key {
        /// Position in the `keys` array.
        index: usize,
        /// The key's `kid`, when it had a readable one.
        kid: Option<String>,
        /// What is wrong with it.
        problem: KeyProblem,
    },
    /// Two keys share one `kid`.
    DuplicateKid {
        /// The repeated `kid`.
        kid: String,
    },
}

impl KeySetError {
    /// A stable snake_case code: `malformed_key_set`, `duplicate_kid`, `unsupported_key`,
    /// `invalid_key`, `weak_key` or `private_key_in_key_set`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } | Self::Json { .. } => "malformed_key_set",
            Self::DuplicateKid { .. } => "duplicate_kid",
            Self::Key { problem, .. } => problem.code(),
        }
    }
}

impl fmt::Display for KeySetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len } => write!(
                f,
                "key set is {len} bytes, over the {} byte limit",
                crate::MAX_KEY_SET_BYTES
            ),
            Self::Json { detail } => write!(f, "key set is not a JWKS: {detail}"),
            Self::Key {
                index,
                kid: Some(kid),
                problem,
            } => {
                write!(f, "key {index} (kid {kid:?}): {problem}")
            }
            Self::Key {
                index,
                kid: None,
                problem,
            } => write!(f, "key {index}: {problem}"),
            Self::DuplicateKid { kid } => write!(f, "two keys have kid {kid:?}"),
        }
    }
}

impl std::error::Error for KeySetError {}

/// What is wrong with one JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyProblem {
    /// A required member is absent.
    Missing {
        /// The member's name.
        member: &'static str,
    },
    /// A member has the wrong JSON type or an invalid value.
    Invalid {
        /// The member's name.
        member: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// `kty`, `crv`, `alg`, `use` or `key_ops` name something other than Ed25519 signature
    /// verification.
    Unsupported {
        /// The member's name.
        member: &'static str,
        /// Its value.
        value: String,
    },
    /// `x` is not a valid Ed25519 point encoding.
    NotOnCurve,
    /// `x` is a small-order (weak) point: signatures under it prove nothing.
    Weak,
    /// The key carries private material (`d`) in what must be a public key set.
    PrivateMaterial,
    /// `not_before` is later than `not_after`.
    EmptyWindow,
}

impl KeyProblem {
    /// The stable code of [`KeySetError::code`].
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Missing { .. } | Self::Invalid { .. } | Self::NotOnCurve | Self::EmptyWindow => {
                "invalid_key"
            }
            Self::Unsupported { .. } => "unsupported_key",
            Self::Weak => "weak_key",
            Self::PrivateMaterial => "private_key_in_key_set",
        }
    }
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { member } => write!(f, "member {member:?} is missing"),
            Self::Invalid { member, expected } => write!(f, "member {member:?} must be {expected}"),
            Self::Unsupported { member, value } => write!(
                f,
                "{member} {value:?} is not supported: only OKP / Ed25519 signing keys (EdDSA)"
            ),
            Self::NotOnCurve => f.write_str("x is not a valid Ed25519 public key"),
            Self::Weak => f.write_str("x is a weak (small-order) public key and is refused"),
            Self::PrivateMaterial => f.write_str(
                "the key contains a private part (\"d\"); publish only public keys in a key set",
            ),
            Self::EmptyWindow => f.write_str("not_before is later than not_after"),
        }
    }
}
