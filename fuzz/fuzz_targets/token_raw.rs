//! Raw bytes as a license token: parse, authenticate, evaluate, inspect. Never panics; the
//! one-call `verify` and the step-by-step pipeline agree; a usable verdict carries claims;
//! nothing unauthenticated is ever shown as claims.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lifeline_core::{KeySet, Policy, Reason, UnixTime, UnverifiedLicense, verify};
use lifeline_tests::fuzzkit;

static KEYS: LazyLock<KeySet> = LazyLock::new(fuzzkit::key_set);

fuzz_target!(|data: &[u8]| {
    let keys = &*KEYS;
    let now = UnixTime::from_secs(fuzzkit::NOW);
    let policy = Policy::new();
    let verdict = verify(data, keys, &policy, now);
    if verdict.is_usable() {
        assert!(
            verdict.claims().is_some(),
            "usable without claims: {verdict:?}"
        );
    }
    if matches!(
        verdict.reason(),
        Some(
            Reason::BadSignature | Reason::UnknownKey | Reason::UnsupportedAlg | Reason::WrongType
        )
    ) {
        assert!(
            verdict.claims().is_none(),
            "unauthenticated claims shown: {verdict:?}"
        );
    }
    let _ = serde_json::to_string(&verdict).expect("verdicts serialize");
    let _ = lifeline_core::inspect(data);

    // The step-by-step pipeline gives the same verdict, and re-evaluating a signed license
    // at other times and with an audience never panics.
    let signed = UnverifiedLicense::parse(data).and_then(|l| l.authenticate(keys));
    match &signed {
        Ok(s) => {
            assert_eq!(s.evaluate(keys, &policy, now), verdict);
            for at in [0, fuzzkit::NOW + 40 * 86_400, u64::MAX] {
                let v = s.evaluate(
                    keys,
                    &policy.clone().with_audience("photo-pro"),
                    UnixTime::from_secs(at),
                );
                let _ = v.is_usable();
            }
        }
        Err(_) => assert!(!verdict.is_usable()),
    }
});
