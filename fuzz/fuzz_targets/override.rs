//! Overrides and override bundles (`lifeline_core::overrides`): `Override::verify`,
//! `OverrideBundle::verify` and `Verdict::with_overrides`. First byte even: the rest is an
//! override token; odd: a bundle. Either way raw, or a payload signed by a fuzz key
//! (`fuzzkit::raw_or_signed`); the seeds hold bundles of genuine override tokens.
//!
//! Invariants: never panics; an override never makes usable a verdict without claims, nor
//! one refused for anything but `expired` / `key_expired`; an authentic override is inside
//! its own time window and under a key that is not revoked.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lifeline_core::{
    KeySet, Override, OverrideBundle, Policy, Reason, State, UnixTime, Verdict, verify,
};
use lifeline_tests::fuzzkit;

static KEYS: LazyLock<KeySet> = LazyLock::new(fuzzkit::key_set);

/// Verdicts an override may meet: valid, grace, expired, key_expired, bad_signature,
/// revoked key, wrong audience.
static VERDICTS: LazyLock<Vec<Verdict>> = LazyLock::new(|| {
    let now = UnixTime::from_secs(fuzzkit::NOW);
    let claim = |op: &[u8]| fuzzkit::craft_license(op).token;
    // op 0 = set claim; CLAIMS[6] = "exp"; value kind 2 = NOW + u32 - 2^31 (0 → far past)
    let expired = claim(&[0, 6, 2, 0, 0, 0, 0]);
    let grace = claim(&[0, 6, 2, 0xff, 0xff, 0xff, 0x7f]);
    let mut v: Vec<Verdict> = [
        claim(&[]),
        expired,
        grace,
        claim(&[6, 2, 2, 2, 2, 2]), // signed by kw, header kid kw: key_expired
        claim(&[7, 2, 0, 0, 1]),    // bad signature
        claim(&[6, 3, 2, 2, 2, 3]), // signed by kr: key_revoked
        String::from("not a token"),
    ]
    .iter()
    .map(|t| verify(t.as_bytes(), &KEYS, &Policy::new(), now))
    .collect();
    let token = claim(&[]);
    v.push(verify(
        token.as_bytes(),
        &KEYS,
        &Policy::new().with_audience("other"),
        now,
    ));
    v
});

fn check_applied(overrides: &[Override], now: UnixTime) {
    for before in VERDICTS.iter() {
        let after = before.clone().with_overrides(overrides, now);
        if after.state() == State::Override {
            assert!(
                before.claims().is_some(),
                "override without claims: {after:?}"
            );
            assert!(
                before.is_usable()
                    || matches!(before.reason(), Some(Reason::Expired | Reason::KeyExpired)),
                "override rescued {before:?}"
            );
            assert!(after.applied_override().is_some());
        } else {
            assert_eq!(after.state(), before.state());
        }
        let _ = serde_json::to_string(&after).expect("verdicts serialize");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let keys = &*KEYS;
    let now = UnixTime::from_secs(fuzzkit::NOW);
    if which & 1 == 0 {
        let token = fuzzkit::raw_or_signed(rest, lifeline_core::OVERRIDE_TYP);
        if let Ok(o) = Override::verify(&token, keys, now, 60) {
            assert!(now < o.expires_at && o.issued_at < o.expires_at, "{o:?}");
            assert!(keys.get(&o.kid).is_some_and(|k| !k.is_revoked()));
            check_applied(std::slice::from_ref(&o), now);
        }
    } else {
        let token = fuzzkit::raw_or_signed(rest, lifeline_core::OVERRIDE_BUNDLE_TYP);
        if let Ok(b) = OverrideBundle::verify(&token, keys, now, 60) {
            assert_eq!(b.overrides.len(), b.tokens.len());
            assert!(now < b.expires_at);
            for (o, t) in b.overrides.iter().zip(&b.tokens) {
                assert_eq!(
                    Override::verify(t.as_bytes(), keys, now, 60).as_ref(),
                    Ok(o)
                );
            }
            check_applied(&b.overrides, now);
        }
    }
});
