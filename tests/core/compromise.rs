//! The key-compromise rule over generated licenses: a token of a compromised key verifies
//! only when it is on that key's issued list, and only a list signed by a key that is not
//! compromised counts.

use lifeline_core::{
    KeySet, KeyState, LicenseSigner, Policy, Reason, State, UnixTime, issued_list_claims, verify,
};
use proptest::prelude::*;
use serde_json::json;

const NOW: u64 = 1_800_000_000;
const MARKED: u64 = NOW - 3600;

fn leaked() -> LicenseSigner {
    LicenseSigner::from_seed("k-old", &[1; 32])
}

fn fresh() -> LicenseSigner {
    LicenseSigner::from_seed("k-new", &[2; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([
        leaked()
            .public_key()
            .unwrap()
            .with_state(KeyState::Compromised {
                since: UnixTime::from_secs(MARKED),
            }),
        fresh().public_key().unwrap(),
    ])
    .unwrap()
}

fn license(jti: &str, entitlements: &[String], iat: u64, exp: u64) -> String {
    leaked()
        .sign_license(
            json!({
                "iss": "v", "sub": "acme", "aud": "app", "jti": jti,
                "iat": iat, "exp": exp, "entitlements": entitlements,
            })
            .as_object()
            .unwrap(),
        )
        .unwrap()
}

fn list(by: &LicenseSigner, tokens: &[String]) -> String {
    by.sign_issued_list(&issued_list_claims(
        "v",
        "k-old",
        UnixTime::from_secs(MARKED),
        UnixTime::from_secs(NOW),
        tokens.iter().map(String::as_str),
    ))
}

fn verdict(token: &str, keys: &KeySet) -> lifeline_core::Verdict {
    verify(
        token.as_bytes(),
        keys,
        &Policy::new(),
        UnixTime::from_secs(NOW),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn listed_tokens_verify_and_no_other_token_of_the_key_does(
        issued in prop::collection::vec(("[a-z0-9]{1,10}", prop::collection::vec("[a-z]{1,6}", 0..3)), 1..20),
        forged_jti in "[a-z0-9]{1,10}",
        forged_rights in prop::collection::vec("[a-z]{1,6}", 0..4),
        forged_iat in (NOW - 400 * 86_400)..NOW,
        forged_exp in (NOW + 1)..(NOW + 100 * 365 * 86_400),
    ) {
        let tokens: Vec<String> = issued
            .iter()
            .enumerate()
            .map(|(i, (jti, rights))| license(jti, rights, NOW - 86_400 - i as u64, NOW + 86_400))
            .collect();
        let forged = license(&forged_jti, &forged_rights, forged_iat, forged_exp);
        prop_assume!(!tokens.contains(&forged));
        let mut keys = keys();
        keys.add_issued_list(list(&fresh(), &tokens).as_bytes()).unwrap();
        for t in &tokens {
            prop_assert_eq!(verdict(t, &keys).state(), State::Valid);
        }
        prop_assert_eq!(verdict(&forged, &keys).reason(), Some(Reason::KeyCompromised));
    }

    #[test]
    fn a_list_the_compromised_key_signed_is_never_taken(jti in "[a-z0-9]{1,10}", iat in (NOW - 86_400)..(NOW + 60)) {
        let forged = license(&jti, &["all".to_owned()], iat, NOW + 86_400);
        let mut keys = keys();
        prop_assert!(keys.add_issued_list(list(&leaked(), std::slice::from_ref(&forged)).as_bytes()).is_err());
        prop_assert!(keys.issued_list("k-old").is_none());
        prop_assert_eq!(verdict(&forged, &keys).reason(), Some(Reason::KeyCompromised));
    }

    #[test]
    fn no_single_byte_change_to_a_list_admits_a_forgery(index in any::<prop::sample::Index>(), replacement in any::<u8>()) {
        let legit = license("lic-1", &[], NOW - 86_400, NOW + 86_400);
        let forged = license("lic-2", &["all".to_owned()], NOW - 86_400, NOW + 86_400);
        let mut bent = list(&fresh(), &[legit]).into_bytes();
        let i = index.index(bent.len());
        prop_assume!(bent[i] != replacement);
        bent[i] = replacement;
        let mut keys = keys();
        let _ = keys.add_issued_list(&bent);
        prop_assert_eq!(verdict(&forged, &keys).reason(), Some(Reason::KeyCompromised));
    }
}
