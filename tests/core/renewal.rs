//! The refresh rule over generated licenses: a client replaces its license only with an
//! authentic, newer version of the same license (`lifeline_core::renewal`).

use lifeline_core::{KeySet, LicenseSigner, Policy, RenewalProblem, UnixTime, renewal, verify};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: u64 = 1_800_000_000;

fn vendor() -> LicenseSigner {
    LicenseSigner::from_seed("vendor", &[42; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([vendor().public_key().unwrap()]).unwrap()
}

fn claims(jti: &str, sub: &str, ver: u64, exp: u64) -> Map<String, Value> {
    json!({
        "iss": "v", "sub": sub, "aud": "app", "jti": jti, "iat": NOW - 10,
        "exp": exp, "entitlements": ["pro"], "ver": ver,
    })
    .as_object()
    .unwrap()
    .clone()
}

fn check(held: &str, candidate: &[u8]) -> Result<u64, RenewalProblem> {
    let now = UnixTime::from_secs(NOW);
    let held = verify(held.as_bytes(), &keys(), &Policy::new(), now);
    renewal(
        held.claims().unwrap(),
        candidate,
        &keys(),
        &Policy::new().with_audience("app"),
        now,
    )
    .map(|v| v.claims().unwrap().version())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn only_a_strictly_newer_version_is_taken(held in 0u64..1_000_000, candidate in 0u64..1_000_000, exp in 1u64..100_000_000) {
        let h = vendor().sign_license(&claims("lic", "acme", held, NOW + 100)).unwrap();
        let c = vendor().sign_license(&claims("lic", "acme", candidate, NOW + exp)).unwrap();
        match check(&h, c.as_bytes()) {
            Ok(ver) => { prop_assert!(candidate > held); prop_assert_eq!(ver, candidate); }
            Err(problem) => {
                prop_assert!(candidate <= held);
                prop_assert_eq!(problem, RenewalProblem::NotNewer { version: candidate, held });
            }
        }
    }

    #[test]
    fn another_license_is_never_taken_whatever_its_version(
        jti in "[a-z0-9-]{1,12}", sub in "[a-z]{1,8}", ver in 1u64..u64::MAX,
    ) {
        prop_assume!(jti != "lic" || sub != "acme");
        let h = vendor().sign_license(&claims("lic", "acme", 0, NOW + 100)).unwrap();
        let c = vendor().sign_license(&claims(&jti, &sub, ver, NOW + 1000)).unwrap();
        let is_other = matches!(check(&h, c.as_bytes()), Err(RenewalProblem::OtherLicense { .. }));
        prop_assert!(is_other);
    }

    #[test]
    fn a_forged_newer_version_is_never_taken(seed in any::<[u8; 32]>(), ver in 1u64..u64::MAX) {
        prop_assume!(seed != [42; 32]);
        let h = vendor().sign_license(&claims("lic", "acme", 0, NOW + 100)).unwrap();
        // Same kid, another key: what an attacker without the vendor's key can make.
        let forged = LicenseSigner::from_seed("vendor", &seed)
            .sign_license(&claims("lic", "acme", ver, NOW + 1_000_000)).unwrap();
        let unauthentic = matches!(check(&h, forged.as_bytes()), Err(RenewalProblem::Unauthentic(_)));
        prop_assert!(unauthentic);
    }

    #[test]
    fn no_single_byte_change_to_a_renewal_makes_another_one(index in any::<prop::sample::Index>(), replacement in any::<u8>()) {
        let h = vendor().sign_license(&claims("lic", "acme", 1, NOW + 100)).unwrap();
        let good = vendor().sign_license(&claims("lic", "acme", 2, NOW + 1000)).unwrap();
        let mut bent = good.clone().into_bytes();
        let i = index.index(bent.len());
        prop_assume!(bent[i] != replacement);
        bent[i] = replacement;
        // Either refused, or (a change the strict parser tolerates, such as trailing
        // whitespace) exactly the vendor's renewal.
        if let Ok(ver) = check(&h, &bent) {
            prop_assert_eq!(ver, 2);
            prop_assert_eq!(bent.trim_ascii(), good.as_bytes());
        }
    }
}
