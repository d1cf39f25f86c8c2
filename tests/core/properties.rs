//! Properties over generated inputs.

use lifeline_core::{KeySet, LicenseSigner, Policy, State, UnixTime, verify};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: u64 = 1_800_000_000;

fn signer() -> LicenseSigner {
    LicenseSigner::from_seed("prop", &[42; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([signer().public_key().unwrap()]).unwrap()
}

fn claims(
    sub: &str,
    aud: &str,
    entitlements: &[String],
    exp: u64,
    grace: u64,
    seats: Option<u32>,
) -> Map<String, Value> {
    let mut c = json!({
        "iss": "prop", "sub": sub, "aud": aud, "jti": "lic", "iat": NOW - 10,
        "exp": exp, "entitlements": entitlements, "grace_s": grace,
    });
    if let Some(seats) = seats {
        c["seats"] = seats.into();
    }
    c.as_object().unwrap().clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn issue_then_verify_round_trips(
        sub in "\\PC{1,40}",
        aud in "[a-z][a-z0-9-]{0,20}",
        entitlements in prop::collection::vec("\\PC{0,12}", 0..6),
        ttl in 1u64..10_000_000,
        seats in prop::option::of(any::<u32>()),
    ) {
        let c = claims(&sub, &aud, &entitlements, NOW + ttl, 0, seats);
        let token = signer().sign_license(&c).unwrap();
        let v = verify(token.as_bytes(), &keys(), &Policy::new().with_audience(aud.clone()), UnixTime::from_secs(NOW));
        prop_assert_eq!(v.state(), State::Valid);
        let got = v.claims().unwrap();
        prop_assert_eq!(got.as_map(), &c);
        prop_assert_eq!(got.sub(), sub.as_str());
        prop_assert_eq!(got.entitlements(), entitlements.as_slice());
        prop_assert_eq!(got.seats(), seats);
    }

    #[test]
    fn no_single_byte_change_is_ever_usable(index in any::<prop::sample::Index>(), replacement in any::<u8>()) {
        let c = claims("acme", "app", &["pro".into()], NOW + 1000, 100, Some(3));
        let token = signer().sign_license(&c).unwrap().into_bytes();
        let i = index.index(token.len());
        prop_assume!(token[i] != replacement);
        let mut changed = token.clone();
        changed[i] = replacement;
        let v = verify(&changed, &keys(), &Policy::new(), UnixTime::from_secs(NOW));
        prop_assert!(!v.is_usable(), "byte {} -> {:#04x} gave {:?}", i, replacement, v.state());
    }

    #[test]
    fn over_time_valid_then_grace_then_invalid_never_back(
        ttl in 0u64..100_000,
        grace in 0u64..100_000,
        mut times in prop::collection::vec(0u64..300_000, 1..40),
    ) {
        let c = claims("acme", "app", &[], NOW + ttl, grace, None);
        let token = signer().sign_license(&c).unwrap();
        times.sort_unstable();
        let rank = |s: State| match s { State::Valid => 0, State::Grace => 1, _ => 2 };
        let mut last = 0;
        for t in times {
            let now = NOW - 10 + t;
            let state = verify(token.as_bytes(), &keys(), &Policy::new(), UnixTime::from_secs(now)).state();
            let expected = if now < NOW + ttl { State::Valid } else if now < NOW + ttl + grace { State::Grace } else { State::Invalid };
            prop_assert_eq!(state, expected, "at {}", now);
            prop_assert!(rank(state) >= last, "went back to {:?} at {}", state, now);
            last = rank(state);
        }
    }
}
