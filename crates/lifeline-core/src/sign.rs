//! Issuing licenses (feature `sign`). The caller brings the secret seed: this crate has no RNG.

use core::fmt;

use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Map, Value, json};

use crate::error::KeyProblem;
use crate::keys::{read_b64_32, read_okp_members};
use crate::{Claims, LICENSE_TYP, PublicKey, VerifyError, jws};

/// An Ed25519 private key with its `kid`, able to sign licenses.
///
/// Its `Debug` output never shows the secret; the secret is zeroized on drop.
pub struct LicenseSigner {
    kid: String,
    key: SigningKey,
}

impl fmt::Debug for LicenseSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LicenseSigner")
            .field("kid", &self.kid)
            .field("public", &jws::encode(self.key.verifying_key().as_bytes()))
            .finish_non_exhaustive()
    }
}

/// Why a key could not be read or a license could not be signed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The private JWK is not strict JSON.
    Json {
        /// What is wrong.
        detail: String,
    },
    /// The private JWK is unusable.
    Key(KeyProblem),
    /// The JWK's `x` is not the public key of its `d`.
    KeyMismatch,
    /// The claims would not make a valid license.
    Claims(VerifyError),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json { detail } => write!(f, "private key is not a JWK: {detail}"),
            Self::Key(problem) => write!(f, "private key: {problem}"),
            Self::KeyMismatch => f.write_str("private key: \"x\" is not the public key of \"d\""),
            Self::Claims(VerifyError::Malformed(m)) => write!(f, "claims: {m}"),
            Self::Claims(e) => write!(f, "claims: {e}"),
        }
    }
}

impl std::error::Error for SignError {}

impl LicenseSigner {
    /// A signer from a 32-byte secret seed (RFC 8032 private key).
    pub fn from_seed(kid: impl Into<String>, seed: &[u8; 32]) -> Self {
        Self {
            kid: kid.into(),
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Reads a private OKP JWK (`kty` `OKP`, `crv` `Ed25519`, `kid`, `x`, `d`).
    pub fn from_private_jwk_json(bytes: &[u8]) -> Result<Self, SignError> {
        let jwk = crate::json::parse_object(bytes).map_err(|detail| SignError::Json { detail })?;
        let (kid, x) = read_okp_members(&jwk).map_err(SignError::Key)?;
        let d = read_b64_32(&jwk, "d").map_err(SignError::Key)?;
        let signer = Self::from_seed(kid, &d);
        if signer.key.verifying_key().to_bytes() != x {
            return Err(SignError::KeyMismatch);
        }
        Ok(signer)
    }

    /// The private JWK, secret included. Store it with owner-only permissions.
    pub fn to_private_jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": jws::encode(self.key.verifying_key().as_bytes()),
            "d": jws::encode(self.key.as_bytes()),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The matching public key (no signing window, not revoked).
    pub fn public_key(&self) -> Result<PublicKey, KeyProblem> {
        PublicKey::from_bytes(self.kid.clone(), self.key.verifying_key().as_bytes())
    }

    /// Signs a license. The claims are checked as a verifier would read them first, so a
    /// signer never issues a token that is `malformed` on arrival.
    pub fn sign_license(&self, claims: &Map<String, Value>) -> Result<String, SignError> {
        Claims::from_map(claims.clone()).map_err(SignError::Claims)?;
        let header = json!({ "alg": "EdDSA", "typ": LICENSE_TYP, "kid": self.kid });
        Ok(self.sign_jws(
            header.to_string().as_bytes(),
            Value::Object(claims.clone()).to_string().as_bytes(),
        ))
    }

    /// Signs a temporary override (`typ` `lifeline-override+jwt`). The claims are checked as
    /// a verifier reads them first (scope, effect, reason, incident, `exp` after `iat`).
    pub fn sign_override(&self, claims: &Map<String, Value>) -> Result<String, SignError> {
        crate::overrides::Override::from_claims(self.kid.clone(), claims)
            .map_err(SignError::Claims)?;
        let header = json!({ "alg": "EdDSA", "typ": crate::OVERRIDE_TYP, "kid": self.kid });
        Ok(self.sign_jws(
            header.to_string().as_bytes(),
            Value::Object(claims.clone()).to_string().as_bytes(),
        ))
    }

    /// Signs a lease (`typ` `lifeline-lease+jwt`): `sub` (license id), `state`, `iat`,
    /// `exp`, `seq`, optional `reason` and `instance`; checked as a client reads it first.
    pub fn sign_lease(&self, claims: &Map<String, Value>) -> Result<String, SignError> {
        crate::offline::Lease::from_claims(self.kid.clone(), claims).map_err(SignError::Claims)?;
        let header = json!({ "alg": "EdDSA", "typ": crate::LEASE_TYP, "kid": self.kid });
        Ok(self.sign_jws(
            header.to_string().as_bytes(),
            Value::Object(claims.clone()).to_string().as_bytes(),
        ))
    }

    /// Signs an issued list (`typ` `lifeline-issued+jwt`, claims from
    /// [`crate::issued_list_claims`]).
    pub fn sign_issued_list(&self, claims: &Map<String, Value>) -> String {
        let header = json!({ "alg": "EdDSA", "typ": crate::ISSUED_LIST_TYP, "kid": self.kid });
        self.sign_jws(
            header.to_string().as_bytes(),
            Value::Object(claims.clone()).to_string().as_bytes(),
        )
    }

    /// Signs a seat lease (`typ` `lifeline-seat+jwt`, claims from
    /// [`crate::seat_lease_claims`]); checked as a client reads it first.
    pub fn sign_seat_lease(&self, claims: &Map<String, Value>) -> Result<String, SignError> {
        crate::seats::SeatLease::from_claims(self.kid.clone(), claims)
            .map_err(SignError::Claims)?;
        let header = json!({ "alg": "EdDSA", "typ": crate::SEAT_TYP, "kid": self.kid });
        Ok(self.sign_jws(
            header.to_string().as_bytes(),
            Value::Object(claims.clone()).to_string().as_bytes(),
        ))
    }

    /// Signs an override bundle: the given override tokens, fresh from `iat` until `exp`.
    pub fn sign_override_bundle(&self, iat: u64, exp: u64, overrides: &[String]) -> String {
        let header = json!({ "alg": "EdDSA", "typ": crate::OVERRIDE_BUNDLE_TYP, "kid": self.kid });
        let payload = json!({ "iat": iat, "exp": exp, "overrides": overrides });
        self.sign_jws(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
        )
    }

    /// Signs arbitrary header and payload bytes as a compact JWS, checking nothing.
    /// For other token kinds and for test vectors; prefer [`Self::sign_license`].
    pub fn sign_jws(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", jws::encode(header), jws::encode(payload));
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", jws::encode(&signature.to_bytes()))
    }
}
