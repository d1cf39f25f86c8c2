//! The renewal rule case by case (generated inputs: `tests/core/renewal.rs`).

use serde_json::{Value, json};

use super::*;
use crate::State;
use crate::sign::LicenseSigner;

const NOW: u64 = 1_800_000_000;

fn vendor() -> LicenseSigner {
    LicenseSigner::from_seed("vendor", &[7; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([vendor().public_key().unwrap()]).unwrap()
}

fn token(by: &LicenseSigner, changes: Value) -> String {
    let mut c = json!({
        "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-1",
        "iat": NOW - 100, "exp": NOW + 1000, "entitlements": [],
    });
    for (k, v) in changes.as_object().unwrap() {
        c[k] = v.clone();
    }
    by.sign_license(c.as_object().unwrap()).unwrap()
}

fn held(changes: Value) -> Claims {
    crate::verify(
        token(&vendor(), changes).as_bytes(),
        &keys(),
        &Policy::new(),
        UnixTime::from_secs(NOW),
    )
    .claims()
    .unwrap()
    .clone()
}

fn renew(held: &Claims, candidate: &str) -> Result<Verdict, RenewalProblem> {
    renewal(
        held,
        candidate.as_bytes(),
        &keys(),
        &Policy::new().with_audience("app"),
        UnixTime::from_secs(NOW),
    )
}

#[test]
fn a_newer_version_of_the_same_license_replaces_it() {
    let v = renew(
        &held(json!({})),
        &token(&vendor(), json!({"ver": 3, "exp": NOW + 9000})),
    )
    .unwrap();
    assert_eq!(v.state(), State::Valid);
    assert_eq!(v.claims().unwrap().version(), 3);
    assert_eq!(v.expires_at(), Some(UnixTime::from_secs(NOW + 9000)));
}

#[test]
fn an_older_or_equal_version_never_replaces_it() {
    let held = held(json!({"ver": 5}));
    for ver in [0, 4, 5] {
        assert_eq!(
            renew(&held, &token(&vendor(), json!({"ver": ver}))),
            Err(RenewalProblem::NotNewer {
                version: ver,
                held: 5
            })
        );
    }
}

#[test]
fn another_license_or_licensee_never_replaces_it() {
    let held = held(json!({}));
    for changes in [
        json!({"ver": 2, "jti": "lic-2"}),
        json!({"ver": 2, "sub": "evil"}),
    ] {
        assert!(matches!(
            renew(&held, &token(&vendor(), changes)),
            Err(RenewalProblem::OtherLicense { .. })
        ));
    }
}

#[test]
fn a_forged_or_garbled_candidate_never_replaces_it() {
    let held = held(json!({}));
    let stranger = LicenseSigner::from_seed("vendor", &[8; 32]);
    assert!(matches!(
        renew(&held, &token(&stranger, json!({"ver": 2}))),
        Err(RenewalProblem::Unauthentic(VerifyError::BadSignature))
    ));
    assert!(matches!(
        renew(&held, "garbage"),
        Err(RenewalProblem::Unauthentic(_))
    ));
    let signer = vendor();
    let header = json!({"alg": "EdDSA", "typ": crate::LICENSE_TYP, "kid": signer.kid()});
    let payload = json!({
        "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-1",
        "iat": NOW - 100, "exp": NOW + 1000, "entitlements": [], "ver": "2",
    });
    let bad_ver = signer.sign_jws(
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
    );
    assert!(matches!(
        renew(&held, &bad_ver),
        Err(RenewalProblem::Unauthentic(VerifyError::Malformed(_)))
    ));
}

#[test]
fn a_candidate_for_another_product_or_not_yet_valid_is_refused_an_expired_one_taken() {
    let held = held(json!({}));
    assert_eq!(
        renew(&held, &token(&vendor(), json!({"ver": 2, "aud": "other"}))),
        Err(RenewalProblem::Refused(Reason::WrongAudience))
    );
    assert_eq!(
        renew(
            &held,
            &token(&vendor(), json!({"ver": 2, "nbf": NOW + 5000}))
        ),
        Err(RenewalProblem::Refused(Reason::NotYetValid))
    );
    // The vendor's store is the truth about dates: an expired renewal is what it says.
    let v = renew(&held, &token(&vendor(), json!({"ver": 2, "exp": NOW - 10}))).unwrap();
    assert_eq!(v.reason(), Some(Reason::Expired));
}
