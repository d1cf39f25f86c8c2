//! The issued list of a compromised key: the exact set of licenses the vendor signed with it.
//!
//! When a signing key leaks, anyone can mint licenses with it. The vendor marks the key
//! `compromised` in its key set and publishes, signed by another (uncompromised) key, the
//! digest of every license token it issued with the leaked key. A verifier then accepts a
//! token of that key only when its digest is on the list: the vendor's licenses keep working
//! offline and at the edge, forged ones (new ids, raised entitlements, far expiries) are
//! refused `key_compromised`. The set is exact — 256-bit digests, no probabilistic filter an
//! attacker could grind (finding a second token with a listed digest is a second preimage of
//! a 256-bit hash) — and sorted, so a lookup is a binary search.
//!
//! A digest is the first 32 bytes of SHA-512 of the token (surrounding whitespace removed):
//! every verifier already carries SHA-512 for Ed25519, and a second hash function would cost
//! each build (the browser console and the verify-only npm entry have size budgets).
//!
//! ```text
//! header {alg: EdDSA, typ: lifeline-issued+jwt, kid: <signer, not compromised>}
//! claims {iss, sub: <compromised kid>, iat, compromised_at, count, digests: base64url(d1‖d2‖…)}
//!         digests ascending, no repeats; count = number of digests
//! ```

use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

use crate::error::{Malformed, VerifyError};
use crate::members::{missing, string, time, wrong};
use crate::{KeySet, UnixTime, jws};

/// The `typ` of an issued list.
pub const ISSUED_LIST_TYP: &str = "lifeline-issued+jwt";

/// The largest issued list read: about 1.5 million licenses (43 bytes each in base64url).
pub const MAX_ISSUED_LIST_BYTES: usize = 64 * 1024 * 1024;

/// The digest an issued list holds for a token: the first 32 bytes of SHA-512 of its bytes,
/// surrounding ASCII whitespace removed (the token's encoding is unique: strict base64url).
pub fn token_digest(token: &[u8]) -> [u8; 32] {
    let full = Sha512::digest(jws::trim(token));
    let (first, _) = full.as_chunks::<32>();
    first.first().copied().unwrap_or_default()
}

/// An authentic issued list (only [`IssuedList::verify`] makes one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedList {
    kid: String,
    signed_by: String,
    signer: [u8; 32],
    issued_at: UnixTime,
    compromised_at: UnixTime,
    digests: Vec<[u8; 32]>,
}

impl IssuedList {
    /// Authenticates an issued list with `keys` and reads it. The signer must be a license
    /// key of the set that is neither compromised nor revoked, and not the listed key
    /// itself; the listed key must be in the set.
    pub fn verify(token: &[u8], keys: &KeySet) -> Result<Self, VerifyError> {
        let jws::Authenticated { kid, key, payload } =
            jws::authenticate_up_to(token, ISSUED_LIST_TYP, keys, MAX_ISSUED_LIST_BYTES)?;
        if key.is_for_overrides_only() {
            return Err(VerifyError::KeyNotForLicenses { kid });
        }
        if key.is_revoked() {
            return Err(VerifyError::KeyRevoked { kid });
        }
        if let Some(since) = key.compromised_since() {
            return Err(VerifyError::KeyCompromised {
                kid,
                since,
                list_known: false,
            });
        }
        let listed = string(&payload, "sub")?;
        if listed == kid {
            return Err(wrong("sub", "a key other than the list's signer"));
        }
        if keys.get(&listed).is_none() {
            return Err(VerifyError::UnknownKey { kid: listed });
        }
        Ok(Self {
            issued_at: time(&payload, "iat")?.ok_or_else(|| missing("iat"))?,
            compromised_at: time(&payload, "compromised_at")?
                .ok_or_else(|| missing("compromised_at"))?,
            digests: digests(&payload)?,
            kid: listed,
            signer: key.to_bytes(),
            signed_by: kid,
        })
    }

    /// The compromised key whose licenses the list names.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key that signed the list.
    pub fn signed_by(&self) -> &str {
        &self.signed_by
    }

    /// When the list was signed.
    pub fn issued_at(&self) -> UnixTime {
        self.issued_at
    }

    /// When the listed key was marked compromised.
    pub fn compromised_at(&self) -> UnixTime {
        self.compromised_at
    }

    /// How many licenses it names.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether it names none.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `token` is one of the licenses the vendor issued with the listed key.
    pub fn contains_token(&self, token: &[u8]) -> bool {
        self.contains(&token_digest(token))
    }

    pub(crate) fn contains(&self, digest: &[u8; 32]) -> bool {
        self.digests.binary_search(digest).is_ok()
    }

    /// Whether `keys` holds the very key that signed this list, still fit to sign one.
    pub(crate) fn signer_still_trusted(&self, keys: &KeySet) -> bool {
        keys.get(&self.signed_by).is_some_and(|k| {
            k.to_bytes() == self.signer
                && !k.is_revoked()
                && !k.is_for_overrides_only()
                && k.compromised_since().is_none()
        })
    }
}

fn digests(payload: &Map<String, Value>) -> Result<Vec<[u8; 32]>, VerifyError> {
    const EXPECTED: &str = "base64url of ascending, distinct 32-byte digests";
    let text = match payload.get("digests") {
        Some(Value::String(t)) => t,
        Some(_) => return Err(wrong("digests", EXPECTED)),
        None => return Err(missing("digests")),
    };
    let bytes = jws::decode_member(text).ok_or_else(|| wrong("digests", EXPECTED))?;
    let (chunks, rest) = bytes.as_chunks::<32>();
    if !rest.is_empty() || !chunks.is_sorted_by(|a, b| a < b) {
        return Err(wrong("digests", EXPECTED));
    }
    let count = payload
        .get("count")
        .ok_or_else(|| missing("count"))?
        .as_u64()
        .ok_or_else(|| wrong("count", "a non-negative integer"))?;
    if usize::try_from(count).ok() != Some(chunks.len()) {
        return Err(Malformed::Claim {
            claim: "count",
            problem: crate::ClaimProblem::WrongType {
                expected: "the number of digests",
            },
        }
        .into());
    }
    Ok(chunks.to_vec())
}

/// The claims of the issued list of key `kid` (compromised at `compromised_at`), naming
/// `tokens`; sign them with [`crate::LicenseSigner::sign_issued_list`].
#[cfg(feature = "sign")]
pub fn issued_list_claims<'t>(
    issuer: &str,
    kid: &str,
    compromised_at: UnixTime,
    now: UnixTime,
    tokens: impl IntoIterator<Item = &'t str>,
) -> Map<String, Value> {
    let mut digests: Vec<[u8; 32]> = tokens
        .into_iter()
        .map(|t| token_digest(t.as_bytes()))
        .collect();
    digests.sort_unstable();
    digests.dedup();
    let mut claims = Map::new();
    claims.insert("iss".into(), issuer.into());
    claims.insert("sub".into(), kid.into());
    claims.insert("iat".into(), now.as_secs().into());
    claims.insert("compromised_at".into(), compromised_at.as_secs().into());
    claims.insert("count".into(), digests.len().into());
    claims.insert("digests".into(), jws::encode(digests.as_flattened()).into());
    claims
}

#[cfg(test)]
#[path = "issued_list_tests.rs"]
mod tests;
