//! Signed leases (`lifeline_core::offline`): `Lease::verify`, `Trust::accept` and the
//! online/offline verdicts built on a lease. Input: a raw token, or a payload signed under
//! a lease header by a fuzz key (`fuzzkit::raw_or_signed`), so claim reading is reached.
//!
//! Invariants: never panics; only keys of the set that may sign leases (not revoked, not
//! override-only) authenticate one; the offline and online verdicts are usable only when
//! the local verdict is.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lifeline_core::{
    KeySet, Lease, OfflinePolicy, Policy, Trust, UnixTime, Verdict, offline_verdict,
    online_verdict, verify,
};
use lifeline_tests::fuzzkit;

static KEYS: LazyLock<KeySet> = LazyLock::new(fuzzkit::key_set);
static LOCAL: LazyLock<Verdict> = LazyLock::new(|| {
    let token = fuzzkit::craft_license(&[]).token;
    verify(
        token.as_bytes(),
        &KEYS,
        &Policy::new(),
        UnixTime::from_secs(fuzzkit::NOW),
    )
});

fuzz_target!(|data: &[u8]| {
    let token = fuzzkit::raw_or_signed(data, lifeline_core::LEASE_TYP);
    let keys = &*KEYS;
    let lease = Lease::verify(&token, keys);
    if let Ok(lease) = &lease {
        let key = keys
            .get(&lease.kid)
            .expect("a lease verifies under a key of the set");
        assert!(
            !key.is_revoked() && !key.is_for_overrides_only(),
            "{lease:?}"
        );
        let _ = serde_json::to_string(lease).expect("leases serialize");
    }
    let mut trust = Trust {
        high_water: fuzzkit::NOW,
        last_seq: 7,
    };
    let clock = UnixTime::from_secs(fuzzkit::NOW + 60);
    // `accept` verifies again: only worth its signature check when the lease verified.
    let accepted = match &lease {
        Ok(_) => trust.accept(Some(&token), "lic-fuzz", keys, clock),
        Err(e) => Err(lifeline_core::LeaseProblem::Unauthentic(Some(e.clone()))),
    };
    if let Ok(l) = &accepted {
        assert_eq!(l.license_id, "lic-fuzz");
        assert!(l.seq >= 7);
        // Trust never runs ahead of the client's clock.
        assert!(trust.last_seq <= (fuzzkit::NOW + 60) * 1000, "{trust:?}");
        assert!(trust.high_water <= fuzzkit::NOW + 60, "{trust:?}");
        let _ = online_verdict(LOCAL.clone(), l);
    }
    if let Err(problem) = &accepted {
        let _ = problem.to_string();
    }
    let local = &*LOCAL;
    for now in [0, fuzzkit::NOW, fuzzkit::NOW + 3 * 86_400, u64::MAX] {
        let v = offline_verdict(
            local.clone(),
            lease.as_ref().ok(),
            &trust,
            &OfflinePolicy::default(),
            UnixTime::from_secs(now),
        );
        if v.is_usable() {
            assert!(local.is_usable());
        }
        if let Ok(l) = &lease {
            let o = online_verdict(local.clone(), l);
            assert!(!o.is_usable() || local.is_usable());
        }
    }
});
