//! One test per reason code, plus the rules around each.

use serde_json::{Map, Value, json};

use super::*;
use crate::sign::LicenseSigner;
use crate::{Malformed, PublicKey, Reason};

const NOW: u64 = 1_800_000_000;

fn signer() -> LicenseSigner {
    LicenseSigner::from_seed("k1", &[7; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([signer().public_key().unwrap()]).unwrap()
}

fn claims() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "iss": "lifeline-test", "sub": "acme", "aud": "app", "jti": "lic-1",
        "iat": NOW - 100, "exp": NOW + 1000, "entitlements": ["pro"],
    }) else {
        unreachable!()
    };
    map
}

fn with(changes: Value) -> Map<String, Value> {
    let mut map = claims();
    if let Value::Object(changes) = changes {
        for (k, v) in changes {
            if v.is_null() {
                map.remove(&k);
            } else {
                map.insert(k, v);
            }
        }
    }
    map
}

fn token(claims: &Map<String, Value>) -> String {
    signer().sign_license(claims).unwrap()
}

fn raw_token(header: Value, payload: Value) -> String {
    signer().sign_jws(
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
    )
}

fn header() -> Value {
    json!({"alg": "EdDSA", "typ": "lifeline-license+jwt", "kid": "k1"})
}

fn check(token: &str, policy: &Policy, now: u64) -> Verdict {
    verify(token.as_bytes(), &keys(), policy, UnixTime::from_secs(now))
}

fn reason(token: &str) -> Option<Reason> {
    check(token, &Policy::new(), NOW).reason()
}

#[test]
fn valid_license_has_no_reason_and_carries_claims() {
    let v = check(&token(&claims()), &Policy::new().with_audience("app"), NOW);
    assert_eq!(v.state(), State::Valid);
    assert_eq!(v.reason(), None);
    assert_eq!(v.kid(), Some("k1"));
    assert_eq!(v.expires_at(), Some(UnixTime::from_secs(NOW + 1000)));
    assert_eq!(v.grace_until(), None);
    assert_eq!(v.claims().unwrap().sub(), "acme");
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["state"], "valid");
    assert_eq!(json["reason"], Value::Null);
    assert_eq!(json["claims"]["jti"], "lic-1");
}

#[test]
fn malformed() {
    for bad in ["", "   \n", "abc", "a.b", "a.b.c", "a.b.c.d", "!!.e30.AA"] {
        assert_eq!(reason(bad), Some(Reason::Malformed), "{bad:?}");
    }
    let too_big = "a".repeat(crate::MAX_TOKEN_BYTES + 1);
    let v = check(&too_big, &Policy::new(), NOW);
    assert_eq!(
        v.error(),
        Some(&VerifyError::Malformed(Malformed::TooLarge {
            len: too_big.len(),
            limit: crate::MAX_TOKEN_BYTES,
        }))
    );
    // A missing required claim under a good signature is malformed, without claims.
    for claim in ["iss", "sub", "aud", "jti", "iat", "exp", "entitlements"] {
        let mut map = claims();
        map.remove(claim);
        let t = raw_token(header(), Value::Object(map));
        let v = check(&t, &Policy::new(), NOW);
        assert_eq!(v.reason(), Some(Reason::Malformed), "{claim}");
        assert!(v.claims().is_none());
        assert!(v.detail().unwrap().contains(claim), "{:?}", v.detail());
    }
}

#[test]
fn malformed_claim_types() {
    let cases = [
        json!({"exp": "soon"}),
        json!({"exp": 1.5}),
        json!({"exp": -1}),
        json!({"iat": 1e3}),
        json!({"nbf": true}),
        json!({"aud": []}),
        json!({"aud": [1]}),
        json!({"aud": ""}),
        json!({"sub": 7}),
        json!({"entitlements": "pro"}),
        json!({"entitlements": ["pro", 1]}),
        json!({"seats": 4_294_967_296_u64}),
        json!({"seats": -1}),
        json!({"grace_s": "1d"}),
    ];
    for change in cases {
        let t = raw_token(header(), Value::Object(with(change.clone())));
        assert_eq!(reason(&t), Some(Reason::Malformed), "{change}");
    }
}

#[test]
fn duplicate_claims_and_forbidden_headers_are_malformed() {
    let s = signer();
    let dup = s.sign_jws(
        header().to_string().as_bytes(),
        br#"{"iss":"a","sub":"b","aud":"app","jti":"x","iat":1,"exp":9999999999,"entitlements":[],"sub":"evil"}"#,
    );
    assert_eq!(reason(&dup), Some(Reason::Malformed));
    for extra in [json!({"crit": ["exp"]}), json!({"b64": false})] {
        let mut h = header();
        h.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert_eq!(
            reason(&raw_token(h, Value::Object(claims()))),
            Some(Reason::Malformed)
        );
    }
    let no_kid = json!({"alg": "EdDSA", "typ": "lifeline-license+jwt"});
    assert_eq!(
        reason(&raw_token(no_kid, Value::Object(claims()))),
        Some(Reason::Malformed)
    );
}

#[test]
fn unsupported_alg() {
    for alg in ["none", "HS256", "RS256", "eddsa", "ED25519", "ES256"] {
        let h = json!({"alg": alg, "typ": "lifeline-license+jwt", "kid": "k1"});
        let v = check(&raw_token(h, Value::Object(claims())), &Policy::new(), NOW);
        assert_eq!(v.reason(), Some(Reason::UnsupportedAlg), "{alg}");
        assert_eq!(
            v.error(),
            Some(&VerifyError::UnsupportedAlg {
                alg: alg.to_owned()
            })
        );
    }
    let ok = json!({"alg": "Ed25519", "typ": "lifeline-license+jwt", "kid": "k1"});
    assert_eq!(reason(&raw_token(ok, Value::Object(claims()))), None);
}

#[test]
fn wrong_type() {
    for typ in [
        json!("JWT"),
        json!("lifeline-lease+jwt"),
        json!("lifeline-override+jwt"),
    ] {
        let h = json!({"alg": "EdDSA", "typ": typ, "kid": "k1"});
        assert_eq!(
            reason(&raw_token(h, Value::Object(claims()))),
            Some(Reason::WrongType),
            "{typ}"
        );
    }
    let missing = json!({"alg": "EdDSA", "kid": "k1"});
    assert_eq!(
        reason(&raw_token(missing, Value::Object(claims()))),
        Some(Reason::WrongType)
    );
}

#[test]
fn unknown_key() {
    let other = LicenseSigner::from_seed("k2", &[9; 32]);
    let t = other.sign_license(&claims()).unwrap();
    let v = check(&t, &Policy::new(), NOW);
    assert_eq!(
        v.error(),
        Some(&VerifyError::UnknownKey { kid: "k2".into() })
    );
    assert!(v.claims().is_none());
}

#[test]
fn bad_signature() {
    // Right kid, wrong private key.
    let impostor = LicenseSigner::from_seed("k1", &[9; 32]);
    let t = impostor.sign_license(&claims()).unwrap();
    assert_eq!(reason(&t), Some(Reason::BadSignature));
    // Payload swapped under a genuine signature.
    let genuine = token(&claims());
    let forged_payload = token(&with(json!({"sub": "mallory"})));
    let mut parts: Vec<&str> = genuine.split('.').collect();
    parts[1] = forged_payload.split('.').nth(1).unwrap();
    let v = check(&parts.join("."), &Policy::new(), NOW);
    assert_eq!(v.reason(), Some(Reason::BadSignature));
    assert!(
        v.claims().is_none(),
        "claims of a forged token must never be shown as verified"
    );
}

#[test]
fn key_expired_only_when_signed_outside_the_window() {
    let s = signer();
    let window = |from: u64, until: u64| {
        let key = s
            .public_key()
            .unwrap()
            .with_window(
                Some(UnixTime::from_secs(from)),
                Some(UnixTime::from_secs(until)),
            )
            .unwrap();
        KeySet::from_keys([key]).unwrap()
    };
    let t = token(&claims()); // iat = NOW - 100
    let at = UnixTime::from_secs(NOW);
    // Signed inside a window that has since closed: still valid.
    let closed = window(NOW - 1000, NOW - 50);
    assert_eq!(
        verify(t.as_bytes(), &closed, &Policy::new(), at).state(),
        State::Valid
    );
    // Signed after the window closed.
    let v = verify(
        t.as_bytes(),
        &window(NOW - 1000, NOW - 100),
        &Policy::new(),
        at,
    );
    assert_eq!(v.reason(), Some(Reason::KeyExpired));
    assert!(v.claims().is_some());
    // Signed before the window opened.
    let v = verify(
        t.as_bytes(),
        &window(NOW - 99, NOW + 99),
        &Policy::new(),
        at,
    );
    assert_eq!(v.reason(), Some(Reason::KeyExpired));
}

#[test]
fn key_revoked() {
    let revoked = KeySet::from_keys([signer().public_key().unwrap().revoked()]).unwrap();
    let v = verify(
        token(&claims()).as_bytes(),
        &revoked,
        &Policy::new(),
        UnixTime::from_secs(NOW),
    );
    assert_eq!(
        v.error(),
        Some(&VerifyError::KeyRevoked { kid: "k1".into() })
    );
}

#[test]
fn not_yet_valid_honours_leeway() {
    let future_nbf = token(&with(json!({"nbf": NOW + 61})));
    assert_eq!(reason(&future_nbf), Some(Reason::NotYetValid));
    let within_leeway = token(&with(json!({"nbf": NOW + 60})));
    assert_eq!(reason(&within_leeway), None);
    let future_iat = token(&with(json!({"iat": NOW + 61})));
    assert_eq!(reason(&future_iat), Some(Reason::NotYetValid));
    let strict = check(&within_leeway, &Policy::new().with_leeway_secs(0), NOW);
    assert_eq!(strict.reason(), Some(Reason::NotYetValid));
}

#[test]
fn expired_and_grace() {
    let t = token(&with(json!({"grace_s": 500})));
    let at = |now| check(&t, &Policy::new(), now);
    assert_eq!(at(NOW + 999).state(), State::Valid);
    let grace = at(NOW + 1000);
    assert_eq!(grace.state(), State::Grace);
    assert_eq!(grace.reason(), Some(Reason::GracePeriod));
    assert_eq!(grace.grace_until(), Some(UnixTime::from_secs(NOW + 1500)));
    assert!(grace.is_usable());
    assert_eq!(at(NOW + 1499).state(), State::Grace);
    let expired = at(NOW + 1500);
    assert_eq!(expired.state(), State::Invalid);
    assert_eq!(expired.reason(), Some(Reason::Expired));
    let no_grace = token(&claims());
    assert_eq!(
        check(&no_grace, &Policy::new(), NOW + 1000).reason(),
        Some(Reason::Expired)
    );
}

#[test]
fn wrong_audience() {
    let t = token(&with(json!({"aud": ["app", "cli"]})));
    assert_eq!(
        check(&t, &Policy::new().with_audience("cli"), NOW).state(),
        State::Valid
    );
    let v = check(&t, &Policy::new().with_audience("other"), NOW);
    assert_eq!(
        v.error(),
        Some(&VerifyError::WrongAudience {
            expected: "other".into(),
            found: vec!["app".into(), "cli".into()]
        })
    );
}

#[test]
fn every_reason_code_is_distinct_and_snake_case() {
    let mut seen = std::collections::BTreeSet::new();
    for r in Reason::ALL {
        let code = r.as_str();
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
        assert!(seen.insert(code), "{code} twice");
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            Value::String(code.to_owned())
        );
    }
}

#[test]
fn unknown_claims_are_kept_and_signed() {
    let t = token(&with(json!({"tier": {"name": "gold"}})));
    let v = check(&t, &Policy::new(), NOW);
    assert_eq!(
        v.claims().unwrap().get("tier"),
        Some(&json!({"name": "gold"}))
    );
}

#[test]
fn signer_refuses_claims_that_would_be_malformed() {
    let mut map = claims();
    map.remove("exp");
    assert!(matches!(
        signer().sign_license(&map),
        Err(crate::sign::SignError::Claims(_))
    ));
}

#[test]
fn private_jwk_round_trips_and_mismatch_is_caught() {
    let s = signer();
    let jwk = s.to_private_jwk();
    let back = LicenseSigner::from_private_jwk_json(jwk.to_string().as_bytes()).unwrap();
    assert_eq!(back.public_key().unwrap(), s.public_key().unwrap());
    let mut wrong = jwk.clone();
    wrong["x"] = PublicKey::to_jwk(
        &LicenseSigner::from_seed("k1", &[1; 32])
            .public_key()
            .unwrap(),
    )["x"]
        .clone();
    assert_eq!(
        LicenseSigner::from_private_jwk_json(wrong.to_string().as_bytes()).unwrap_err(),
        crate::sign::SignError::KeyMismatch
    );
    assert!(
        !format!("{s:?}").contains(jwk["d"].as_str().unwrap()),
        "Debug must not leak the secret"
    );
}
