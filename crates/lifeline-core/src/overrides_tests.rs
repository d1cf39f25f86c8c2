//! Overrides: what they rescue, what they never touch, and every way one is refused.

use serde_json::{Map, Value, json};

use super::*;
use crate::sign::LicenseSigner;
use crate::{Policy, PublicKey, Reason, State, Verdict, verify};

const NOW: u64 = 1_800_000_000;

fn license_signer() -> LicenseSigner {
    LicenseSigner::from_seed("k1", &[7; 32])
}

fn emergency_signer() -> LicenseSigner {
    LicenseSigner::from_seed("emergency-1", &[9; 32])
}

/// The license key (signing window closed at NOW - 10) and the emergency override key.
fn keys() -> KeySet {
    let license = license_signer()
        .public_key()
        .unwrap()
        .with_window(None, Some(UnixTime::from_secs(NOW - 10)))
        .unwrap();
    let emergency = emergency_signer()
        .public_key()
        .unwrap()
        .for_overrides_only();
    KeySet::from_keys([license, emergency]).unwrap()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn license(iat: u64, exp: u64) -> String {
    license_signer()
        .sign_license(&object(json!({
            "iss": "vendor", "sub": "acme", "aud": "app", "jti": "lic-1",
            "iat": iat, "exp": exp, "entitlements": ["pro"], "grace_s": 100,
        })))
        .unwrap()
}

fn override_claims(scope: Value, effect: Value) -> Map<String, Value> {
    object(json!({
        "iss": "on-call", "jti": "ovr-1", "iat": NOW - 5, "exp": NOW + 3600,
        "scope": scope, "effect": effect,
        "reason": "signing key window closed by mistake", "incident": "INC-7",
    }))
}

fn minted(scope: Value, effect: Value) -> String {
    emergency_signer()
        .sign_override(&override_claims(scope, effect))
        .unwrap()
}

fn accepted(token: &str) -> Override {
    Override::verify(token.as_bytes(), &keys(), UnixTime::from_secs(NOW), 60).unwrap()
}

fn verdict(license: &str, overrides: &[Override], now: u64) -> Verdict {
    let now = UnixTime::from_secs(now);
    verify(license.as_bytes(), &keys(), &Policy::new(), now).with_overrides(overrides, now)
}

#[test]
fn a_valid_override_rescues_a_license_whose_key_window_closed() {
    // Signed after the key's window closed: key_expired.
    let lic = license(NOW - 5, NOW + 1000);
    assert_eq!(verdict(&lic, &[], NOW).reason(), Some(Reason::KeyExpired));
    let ovr = accepted(&minted(json!({"type": "all"}), json!({"type": "valid"})));
    let v = verdict(&lic, &[ovr], NOW);
    assert_eq!(v.state(), State::Override);
    assert!(v.is_usable());
    assert_eq!(
        v.reason(),
        Some(Reason::KeyExpired),
        "keeps why it was needed"
    );
    assert_eq!(v.applied_override().unwrap().id, "ovr-1");
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["state"], "override");
    assert_eq!(
        json["override"]["reason"],
        "signing key window closed by mistake"
    );
    assert_eq!(json["override"]["incident"], "INC-7");
    assert_eq!(json["override"]["scope"]["type"], "all");
    assert!(json["detail"].as_str().unwrap().contains("ovr-1"));
    // After the override's exp, the license alone decides again.
    let later = verdict(
        &lic,
        &[accepted(&minted(
            json!({"type": "all"}),
            json!({"type": "valid"}),
        ))],
        NOW + 3600,
    );
    assert_eq!(later.state(), State::Invalid);
}

#[test]
fn scopes_cover_exactly_their_licenses() {
    let lic = license(NOW - 50, NOW - 1000); // expired past its 100 s grace
    for (scope, covers) in [
        (json!({"type": "license", "value": "lic-1"}), true),
        (json!({"type": "license", "value": "lic-2"}), false),
        (json!({"type": "licensee", "value": "acme"}), true),
        (json!({"type": "licensee", "value": "globex"}), false),
        (json!({"type": "product", "value": "app"}), true),
        (json!({"type": "product", "value": "other"}), false),
        (json!({"type": "all"}), true),
    ] {
        let ovr = accepted(&minted(scope.clone(), json!({"type": "valid"})));
        let v = verdict(&lic, &[ovr], NOW);
        assert_eq!(v.state() == State::Override, covers, "{scope}");
        if !covers {
            assert_eq!(
                v.reason(),
                Some(Reason::Expired),
                "{scope}: nothing changes"
            );
            assert!(v.applied_override().is_none());
        }
    }
}

#[test]
fn effects_do_what_they_say_and_no_more() {
    let all = json!({"type": "all"});
    // Extra entitlements for a usable license.
    let lic = license(NOW - 5000, NOW + 1000);
    let keys_ok = KeySet::from_keys([license_signer().public_key().unwrap()]).unwrap();
    let now = UnixTime::from_secs(NOW);
    let base = verify(lic.as_bytes(), &keys_ok, &Policy::new(), now);
    assert_eq!(base.state(), State::Valid);
    let extra = accepted(&minted(
        all.clone(),
        json!({"type": "entitlements", "add": ["sso", "pro"]}),
    ));
    let v = base.clone().with_overrides([&extra], now);
    assert_eq!(v.state(), State::Override);
    assert_eq!(v.entitlements(), ["pro", "sso"]);
    // ...but entitlements never make an expired license usable.
    let expired = license(NOW - 5000, NOW - 1000);
    assert_eq!(verdict(&expired, &[extra], NOW).state(), State::Invalid);
    // Grace extended: expired at NOW-1000, grace to NOW-900, +2000 s → usable at NOW.
    let grace = accepted(&minted(
        all.clone(),
        json!({"type": "extend_grace", "secs": 2000}),
    ));
    assert_eq!(
        verdict(&expired, std::slice::from_ref(&grace), NOW).state(),
        State::Override
    );
    let short = accepted(&minted(
        all.clone(),
        json!({"type": "extend_grace", "secs": 100}),
    ));
    assert_eq!(verdict(&expired, &[short], NOW).state(), State::Invalid);
    // A valid license needs no `valid` override: unchanged.
    let valid = accepted(&minted(all, json!({"type": "valid"})));
    assert_eq!(base.with_overrides([&valid], now).state(), State::Valid);
}

#[test]
fn overrides_never_rescue_forgeries_revoked_keys_or_other_products() {
    let valid = accepted(&minted(json!({"type": "all"}), json!({"type": "valid"})));
    let now = UnixTime::from_secs(NOW);
    // A forged signature: no claims, nothing to override.
    let mut forged = license(NOW - 50, NOW - 1000).into_bytes();
    let i = forged.len() - 3;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let v = verify(&forged, &keys(), &Policy::new(), now).with_overrides([&valid], now);
    assert_eq!(v.reason(), Some(Reason::BadSignature));
    assert_eq!(v.state(), State::Invalid);
    // A revoked signing key, and a license for another product.
    let revoked = KeySet::from_keys([license_signer().public_key().unwrap().revoked()]).unwrap();
    let lic = license(NOW - 50, NOW + 1000);
    let v = verify(lic.as_bytes(), &revoked, &Policy::new(), now).with_overrides([&valid], now);
    assert_eq!(v.reason(), Some(Reason::KeyRevoked));
    let other = verify(
        lic.as_bytes(),
        &keys(),
        &Policy::new().with_audience("other"),
        now,
    )
    .with_overrides([&valid], now);
    assert_eq!(other.reason(), Some(Reason::WrongAudience));
    assert_eq!(other.state(), State::Invalid);
}

#[test]
fn tokens_of_the_wrong_type_are_refused_both_ways() {
    // A license presented as an override, and an override presented as a license.
    let lic = license(NOW - 50, NOW + 1000);
    let err = Override::verify(lic.as_bytes(), &keys(), UnixTime::from_secs(NOW), 60).unwrap_err();
    assert_eq!(err.reason(), Reason::WrongType);
    assert!(err.to_string().contains("lifeline-override+jwt"));
    let ovr = minted(json!({"type": "all"}), json!({"type": "valid"}));
    let v = verify(
        ovr.as_bytes(),
        &keys(),
        &Policy::new(),
        UnixTime::from_secs(NOW),
    );
    assert_eq!(v.reason(), Some(Reason::WrongType));
}

#[test]
fn the_emergency_key_signs_overrides_only() {
    let lic = emergency_signer()
        .sign_license(&object(json!({
            "iss": "x", "sub": "acme", "aud": "app", "jti": "forged",
            "iat": NOW - 50, "exp": NOW + 1000, "entitlements": [],
        })))
        .unwrap();
    let v = verify(
        lic.as_bytes(),
        &keys(),
        &Policy::new(),
        UnixTime::from_secs(NOW),
    );
    assert_eq!(v.reason(), Some(Reason::UnknownKey));
    assert!(v.detail().unwrap().contains("signs only overrides"));
    // The marker survives a JWKS round trip, and a bad marker refuses the key.
    let jwks = keys().to_jwks();
    let again = KeySet::from_jwks(jwks.as_object().unwrap()).unwrap();
    assert!(again.get("emergency-1").unwrap().is_for_overrides_only());
    assert!(!again.get("k1").unwrap().is_for_overrides_only());
    let mut jwk = emergency_signer().public_key().unwrap().to_jwk();
    jwk["lifeline_use"] = json!("licenses");
    assert!(PublicKey::from_jwk(jwk.as_object().unwrap()).is_err());
}

#[test]
fn every_refusal_of_an_override_is_typed() {
    let at = |token: &str, now: u64| {
        Override::verify(token.as_bytes(), &keys(), UnixTime::from_secs(now), 60)
            .unwrap_err()
            .reason()
    };
    let good = minted(json!({"type": "all"}), json!({"type": "valid"}));
    assert_eq!(at(&good, NOW + 3600), Reason::Expired, "replay after exp");
    assert_eq!(at(&good, NOW - 100), Reason::NotYetValid);
    let stranger = LicenseSigner::from_seed("stranger", &[3; 32])
        .sign_override(&override_claims(
            json!({"type": "all"}),
            json!({"type": "valid"}),
        ))
        .unwrap();
    assert_eq!(at(&stranger, NOW), Reason::UnknownKey);
    let mut tampered = good.clone().into_bytes();
    let i = tampered.len() - 3;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        at(&String::from_utf8(tampered).unwrap(), NOW),
        Reason::BadSignature
    );
    // Malformed claims are refused by the signer and, signed raw, by the verifier.
    for (name, change) in [
        ("reason", Value::Null),
        ("incident", json!("")),
        ("scope", json!({"type": "everything"})),
        ("scope", json!({"type": "all", "value": "x"})),
        ("scope", json!({"type": "license"})),
        ("effect", json!({"type": "entitlements", "add": []})),
        ("effect", json!({"type": "extend_grace", "secs": 0})),
        ("effect", json!("valid")),
        ("exp", json!(NOW - 5)),
        // Longer than 30 days (the red team's 100-year emergency override), by one second.
        ("exp", json!(NOW - 5 + MAX_OVERRIDE_LIFETIME_SECS + 1)),
        ("exp", json!(NOW + 100 * 365 * 86_400)),
    ] {
        let mut claims = override_claims(json!({"type": "all"}), json!({"type": "valid"}));
        if change.is_null() {
            claims.remove(name);
        } else {
            claims.insert(name.to_owned(), change.clone());
        }
        assert!(
            emergency_signer().sign_override(&claims).is_err(),
            "{name}: {change}"
        );
        let header = json!({"alg": "EdDSA", "typ": OVERRIDE_TYP, "kid": "emergency-1"});
        let raw = emergency_signer().sign_jws(
            header.to_string().as_bytes(),
            Value::Object(claims).to_string().as_bytes(),
        );
        assert_eq!(at(&raw, NOW), Reason::Malformed, "{name}: {change}");
    }
}

#[test]
fn an_override_may_last_thirty_days_and_not_a_second_more() {
    let mut claims = override_claims(json!({"type": "all"}), json!({"type": "valid"}));
    claims.insert("exp".into(), json!(NOW - 5 + MAX_OVERRIDE_LIFETIME_SECS));
    let token = emergency_signer().sign_override(&claims).unwrap();
    let ovr = accepted(&token);
    assert_eq!(
        ovr.expires_at.as_secs() - ovr.issued_at.as_secs(),
        MAX_OVERRIDE_LIFETIME_SECS
    );
}

#[test]
fn a_bundle_carries_the_overrides_that_still_verify_and_goes_stale() {
    let server = license_signer();
    let good = minted(json!({"type": "all"}), json!({"type": "valid"}));
    let stranger = LicenseSigner::from_seed("stranger", &[3; 32])
        .sign_override(&override_claims(
            json!({"type": "all"}),
            json!({"type": "valid"}),
        ))
        .unwrap();
    // The bundle key must verify bundles: use a key set where the server key is open.
    let keys = KeySet::from_keys([
        server.public_key().unwrap(),
        emergency_signer()
            .public_key()
            .unwrap()
            .for_overrides_only(),
    ])
    .unwrap();
    let bundle = server.sign_override_bundle(NOW - 10, NOW + 300, &[good, stranger]);
    let now = UnixTime::from_secs(NOW);
    let b = OverrideBundle::verify(bundle.as_bytes(), &keys, now, 60).unwrap();
    assert_eq!(b.overrides.len(), 1);
    assert_eq!(
        b.skipped, 1,
        "an override from an unknown key is skipped, never trusted"
    );
    assert_eq!(b.expires_at, UnixTime::from_secs(NOW + 300));
    let stale =
        OverrideBundle::verify(bundle.as_bytes(), &keys, UnixTime::from_secs(NOW + 300), 60);
    assert_eq!(stale.unwrap_err().reason(), Reason::Expired);
    // An override is not a bundle, and a tampered bundle is refused.
    let lone = minted(json!({"type": "all"}), json!({"type": "valid"}));
    assert_eq!(
        OverrideBundle::verify(lone.as_bytes(), &keys, now, 60)
            .unwrap_err()
            .reason(),
        Reason::WrongType
    );
    let mut bad = bundle.into_bytes();
    let i = bad.len() - 3;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        OverrideBundle::verify(&bad, &keys, now, 60)
            .unwrap_err()
            .reason(),
        Reason::BadSignature
    );
}
