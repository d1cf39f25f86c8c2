//! Key sets: a JWKS (RFC 7517) of Ed25519 public keys (RFC 8037 `OKP` / `Ed25519`), each
//! named by its `kid`, with an optional signing window, a revoked flag and a state (`active`,
//! `retired`, `compromised` since a time); and the issued lists of compromised keys.

use std::sync::Arc;

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value, json};

use crate::error::{KeyProblem, KeySetError};
use crate::fixed_base::KeyTable;
use crate::{IssuedList, UnixTime, VerifyError, jws};

/// Key sets larger than this are refused unparsed.
pub const MAX_KEY_SET_BYTES: usize = 1024 * 1024;

/// One Ed25519 public key that may verify licenses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    kid: String,
    key: VerifyingKey,
    not_before: Option<UnixTime>,
    not_after: Option<UnixTime>,
    revoked: bool,
    overrides_only: bool,
    state: Option<KeyState>,
    /// Precomputed multiples of the key, built on its first verification.
    table: KeyTable,
}

/// A signing key's state as its key set publishes it (JWK member `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new licenses and leases.
    Active,
    /// Rotated out: verifies what it signed inside its window, signs nothing new.
    Retired,
    /// Its private key leaked: a token it signed verifies only when it is on the key's
    /// issued list ([`crate::IssuedList`]); anything else is refused `key_compromised`.
    Compromised {
        /// When it was marked (`compromised_at`).
        since: UnixTime,
    },
}

impl KeyState {
    /// `active`, `retired` or `compromised`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Compromised { .. } => "compromised",
        }
    }
}

impl PublicKey {
    /// A key from its 32-byte encoding, with no signing window and not revoked.
    ///
    /// Refuses encodings that are not curve points and weak (small-order) points.
    pub fn from_bytes(kid: impl Into<String>, bytes: &[u8; 32]) -> Result<Self, KeyProblem> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyProblem::NotOnCurve)?;
        if key.is_weak() {
            return Err(KeyProblem::Weak);
        }
        Ok(Self {
            kid: kid.into(),
            key,
            not_before: None,
            not_after: None,
            revoked: false,
            overrides_only: false,
            state: None,
            table: KeyTable::default(),
        })
    }

    /// Sets the window in which this key may sign: licenses with `iat` in
    /// `[not_before, not_after)` are accepted.
    pub fn with_window(
        mut self,
        not_before: Option<UnixTime>,
        not_after: Option<UnixTime>,
    ) -> Result<Self, KeyProblem> {
        if let (Some(from), Some(until)) = (not_before, not_after)
            && from > until
        {
            return Err(KeyProblem::EmptyWindow);
        }
        self.not_before = not_before;
        self.not_after = not_after;
        Ok(self)
    }

    /// Marks the key revoked: licenses it signed are refused with `key_revoked`.
    #[must_use]
    pub fn revoked(mut self) -> Self {
        self.revoked = true;
        self
    }

    /// Marks the key as an emergency override key (JWK `"lifeline_use": "override"`): it
    /// verifies overrides only, never licenses.
    #[must_use]
    pub fn for_overrides_only(mut self) -> Self {
        self.overrides_only = true;
        self
    }

    /// Whether the key verifies overrides only.
    /// The key with this published state.
    #[must_use]
    pub fn with_state(mut self, state: KeyState) -> Self {
        self.state = Some(state);
        self
    }

    /// The published state, if the key set names one.
    pub fn state(&self) -> Option<KeyState> {
        self.state
    }

    /// When the key was marked compromised, if it was.
    pub fn compromised_since(&self) -> Option<UnixTime> {
        match self.state {
            Some(KeyState::Compromised { since }) => Some(since),
            _ => None,
        }
    }

    /// For tokens no issued list covers (leases, seat leases, overrides, bundles): a token
    /// of a compromised key counts only when signed (`iat`) before the key was marked, so
    /// what clients cached before the leak keeps them working offline, and nothing the key
    /// signs afterwards is taken. (A thief can backdate `iat`: such a token is at most as
    /// good as the tokens of its kind cached before the mark, and each kind is bounded in
    /// time — a lease by the offline grace from its `iat`, an override by 30 days.)
    pub fn check_signed_before_compromise(&self, signed_at: UnixTime) -> Result<(), VerifyError> {
        match self.compromised_since() {
            Some(since) if signed_at >= since => Err(VerifyError::KeyCompromised {
                kid: self.kid.clone(),
                since,
                list_known: false,
            }),
            _ => Ok(()),
        }
    }

    pub fn is_for_overrides_only(&self) -> bool {
        self.overrides_only
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32-byte public key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Start of the signing window, if any.
    pub fn not_before(&self) -> Option<UnixTime> {
        self.not_before
    }

    /// End (exclusive) of the signing window, if any.
    pub fn not_after(&self) -> Option<UnixTime> {
        self.not_after
    }

    /// Whether the key is revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }

    /// Whether a license signed at `signed_at` falls inside the key's signing window.
    pub fn may_have_signed_at(&self, signed_at: UnixTime) -> bool {
        self.not_before.is_none_or(|from| signed_at >= from)
            && self.not_after.is_none_or(|until| signed_at < until)
    }

    /// Strict Ed25519 verification: refuses small-order `R` and `A` and non-canonical `S`.
    /// The only signature check in the crate. Computed with the key's precomputed table
    /// (`fixed_base`), with exactly the verdicts of ed25519-dalek's `verify_strict`
    /// ([`Self::verify_strict_reference`]).
    pub fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.table
            .verify_strict(&self.key, message, signature)
            .unwrap_or_else(|| self.verify_strict_reference(message, signature))
    }

    /// Builds the key's table of multiples now (660 KiB; otherwise it is built at the
    /// key's 16th verification), so that every later verification takes the fast path: for
    /// servers that want the first requests as fast as the rest, and for tests.
    pub fn precompute(&self) {
        let _ = self.table.build(&self.key);
    }

    /// ed25519-dalek's `verify_strict` itself: the reference [`Self::verify_strict`] is held
    /// to (tests and benchmarks compare the two).
    pub fn verify_strict_reference(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }

    /// The key as a public JWK object.
    pub fn to_jwk(&self) -> Value {
        let mut jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": jws::encode(self.key.as_bytes()),
        });
        if let Value::Object(map) = &mut jwk {
            if let Some(t) = self.not_before {
                map.insert("not_before".into(), t.as_secs().into());
            }
            if let Some(t) = self.not_after {
                map.insert("not_after".into(), t.as_secs().into());
            }
            if self.revoked {
                map.insert("revoked".into(), true.into());
            }
            if self.overrides_only {
                map.insert("lifeline_use".into(), "override".into());
            }
            if let Some(state) = self.state {
                map.insert("status".into(), state.as_str().into());
            }
            if let Some(since) = self.compromised_since() {
                map.insert("compromised_at".into(), since.as_secs().into());
            }
        }
        jwk
    }

    /// Reads one public JWK. `d` (private material) is refused.
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, KeyProblem> {
        if jwk.contains_key("d") {
            return Err(KeyProblem::PrivateMaterial);
        }
        let (kid, x) = read_okp_members(jwk)?;
        let not_before = read_time(jwk, "not_before")?;
        let not_after = read_time(jwk, "not_after")?;
        let revoked = match jwk.get("revoked") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("revoked", "true or false")),
        };
        let overrides_only = match jwk.get("lifeline_use") {
            None => false,
            Some(Value::String(u)) if u == "override" => true,
            Some(_) => return Err(invalid("lifeline_use", "\"override\" or absent")),
        };
        let compromised_at = read_time(jwk, "compromised_at")?;
        let state = match (jwk.get("status"), compromised_at) {
            (None, None) => None,
            (Some(Value::String(s)), None) if s == "active" => Some(KeyState::Active),
            (Some(Value::String(s)), None) if s == "retired" => Some(KeyState::Retired),
            (Some(Value::String(s)), Some(since)) if s == "compromised" => {
                Some(KeyState::Compromised { since })
            }
            (Some(Value::String(s)), None) if s == "compromised" => {
                return Err(KeyProblem::Missing {
                    member: "compromised_at",
                });
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "compromised_at",
                    "absent unless status is \"compromised\"",
                ));
            }
            (Some(_), None) => {
                return Err(invalid(
                    "status",
                    "\"active\", \"retired\" or \"compromised\"",
                ));
            }
        };
        let mut key = Self::from_bytes(kid, &x)?.with_window(not_before, not_after)?;
        key.state = state;
        if revoked {
            key = key.revoked();
        }
        if overrides_only {
            key = key.for_overrides_only();
        }
        Ok(key)
    }
}

/// Checks the members every Ed25519 JWK shares (`kty`, `crv`, `alg`, `use`, `key_ops`,
/// `kid`) and returns the `kid` and the decoded `x`.
pub(crate) fn read_okp_members(jwk: &Map<String, Value>) -> Result<(String, [u8; 32]), KeyProblem> {
    expect_member(jwk, "kty", &["OKP"])?;
    expect_member(jwk, "crv", &["Ed25519"])?;
    if jwk.contains_key("alg") {
        expect_member(jwk, "alg", &["EdDSA", "Ed25519"])?;
    }
    if jwk.contains_key("use") {
        expect_member(jwk, "use", &["sig"])?;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let Value::Array(ops) = ops else {
            return Err(invalid("key_ops", "an array of strings"));
        };
        let allowed = ops
            .iter()
            .any(|op| matches!(op, Value::String(s) if s == "verify" || s == "sign"));
        if !allowed {
            return Err(KeyProblem::Unsupported {
                member: "key_ops",
                value: Value::Array(ops.clone()).to_string(),
            });
        }
    }
    let kid = match jwk.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
        Some(_) => return Err(invalid("kid", "a non-empty string")),
        None => return Err(KeyProblem::Missing { member: "kid" }),
    };
    let x = read_b64_32(jwk, "x")?;
    Ok((kid, x))
}

/// Decodes a base64url member that must hold exactly 32 bytes.
pub(crate) fn read_b64_32(
    jwk: &Map<String, Value>,
    member: &'static str,
) -> Result<[u8; 32], KeyProblem> {
    let text = match jwk.get(member) {
        Some(Value::String(text)) => text,
        Some(_) => return Err(invalid(member, "a base64url string")),
        None => return Err(KeyProblem::Missing { member }),
    };
    jws::decode_member(text)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| invalid(member, "32 bytes in unpadded base64url"))
}

fn expect_member(
    jwk: &Map<String, Value>,
    member: &'static str,
    allowed: &[&str],
) -> Result<(), KeyProblem> {
    match jwk.get(member) {
        Some(Value::String(v)) if allowed.contains(&v.as_str()) => Ok(()),
        Some(Value::String(v)) => Err(KeyProblem::Unsupported {
            member,
            value: v.clone(),
        }),
        Some(_) => Err(invalid(member, "a string")),
        None => Err(KeyProblem::Missing { member }),
    }
}

fn read_time(
    jwk: &Map<String, Value>,
    member: &'static str,
) -> Result<Option<UnixTime>, KeyProblem> {
    match jwk.get(member) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|s| Some(UnixTime::from_secs(s)))
            .ok_or_else(|| invalid(member, "a non-negative integer (unix seconds)")),
        Some(_) => Err(invalid(member, "a non-negative integer (unix seconds)")),
    }
}

fn invalid(member: &'static str, expected: &'static str) -> KeyProblem {
    KeyProblem::Invalid { member, expected }
}

/// The keys that may verify licenses, looked up by `kid`.
///
/// Loading is all-or-nothing: one bad key refuses the whole set, so a typo never silently
/// drops a key that licenses depend on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<PublicKey>,
    /// The issued lists of compromised keys (one per key), verified against this set.
    issued: Vec<Arc<IssuedList>>,
}

impl KeySet {
    /// An empty key set (every license is then `unknown_key`).
    pub fn new() -> Self {
        Self::default()
    }

    /// A key set from keys; refuses duplicate `kid`s.
    pub fn from_keys(keys: impl IntoIterator<Item = PublicKey>) -> Result<Self, KeySetError> {
        let mut set = Self::new();
        for key in keys {
            set.insert(key)?;
        }
        Ok(set)
    }

    /// Parses a JWKS document (`{"keys": [...]}`) from JSON bytes.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<Self, KeySetError> {
        if bytes.len() > MAX_KEY_SET_BYTES {
            return Err(KeySetError::TooLarge { len: bytes.len() });
        }
        let doc =
            crate::json::parse_object(bytes).map_err(|detail| KeySetError::Json { detail })?;
        Self::from_jwks(&doc)
    }

    /// Reads a JWKS document already parsed as a JSON object.
    pub fn from_jwks(doc: &Map<String, Value>) -> Result<Self, KeySetError> {
        let Some(Value::Array(keys)) = doc.get("keys") else {
            return Err(KeySetError::Json {
                detail: "expected an object with a \"keys\" array".to_owned(),
            });
        };
        let mut set = Self::new();
        for (index, key) in keys.iter().enumerate() {
            let Value::Object(jwk) = key else {
                return Err(KeySetError::Key {
                    index,
                    kid: None,
                    problem: invalid("(key)", "a JSON object"),
                });
            };
            let key = PublicKey::from_jwk(jwk).map_err(|problem| KeySetError::Key {
                index,
                kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
                problem,
            })?;
            set.insert(key)?;
        }
        Ok(set)
    }

    /// Adds a key; refuses a second key with the same `kid`.
    pub fn insert(&mut self, key: PublicKey) -> Result<(), KeySetError> {
        if self.get(key.kid()).is_some() {
            return Err(KeySetError::DuplicateKid { kid: key.kid });
        }
        self.keys.push(key);
        Ok(())
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Builds every key's table of multiples now ([`PublicKey::precompute`]).
    pub fn precompute(&self) {
        for key in &self.keys {
            key.precompute();
        }
    }

    /// All keys, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies an issued list ([`IssuedList::verify`]) against this set and keeps it: a
    /// token of the compromised key it names is then accepted when it is on the list. A list
    /// replaces the key's previous one unless that one is newer.
    pub fn add_issued_list(&mut self, token: &[u8]) -> Result<Arc<IssuedList>, VerifyError> {
        let list = Arc::new(IssuedList::verify(token, self)?);
        self.keep(list.clone());
        Ok(list)
    }

    /// Keeps a list already verified against another set when its signer is the same key
    /// here and still fit to sign one (a server re-reading its keys); whether it was kept.
    pub fn add_verified_issued_list(&mut self, list: Arc<IssuedList>) -> bool {
        let fits = list.signer_still_trusted(self) && self.get(list.kid()).is_some();
        if fits {
            self.keep(list);
        }
        fits
    }

    fn keep(&mut self, list: Arc<IssuedList>) {
        match self.issued.iter_mut().find(|l| l.kid() == list.kid()) {
            Some(held) if held.issued_at() <= list.issued_at() => *held = list,
            Some(_) => {}
            None => self.issued.push(list),
        }
    }

    /// The issued list of key `kid`, if the set holds one.
    pub fn issued_list(&self, kid: &str) -> Option<&IssuedList> {
        self.issued.iter().find(|l| l.kid() == kid).map(|l| &**l)
    }

    /// Every issued list the set holds.
    pub fn issued_lists(&self) -> impl Iterator<Item = &Arc<IssuedList>> {
        self.issued.iter()
    }

    /// The set as a JWKS document.
    pub fn to_jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(PublicKey::to_jwk).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
