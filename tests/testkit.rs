//! Test kit: the license and key-set vector formats, and the generator that writes
//! `tests/vectors/licenses/*.json` and `tests/vectors/keysets/*.json`.
//!
//! Ed25519 signing is deterministic and every key here comes from a fixed seed, so the
//! generator reproduces the committed files byte for byte; a test fails on any drift.
//! Run `cargo run -p lifeline-tests --bin regen-vectors` after changing a vector.
//!
//! Test code: a broken fixture must fail loudly, so unwrap/expect/panic are allowed here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lifeline_core::{LicenseSigner, PublicKey, UnixTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub mod fuzzkit;

/// The verification time of every license vector.
pub const NOW: u64 = 1_800_000_000;

/// One license vector: verify `token` against `keys` at `now` (with `audience` if given)
/// and expect `expected`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LicenseVector {
    /// What the vector shows.
    pub description: String,
    /// The token, exactly as a verifier receives it.
    pub token: String,
    /// The JWKS to verify against.
    pub keys: Value,
    /// The product the verifier expects, if any.
    pub audience: Option<String>,
    /// Verification time, unix seconds.
    pub now: u64,
    /// The expected verdict.
    pub expected: Expected,
    /// The whole verdict the native core gives, as `lifeline verify` prints it. Every other
    /// runtime (WASM in Node and in browsers, the npm package) must give exactly this.
    pub verdict: Value,
}

/// The part of a verdict every runtime must agree on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// `valid`, `grace` or `invalid`.
    pub state: String,
    /// The reason code, `null` when valid.
    pub reason: Option<String>,
}

/// One key-set vector: loading `keys` must succeed (`expected_error` null) or fail with that code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeySetVector {
    /// What the vector shows.
    pub description: String,
    /// The JWKS document (as JSON text, so malformed documents can be represented too).
    pub keys: String,
    /// The expected `KeySetError::code`, or null.
    pub expected_error: Option<String>,
}

/// `tests/vectors` in this repository.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Every generated vector file: (path relative to `tests/vectors`, contents).
pub fn generate() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (name, vector) in license_vectors() {
        files.push((format!("licenses/{name}.json"), to_file(&vector)));
    }
    for (name, vector) in key_set_vectors() {
        files.push((format!("keysets/{name}.json"), to_file(&vector)));
    }
    files
}

fn to_file<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("vectors serialize");
    text.push('\n');
    text
}

fn signer(kid: &str, seed: u8) -> LicenseSigner {
    LicenseSigner::from_seed(kid, &[seed; 32])
}

fn public(signer: &LicenseSigner) -> PublicKey {
    signer.public_key().expect("fixed seeds give strong keys")
}

fn jwks(keys: &[PublicKey]) -> Value {
    json!({ "keys": keys.iter().map(PublicKey::to_jwk).collect::<Vec<_>>() })
}

fn base_claims() -> Map<String, Value> {
    let claims = json!({
        "iss": "lifeline-vectors",
        "sub": "customer-42",
        "aud": "photo-pro",
        "jti": "lic-0001",
        "iat": NOW - 86_400,
        "exp": NOW + 30 * 86_400,
        "entitlements": ["export", "raw"],
        "seats": 5,
    });
    claims.as_object().cloned().unwrap_or_default()
}

fn claims_with(changes: &Value) -> Map<String, Value> {
    let mut claims = base_claims();
    for (k, v) in changes.as_object().into_iter().flatten() {
        if v.is_null() {
            claims.remove(k);
        } else {
            claims.insert(k.clone(), v.clone());
        }
    }
    claims
}

fn license_header(kid: &str) -> Value {
    json!({ "alg": "EdDSA", "typ": "lifeline-license+jwt", "kid": kid })
}

fn raw(signer: &LicenseSigner, header: &Value, payload: &Value) -> String {
    signer.sign_jws(
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
    )
}

fn vector(
    description: &str,
    token: String,
    keys: Value,
    expected: (&str, Option<&str>),
) -> LicenseVector {
    LicenseVector {
        description: description.to_owned(),
        token,
        keys,
        audience: None,
        now: NOW,
        expected: Expected {
            state: expected.0.to_owned(),
            reason: expected.1.map(str::to_owned),
        },
        verdict: Value::Null,
    }
}

/// The verdict of the native core for a vector, as JSON.
pub fn native_verdict(v: &LicenseVector) -> Value {
    let keys = lifeline_core::KeySet::from_jwks_json(v.keys.to_string().as_bytes())
        .expect("vector key sets load");
    let mut policy = lifeline_core::Policy::new();
    if let Some(aud) = &v.audience {
        policy = policy.with_audience(aud.clone());
    }
    let verdict = lifeline_core::verify(
        v.token.as_bytes(),
        &keys,
        &policy,
        UnixTime::from_secs(v.now),
    );
    serde_json::to_value(&verdict).expect("verdicts serialize")
}

const VALID: (&str, Option<&str>) = ("valid", None);

fn invalid(reason: &str) -> (&str, Option<&str>) {
    ("invalid", Some(reason))
}

/// The license vectors, by file name.
pub fn license_vectors() -> Vec<(&'static str, LicenseVector)> {
    let k1 = signer("k1", 1);
    let k2 = signer("k2", 2);
    let set = jwks(&[public(&k1), public(&k2)]);
    let sign = |changes: Value| {
        raw(
            &k1,
            &license_header("k1"),
            &Value::Object(claims_with(&changes)),
        )
    };
    let with_header = |header: Value| raw(&k1, &header, &Value::Object(base_claims()));
    let good = sign(json!({}));
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let part = |i: usize| parts[i].clone();

    let mut v = vec![
        ("valid", vector("A plain valid license.", good.clone(), set.clone(), VALID)),
        (
            "valid-alg-ed25519",
            vector(
                "alg Ed25519 (RFC 9864 fully specified) is accepted like EdDSA.",
                with_header(json!({"alg": "Ed25519", "typ": "lifeline-license+jwt", "kid": "k1"})),
                set.clone(),
                VALID,
            ),
        ),
        (
            "valid-typ-media-type",
            vector(
                "typ compares case-insensitively and may carry the application/ prefix (RFC 7515 4.1.9).",
                with_header(json!({"alg": "EdDSA", "typ": "application/Lifeline-License+JWT", "kid": "k1"})),
                set.clone(),
                VALID,
            ),
        ),
        (
            "valid-surrounding-whitespace",
            vector("Whitespace around the token (a file's trailing newline) is ignored.", format!("  {good}\r\n"), set.clone(), VALID),
        ),
        (
            "valid-perpetual",
            vector("A perpetual license is a far-future exp.", sign(json!({"exp": 253_402_300_799_u64})), set.clone(), VALID),
        ),
        (
            "valid-unknown-claims",
            vector(
                "Unknown claims are kept and covered by the signature.",
                sign(json!({"tier": {"name": "gold", "level": 3}, "notes": null})),
                set.clone(),
                VALID,
            ),
        ),
        (
            "valid-second-key",
            vector("The kid picks the key: k2 signs, k2 verifies.", raw(&k2, &license_header("k2"), &Value::Object(base_claims())), set.clone(), VALID),
        ),
        (
            "valid-nbf-within-leeway",
            vector("nbf up to 60 s in the future is tolerated (clock skew).", sign(json!({"nbf": NOW + 60})), set.clone(), VALID),
        ),
        (
            "valid-signed-before-key-window-closed",
            vector(
                "Signed inside its key's window, verified after the window closed: still valid.",
                good.clone(),
                json!({"keys": [with_window(&k1, Some(NOW - 10 * 86_400), Some(NOW - 3_600))]}),
                VALID,
            ),
        ),
        (
            "grace",
            vector(
                "Past exp but inside grace_s: state grace.",
                sign(json!({"exp": NOW - 3_600, "grace_s": 7 * 86_400})),
                set.clone(),
                ("grace", Some("grace_period")),
            ),
        ),
        ("expired", vector("Past exp, no grace.", sign(json!({"exp": NOW - 1})), set.clone(), invalid("expired"))),
        ("expired-at-exp", vector("now == exp is expired.", sign(json!({"exp": NOW})), set.clone(), invalid("expired"))),
        (
            "expired-after-grace",
            vector("Past exp + grace_s.", sign(json!({"exp": NOW - 7_200, "grace_s": 3_600})), set.clone(), invalid("expired")),
        ),
        ("not-yet-valid-nbf", vector("nbf beyond the 60 s leeway.", sign(json!({"nbf": NOW + 61})), set.clone(), invalid("not_yet_valid"))),
        (
            "not-yet-valid-iat",
            vector("iat beyond the 60 s leeway (nbf defaults to iat).", sign(json!({"iat": NOW + 3_600})), set.clone(), invalid("not_yet_valid")),
        ),
        (
            "key-expired",
            vector(
                "Signed after its key's not_after.",
                good.clone(),
                json!({"keys": [with_window(&k1, Some(NOW - 10 * 86_400), Some(NOW - 2 * 86_400))]}),
                invalid("key_expired"),
            ),
        ),
        (
            "key-not-yet-valid",
            vector(
                "Signed before its key's not_before.",
                good.clone(),
                json!({"keys": [with_window(&k1, Some(NOW), None)]}),
                invalid("key_expired"),
            ),
        ),
        ("key-revoked", vector("The signing key is revoked.", good.clone(), jwks(&[public(&k1).revoked()]), invalid("key_revoked"))),
        (
            "key-compromised",
            vector(
                "The signing key is marked compromised and the verifier holds no issued list for it: no token of the key is accepted.",
                good.clone(),
                jwks(&[public(&k1).with_state(lifeline_core::KeyState::Compromised { since: UnixTime::from_secs(NOW - 3_600) })]),
                invalid("key_compromised"),
            ),
        ),
        ("unknown-key", vector("No key with the token's kid.", good.clone(), jwks(&[public(&k2)]), invalid("unknown_key"))),
        (
            "bad-signature-wrong-key",
            vector("Signed by k2's private key but names k1.", raw(&k2, &license_header("k1"), &Value::Object(base_claims())), set.clone(), invalid("bad_signature")),
        ),
        (
            "bad-signature-swapped-payload",
            vector(
                "A genuine signature over another payload.",
                format!("{}.{}.{}", part(0), b64(Value::Object(claims_with(&json!({"seats": 500}))).to_string().as_bytes()), part(2)),
                set.clone(),
                invalid("bad_signature"),
            ),
        ),
        (
            "bad-signature-zeroed",
            vector("An all-zero signature.", format!("{}.{}.{}", part(0), part(1), b64(&[0; 64])), set.clone(), invalid("bad_signature")),
        ),
        (
            "unsupported-alg-none",
            vector("alg none.", with_header(json!({"alg": "none", "typ": "lifeline-license+jwt", "kid": "k1"})), set.clone(), invalid("unsupported_alg")),
        ),
        (
            "unsupported-alg-hs256",
            vector("alg HS256 (key confusion attempt).", with_header(json!({"alg": "HS256", "typ": "lifeline-license+jwt", "kid": "k1"})), set.clone(), invalid("unsupported_alg")),
        ),
        (
            "unsupported-alg-case",
            vector("alg matching is exact-case: eddsa is refused.", with_header(json!({"alg": "eddsa", "typ": "lifeline-license+jwt", "kid": "k1"})), set.clone(), invalid("unsupported_alg")),
        ),
        (
            "wrong-type-jwt",
            vector("typ JWT: a generic JWT is not a license.", with_header(json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"})), set.clone(), invalid("wrong_type")),
        ),
        (
            "wrong-type-lease",
            vector("A lease token is not a license.", with_header(json!({"alg": "EdDSA", "typ": "lifeline-lease+jwt", "kid": "k1"})), set.clone(), invalid("wrong_type")),
        ),
        (
            "wrong-type-missing",
            vector("No typ at all.", with_header(json!({"alg": "EdDSA", "kid": "k1"})), set.clone(), invalid("wrong_type")),
        ),
        (
            "wrong-audience",
            LicenseVector { audience: Some("video-pro".into()), ..vector("aud names another product.", good.clone(), set.clone(), invalid("wrong_audience")) },
        ),
        (
            "valid-audience-in-array",
            LicenseVector {
                audience: Some("video-pro".into()),
                ..vector("aud as an array that includes the product.", sign(json!({"aud": ["photo-pro", "video-pro"]})), set.clone(), VALID)
            },
        ),
        ("malformed-empty", vector("Nothing but whitespace.", " \n".into(), set.clone(), invalid("malformed"))),
        ("malformed-two-segments", vector("Only two segments.", format!("{}.{}", part(0), part(1)), set.clone(), invalid("malformed"))),
        ("malformed-four-segments", vector("Four segments.", format!("{good}.{}", part(2)), set.clone(), invalid("malformed"))),
        ("malformed-padding", vector("Base64 padding is refused.", format!("{}.{}.{}==", part(0), part(1), part(2)), set.clone(), invalid("malformed"))),
        ("malformed-standard-base64", vector("'+' and '/' are not base64url.", format!("{}.{}.{}", part(0), part(1), part(2).replace('-', "+").replace('_', "/") + "+/"), set.clone(), invalid("malformed"))),
        ("malformed-inner-whitespace", vector("Whitespace inside the token.", format!("{}. {}.{}", part(0), part(1), part(2)), set.clone(), invalid("malformed"))),
        ("malformed-short-signature", vector("A 63-byte signature.", format!("{}.{}.{}", part(0), part(1), b64(&[1; 63])), set.clone(), invalid("malformed"))),
        ("malformed-header-not-json", vector("The header is not JSON.", format!("{}.{}.{}", b64(b"EdDSA"), part(1), part(2)), set.clone(), invalid("malformed"))),
        (
            "malformed-too-large",
            vector("Over 64 KiB: refused before parsing.", format!("{}.{}.{}", part(0), "A".repeat(64 * 1024), part(2)), set.clone(), invalid("malformed")),
        ),
        (
            "malformed-crit",
            vector("A crit header is refused.", with_header(json!({"alg": "EdDSA", "typ": "lifeline-license+jwt", "kid": "k1", "crit": ["exp"]})), set.clone(), invalid("malformed")),
        ),
        (
            "malformed-b64",
            vector("A b64 header member is refused.", with_header(json!({"alg": "EdDSA", "typ": "lifeline-license+jwt", "kid": "k1", "b64": true})), set.clone(), invalid("malformed")),
        ),
        ("malformed-no-kid", vector("No kid in the header.", with_header(json!({"alg": "EdDSA", "typ": "lifeline-license+jwt"})), set.clone(), invalid("malformed"))),
        (
            "malformed-duplicate-header-member",
            vector(
                "Duplicate header members are refused.",
                k1.sign_jws(br#"{"alg":"EdDSA","typ":"lifeline-license+jwt","kid":"k1","kid":"k2"}"#, Value::Object(base_claims()).to_string().as_bytes()),
                set.clone(),
                invalid("malformed"),
            ),
        ),
        (
            "malformed-duplicate-claim",
            vector(
                "Duplicate claims are refused even under a good signature.",
                k1.sign_jws(
                    license_header("k1").to_string().as_bytes(),
                    format!(r#"{{"iss":"x","sub":"a","aud":"photo-pro","jti":"j","iat":{},"exp":{},"entitlements":[],"sub":"b"}}"#, NOW - 10, NOW + 10).as_bytes(),
                ),
                set.clone(),
                invalid("malformed"),
            ),
        ),
        ("malformed-missing-exp", vector("exp is required.", sign(json!({"exp": null})), set.clone(), invalid("malformed"))),
        ("malformed-missing-entitlements", vector("entitlements is required.", sign(json!({"entitlements": null})), set.clone(), invalid("malformed"))),
        ("malformed-float-exp", vector("Times are integers.", sign(json!({"exp": 1.9e9})), set.clone(), invalid("malformed"))),
        ("malformed-string-iat", vector("Times are integers, not strings.", sign(json!({"iat": "yesterday"})), set.clone(), invalid("malformed"))),
        ("malformed-seats-negative", vector("seats is a u32.", sign(json!({"seats": -1})), set.clone(), invalid("malformed"))),
        (
            "malformed-deep-nesting",
            vector(
                "Claims nested deeper than 16 levels are refused.",
                sign(json!({"deep": serde_json::from_str::<Value>(&format!("{}{}", "[".repeat(20), "]".repeat(20))).unwrap()})),
                set.clone(),
                invalid("malformed"),
            ),
        ),
        (
            "malformed-payload-array",
            vector("The payload must be an object.", raw(&k1, &license_header("k1"), &json!(["iss", "sub"])), set.clone(), invalid("malformed")),
        ),
    ];
    v.sort_by(|a, b| a.0.cmp(b.0));
    for (_, vector) in &mut v {
        vector.verdict = native_verdict(vector);
    }
    v
}

fn with_window(signer: &LicenseSigner, from: Option<u64>, until: Option<u64>) -> Value {
    public(signer)
        .with_window(
            from.map(UnixTime::from_secs),
            until.map(UnixTime::from_secs),
        )
        .map(|k| k.to_jwk())
        .expect("window is not empty")
}

/// The key-set vectors, by file name.
pub fn key_set_vectors() -> Vec<(&'static str, KeySetVector)> {
    let x = public(&signer("k1", 1)).to_jwk()["x"].clone();
    let jwk = |changes: Value| {
        let mut key = json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x});
        for (k, v) in changes.as_object().into_iter().flatten() {
            if let Some(obj) = key.as_object_mut() {
                if v.is_null() {
                    obj.remove(k);
                } else {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
        key
    };
    let doc = |keys: Vec<Value>| json!({ "keys": keys }).to_string();
    let case = |description: &str, keys: String, error: Option<&str>| KeySetVector {
        description: description.to_owned(),
        keys,
        expected_error: error.map(str::to_owned),
    };
    let mut v = vec![
        (
            "ok-minimal",
            case(
                "kty, crv, kid and x are enough.",
                doc(vec![jwk(json!({}))]),
                None,
            ),
        ),
        (
            "ok-empty",
            case(
                "An empty key set loads (every license is then unknown_key).",
                doc(vec![]),
                None,
            ),
        ),
        (
            "ok-full",
            case(
                "alg, use, key_ops, a window and revoked are understood.",
                doc(vec![jwk(
                    json!({"alg": "EdDSA", "use": "sig", "key_ops": ["verify"], "not_before": 1, "not_after": 2, "revoked": true}),
                )]),
                None,
            ),
        ),
        (
            "weak-identity",
            case(
                "The identity point is a weak key.",
                doc(vec![jwk(
                    json!({"x": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
                )]),
                Some("weak_key"),
            ),
        ),
        (
            "weak-order-8",
            case(
                "A point of order 8 is a weak key.",
                doc(vec![jwk(
                    json!({"x": "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA_o"}),
                )]),
                Some("weak_key"),
            ),
        ),
        (
            "private-material",
            case(
                "A key set must not carry d.",
                doc(vec![jwk(json!({"d": x}))]),
                Some("private_key_in_key_set"),
            ),
        ),
        (
            "duplicate-kid",
            case(
                "Two keys with one kid.",
                doc(vec![jwk(json!({})), jwk(json!({}))]),
                Some("duplicate_kid"),
            ),
        ),
        (
            "kty-ec",
            case(
                "Only OKP keys.",
                doc(vec![jwk(json!({"kty": "EC"}))]),
                Some("unsupported_key"),
            ),
        ),
        (
            "crv-x25519",
            case(
                "Only Ed25519.",
                doc(vec![jwk(json!({"crv": "X25519"}))]),
                Some("unsupported_key"),
            ),
        ),
        (
            "alg-hs256",
            case(
                "The key pins the algorithm: HS256 is refused.",
                doc(vec![jwk(json!({"alg": "HS256"}))]),
                Some("unsupported_key"),
            ),
        ),
        (
            "use-enc",
            case(
                "An encryption key cannot verify.",
                doc(vec![jwk(json!({"use": "enc"}))]),
                Some("unsupported_key"),
            ),
        ),
        (
            "x-short",
            case(
                "x must be 32 bytes.",
                doc(vec![jwk(json!({"x": "AAAA"}))]),
                Some("invalid_key"),
            ),
        ),
        (
            "x-missing",
            case(
                "x is required.",
                doc(vec![jwk(json!({"x": null}))]),
                Some("invalid_key"),
            ),
        ),
        (
            "kid-missing",
            case(
                "kid is required.",
                doc(vec![jwk(json!({"kid": null}))]),
                Some("invalid_key"),
            ),
        ),
        (
            "window-empty",
            case(
                "not_before after not_after.",
                doc(vec![jwk(json!({"not_before": 10, "not_after": 5}))]),
                Some("invalid_key"),
            ),
        ),
        (
            "not-json",
            case("Not JSON at all.", "keys".into(), Some("malformed_key_set")),
        ),
        (
            "no-keys-array",
            case(
                "A JWKS needs a keys array.",
                "{\"key\": []}".into(),
                Some("malformed_key_set"),
            ),
        ),
        (
            "duplicate-member",
            case(
                "Duplicate members are refused.",
                "{\"keys\": [], \"keys\": []}".into(),
                Some("malformed_key_set"),
            ),
        ),
    ];
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// The vector files compiled into the test binary (for WASM tests, which have no file system).
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_vectors.rs"));
}

/// The embedded license vectors, parsed, sorted by name.
pub fn embedded_license_vectors() -> Vec<(String, LicenseVector)> {
    embedded::LICENSES
        .iter()
        .map(|(name, text)| {
            (
                (*name).to_owned(),
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}")),
            )
        })
        .collect()
}

/// The embedded key-set vectors, parsed, sorted by name.
pub fn embedded_key_set_vectors() -> Vec<(String, KeySetVector)> {
    embedded::KEYSETS
        .iter()
        .map(|(name, text)| {
            (
                (*name).to_owned(),
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}")),
            )
        })
        .collect()
}

/// Reads and parses every license vector file, sorted by name.
pub fn read_license_vectors() -> Vec<(String, LicenseVector)> {
    read_dir("licenses")
}

/// Reads and parses every key-set vector file, sorted by name.
pub fn read_key_set_vectors() -> Vec<(String, KeySetVector)> {
    read_dir("keysets")
}

fn read_dir<T: for<'de> Deserialize<'de>>(sub: &str) -> Vec<(String, T)> {
    let dir = vectors_dir().join(sub);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let vector =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((name, vector));
        }
    }
    assert!(!out.is_empty(), "no vectors in {}", dir.display());
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
