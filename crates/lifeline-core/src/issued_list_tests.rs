//! The issued list and the `key_compromised` rule case by case (generated inputs:
//! `tests/core/compromise.rs`).

use serde_json::json;

use super::*;
use crate::sign::LicenseSigner;
use crate::{KeyState, Policy, PublicKey, Reason, State, verify};

const NOW: u64 = 1_800_000_000;
const MARKED: u64 = NOW - 3600;

fn leaked() -> LicenseSigner {
    LicenseSigner::from_seed("k-old", &[1; 32])
}

fn fresh() -> LicenseSigner {
    LicenseSigner::from_seed("k-new", &[2; 32])
}

fn license(by: &LicenseSigner, jti: &str, iat: u64) -> String {
    by.sign_license(
        json!({
            "iss": "v", "sub": "acme", "aud": "app", "jti": jti,
            "iat": iat, "exp": NOW + 86_400, "entitlements": ["pro"],
        })
        .as_object()
        .unwrap(),
    )
    .unwrap()
}

/// The key set after the mark: the leaked key compromised, the fresh one active.
fn keys_after_mark() -> KeySet {
    KeySet::from_keys([
        leaked()
            .public_key()
            .unwrap()
            .with_state(KeyState::Compromised {
                since: UnixTime::from_secs(MARKED),
            }),
        fresh().public_key().unwrap().with_state(KeyState::Active),
    ])
    .unwrap()
}

fn list(by: &LicenseSigner, of: &str, tokens: &[&str]) -> String {
    by.sign_issued_list(&issued_list_claims(
        "v",
        of,
        UnixTime::from_secs(MARKED),
        UnixTime::from_secs(NOW),
        tokens.iter().copied(),
    ))
}

fn check(token: &str, keys: &KeySet) -> crate::Verdict {
    verify(
        token.as_bytes(),
        keys,
        &Policy::new(),
        UnixTime::from_secs(NOW),
    )
}

#[test]
fn the_vendors_licenses_verify_forged_ones_are_refused() {
    let a = license(&leaked(), "lic-a", NOW - 86_400);
    let b = license(&leaked(), "lic-b", NOW - 7200);
    // The thief's tokens: a new id, a listed id with more rights, before and after the mark.
    let forged = [
        license(&leaked(), "lic-x", NOW - 86_400),
        license(&leaked(), "lic-a", NOW - 86_000),
        license(&leaked(), "lic-y", NOW),
    ];
    let mut keys = keys_after_mark();
    for token in [&a, &b, &forged[0]] {
        let v = check(token, &keys);
        assert_eq!(
            v.reason(),
            Some(Reason::KeyCompromised),
            "no list yet: {v:?}"
        );
        assert!(
            v.detail().unwrap().contains("without its issued list"),
            "{v:?}"
        );
    }
    let added = keys
        .add_issued_list(list(&fresh(), "k-old", &[&a, &b]).as_bytes())
        .unwrap();
    assert_eq!(
        (added.kid(), added.signed_by(), added.len()),
        ("k-old", "k-new", 2)
    );
    assert_eq!(check(&a, &keys).state(), State::Valid);
    assert_eq!(
        check(&format!("\n{b}\n"), &keys).state(),
        State::Valid,
        "whitespace trimmed"
    );
    for token in &forged {
        let v = check(token, &keys);
        assert_eq!(v.reason(), Some(Reason::KeyCompromised), "{v:?}");
        assert!(v.claims().is_some(), "claims kept for operators");
    }
    // The same key set without the mark accepts everything: the state is what refuses.
    let unmarked = KeySet::from_keys([leaked().public_key().unwrap()]).unwrap();
    assert_eq!(check(&forged[0], &unmarked).state(), State::Valid);
}

#[test]
fn a_list_signed_by_the_compromised_key_or_a_stranger_is_refused() {
    let a = license(&leaked(), "lic-a", NOW - 86_400);
    let forged = license(&leaked(), "lic-x", NOW);
    let mut keys = keys_after_mark();
    // The thief lists their own token, signing with the leaked key.
    let by_thief = list(&leaked(), "k-new", &[&forged]);
    assert!(matches!(
        keys.add_issued_list(by_thief.as_bytes()),
        Err(VerifyError::KeyCompromised { .. })
    ));
    let self_listed = list(&leaked(), "k-old", &[&forged]);
    assert!(matches!(
        keys.add_issued_list(self_listed.as_bytes()),
        Err(VerifyError::KeyCompromised { .. })
    ));
    let stranger = LicenseSigner::from_seed("k-new", &[9; 32]);
    assert_eq!(
        keys.add_issued_list(list(&stranger, "k-old", &[&forged]).as_bytes()),
        Err(VerifyError::BadSignature)
    );
    assert!(keys.issued_list("k-old").is_none());
    assert_eq!(check(&forged, &keys).reason(), Some(Reason::KeyCompromised));
    // A list naming itself, or a key not in the set.
    assert!(
        keys.add_issued_list(list(&fresh(), "k-new", &[&a]).as_bytes())
            .is_err()
    );
    assert!(matches!(
        keys.add_issued_list(list(&fresh(), "k-none", &[&a]).as_bytes()),
        Err(VerifyError::UnknownKey { .. })
    ));
}

#[test]
fn malformed_lists_are_refused_with_the_claim_named() {
    let keys = keys_after_mark();
    let a = license(&leaked(), "lic-a", NOW - 86_400);
    let good = issued_list_claims(
        "v",
        "k-old",
        UnixTime::from_secs(MARKED),
        UnixTime::from_secs(NOW),
        [a.as_str(), "b", "c"],
    );
    let sha = good["digests"].as_str().unwrap().to_owned();
    let bytes = jws::decode_member(&sha).unwrap();
    let reversed = bytes
        .chunks(32)
        .rev()
        .flatten()
        .copied()
        .collect::<Vec<u8>>();
    let cases = [
        ("digests", json!(jws::encode(&bytes[..40]))),
        ("digests", json!(jws::encode(&reversed))),
        ("digests", json!(42)),
        ("count", json!(2)),
        ("count", json!("3")),
    ];
    for (member, value) in cases {
        let mut claims = good.clone();
        claims.insert(member.into(), value);
        let token = fresh().sign_issued_list(&claims);
        let err = IssuedList::verify(token.as_bytes(), &keys).unwrap_err();
        assert!(err.to_string().contains(member), "{member}: {err}");
    }
    let mut duplicated = bytes.clone();
    duplicated.extend_from_slice(&bytes[..32]);
    let mut claims = good.clone();
    claims.insert("digests".into(), json!(jws::encode(&duplicated)));
    claims.insert("count".into(), json!(4));
    assert!(IssuedList::verify(fresh().sign_issued_list(&claims).as_bytes(), &keys).is_err());
    // A license is not a list.
    assert!(matches!(
        IssuedList::verify(a.as_bytes(), &keys),
        Err(VerifyError::WrongType { .. })
    ));
}

#[test]
fn leases_and_overrides_of_a_compromised_key_count_only_from_before_the_mark() {
    let key = leaked()
        .public_key()
        .unwrap()
        .with_state(KeyState::Compromised {
            since: UnixTime::from_secs(MARKED),
        });
    assert!(
        key.check_signed_before_compromise(UnixTime::from_secs(MARKED - 1))
            .is_ok()
    );
    assert!(matches!(
        key.check_signed_before_compromise(UnixTime::from_secs(MARKED)),
        Err(VerifyError::KeyCompromised { .. })
    ));
    let keys = keys_after_mark();
    let lease = |iat: u64| {
        leaked()
            .sign_lease(
                json!({"sub": "lic-a", "state": "valid", "iat": iat, "exp": iat + 3600, "seq": 1})
                    .as_object()
                    .unwrap(),
            )
            .unwrap()
    };
    assert!(crate::Lease::verify(lease(MARKED - 60).as_bytes(), &keys).is_ok());
    assert!(matches!(
        crate::Lease::verify(lease(MARKED + 60).as_bytes(), &keys),
        Err(VerifyError::KeyCompromised { .. })
    ));
}

#[test]
fn the_state_round_trips_through_a_jwks_and_bad_states_are_refused() {
    let keys = keys_after_mark();
    let back = KeySet::from_jwks_json(keys.to_jwks().to_string().as_bytes()).unwrap();
    assert_eq!(back, keys);
    assert_eq!(
        back.get("k-old").unwrap().compromised_since(),
        Some(UnixTime::from_secs(MARKED))
    );
    let jwk = |extra: serde_json::Value| {
        let mut k = fresh().public_key().unwrap().to_jwk();
        for (name, v) in extra.as_object().unwrap() {
            k[name] = v.clone();
        }
        PublicKey::from_jwk(k.as_object().unwrap())
    };
    assert_eq!(
        jwk(json!({"status": "retired"})).unwrap().state(),
        Some(KeyState::Retired)
    );
    for bad in [
        json!({"status": "compromised"}),
        json!({"status": "active", "compromised_at": 5}),
        json!({"status": "lost"}),
        json!({"status": 1}),
        json!({"status": "compromised", "compromised_at": "yesterday"}),
    ] {
        assert!(jwk(bad.clone()).is_err(), "{bad}");
    }
}
