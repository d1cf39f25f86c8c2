use serde_json::json;

use super::*;

/// RFC 8037 Appendix A.2 public key.
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn jwks(keys: Value) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}

fn load(keys: Value) -> Result<KeySet, KeySetError> {
    KeySet::from_jwks_json(&jwks(keys))
}

fn problem(keys: Value) -> KeyProblem {
    match load(keys) {
        Err(KeySetError::Key { problem, .. }) => problem,
        other => panic!("expected a key problem, got {other:?}"),
    }
}

#[test]
fn loads_rfc_8037_key_with_window_and_revocation() {
    let set = load(json!([
        {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": RFC8037_X, "not_before": 10, "not_after": 20},
        {"kty": "OKP", "crv": "Ed25519", "kid": "b", "x": RFC8037_X, "revoked": true, "alg": "EdDSA", "use": "sig"},
    ]))
    .unwrap();
    assert_eq!(set.len(), 2);
    let a = set.get("a").unwrap();
    assert!(a.may_have_signed_at(UnixTime::from_secs(10)));
    assert!(a.may_have_signed_at(UnixTime::from_secs(19)));
    assert!(!a.may_have_signed_at(UnixTime::from_secs(20)));
    assert!(!a.may_have_signed_at(UnixTime::from_secs(9)));
    assert!(set.get("b").unwrap().is_revoked());
    // Round trip through to_jwks.
    let again = KeySet::from_jwks_json(set.to_jwks().to_string().as_bytes()).unwrap();
    assert_eq!(again, set);
}

#[test]
fn weak_keys_are_refused_at_load() {
    // The identity point (y = 1) and a point of order 8: both small-order.
    let identity = jws::encode(&{
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    });
    let order8 = "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA_o"; // speccheck case 0 key
    for x in [
        identity.as_str(),
        order8,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let err = load(json!([{"kty": "OKP", "crv": "Ed25519", "kid": "w", "x": x}])).unwrap_err();
        assert_eq!(err.code(), "weak_key", "{x}: {err}");
    }
}

#[test]
fn algorithm_is_pinned_by_the_key() {
    for (member, value) in [
        ("kty", "EC"),
        ("kty", "oct"),
        ("crv", "X25519"),
        ("crv", "Ed448"),
        ("alg", "HS256"),
        ("alg", "none"),
        ("use", "enc"),
    ] {
        let mut jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": RFC8037_X});
        jwk[member] = json!(value);
        let err = load(json!([jwk])).unwrap_err();
        assert_eq!(err.code(), "unsupported_key", "{member}={value}: {err}");
    }
}

#[test]
fn bad_members_are_refused_with_context() {
    assert_eq!(
        problem(json!([{"crv": "Ed25519", "kid": "k", "x": RFC8037_X}])),
        KeyProblem::Missing { member: "kty" }
    );
    assert_eq!(
        problem(json!([{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}])),
        KeyProblem::Missing { member: "kid" }
    );
    assert!(matches!(
        problem(json!([{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "AAAA"}])),
        KeyProblem::Invalid { member: "x", .. }
    ));
    assert!(matches!(
        problem(
            json!([{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": RFC8037_X, "not_after": "soon"}])
        ),
        KeyProblem::Invalid {
            member: "not_after",
            ..
        }
    ));
    assert!(matches!(
        problem(
            json!([{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": RFC8037_X, "revoked": "yes"}])
        ),
        KeyProblem::Invalid {
            member: "revoked",
            ..
        }
    ));
    assert_eq!(
        problem(
            json!([{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": RFC8037_X, "not_before": 5, "not_after": 4}])
        ),
        KeyProblem::EmptyWindow
    );
    assert_eq!(
        problem(
            json!([{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": RFC8037_X, "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}])
        ),
        KeyProblem::PrivateMaterial
    );
    assert!(matches!(
        problem(json!(["not an object"])),
        KeyProblem::Invalid { .. }
    ));
}

#[test]
fn document_level_errors() {
    assert_eq!(
        KeySet::from_jwks_json(b"[]").unwrap_err().code(),
        "malformed_key_set"
    );
    assert_eq!(
        KeySet::from_jwks_json(b"{\"keys\": {}}")
            .unwrap_err()
            .code(),
        "malformed_key_set"
    );
    assert_eq!(
        KeySet::from_jwks_json(b"{\"keys\": [], \"keys\": []}")
            .unwrap_err()
            .code(),
        "malformed_key_set"
    );
    assert_eq!(
        KeySet::from_jwks_json(&vec![b' '; MAX_KEY_SET_BYTES + 1])
            .unwrap_err()
            .code(),
        "malformed_key_set"
    );
    let dup = load(json!([
        {"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": RFC8037_X},
        {"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": RFC8037_X},
    ]));
    assert_eq!(
        dup.unwrap_err(),
        KeySetError::DuplicateKid { kid: "k".into() }
    );
    assert!(
        KeySet::from_jwks_json(b"{\"keys\": []}")
            .unwrap()
            .is_empty()
    );
}
