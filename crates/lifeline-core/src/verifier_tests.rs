use serde_json::{Value, json};

use super::*;
use crate::sign::LicenseSigner;
use crate::{Reason, State};

const NOW: u64 = 1_800_000_000;

fn signer() -> LicenseSigner {
    LicenseSigner::from_seed("k1", &[3; 32])
}

fn token(jti: &str, exp: u64) -> String {
    let claims = json!({"iss": "t", "sub": "s", "aud": "app", "jti": jti, "iat": NOW, "exp": exp, "entitlements": [], "grace_s": 10});
    let Value::Object(map) = claims else {
        unreachable!()
    };
    signer().sign_license(&map).unwrap()
}

fn keys() -> KeySet {
    KeySet::from_keys([signer().public_key().unwrap()]).unwrap()
}

#[test]
fn cached_and_uncached_verdicts_are_identical_over_time() {
    let mut verifier = Verifier::new(keys(), Policy::new());
    let t = token("a", NOW + 100);
    for now in [NOW, NOW + 99, NOW + 100, NOW + 109, NOW + 110, NOW + 5] {
        let at = UnixTime::from_secs(now);
        let (cached, _) = verifier.verify_traced(t.as_bytes(), at);
        assert_eq!(
            cached,
            crate::verify(t.as_bytes(), &keys(), &Policy::new(), at),
            "at {now}"
        );
    }
    let (_, hit) = verifier.verify_traced(format!("{t}\n").as_bytes(), UnixTime::from_secs(NOW));
    assert!(hit, "surrounding whitespace maps to the same entry");
}

#[test]
fn second_check_is_a_cache_hit_and_failures_are_not_cached() {
    let mut verifier = Verifier::new(keys(), Policy::new());
    let t = token("a", NOW + 100);
    assert!(
        !verifier
            .verify_traced(t.as_bytes(), UnixTime::from_secs(NOW))
            .1
    );
    assert!(
        verifier
            .verify_traced(t.as_bytes(), UnixTime::from_secs(NOW))
            .1
    );
    let forged = format!("{}A", &t[..t.len() - 1]);
    for _ in 0..2 {
        let (v, hit) = verifier.verify_traced(forged.as_bytes(), UnixTime::from_secs(NOW));
        assert!(!hit);
        assert_eq!(v.state(), State::Invalid);
    }
    assert_eq!(verifier.cached_tokens(), 1);
}

#[test]
fn changing_the_key_set_clears_the_cache_and_applies_at_once() {
    let mut verifier = Verifier::new(keys(), Policy::new());
    let t = token("a", NOW + 100);
    assert_eq!(
        verifier
            .verify(t.as_bytes(), UnixTime::from_secs(NOW))
            .state(),
        State::Valid
    );
    verifier.set_keys(KeySet::from_keys([signer().public_key().unwrap().revoked()]).unwrap());
    assert_eq!(verifier.cached_tokens(), 0);
    let v = verifier.verify(t.as_bytes(), UnixTime::from_secs(NOW));
    assert_eq!(v.reason(), Some(Reason::KeyRevoked));
    verifier.set_keys(KeySet::new());
    assert_eq!(
        verifier
            .verify(t.as_bytes(), UnixTime::from_secs(NOW))
            .reason(),
        Some(Reason::UnknownKey)
    );
}

#[test]
fn the_cache_is_bounded() {
    let mut verifier = Verifier::with_cache_entries(keys(), Policy::new(), 3);
    let tokens: Vec<String> = (0..5).map(|i| token(&format!("t{i}"), NOW + 100)).collect();
    for t in &tokens {
        verifier.verify(t.as_bytes(), UnixTime::from_secs(NOW));
    }
    assert_eq!(verifier.cached_tokens(), 3);
    // The oldest were evicted first.
    assert!(
        !verifier
            .verify_traced(tokens[0].as_bytes(), UnixTime::from_secs(NOW))
            .1
    );
    assert!(
        verifier
            .verify_traced(tokens[4].as_bytes(), UnixTime::from_secs(NOW))
            .1
    );
    let mut off = Verifier::with_cache_entries(keys(), Policy::new(), 0);
    off.verify(tokens[0].as_bytes(), UnixTime::from_secs(NOW));
    assert_eq!(off.cached_tokens(), 0);
}

#[test]
fn a_cache_with_a_byte_bound_keeps_within_it_oldest_first() {
    let mut cache = TokenCache::with_max_bytes(100, 500);
    for i in 0..10u8 {
        cache.insert(&[i; 100], i);
    }
    // Five tokens of 100 bytes fit in 500 (the count allows 100): the newest stay.
    assert_eq!(cache.len(), 5);
    assert_eq!(
        (cache.get(&[9; 100]), cache.get(&[5; 100])),
        (Some(&9), Some(&5))
    );
    assert_eq!(cache.get(&[4; 100]), None);
    // A token over a quarter of the bound is never kept.
    cache.insert(&[1; 126], 1);
    assert_eq!(cache.get(&[1; 126]), None);
    assert_eq!(cache.len(), 5);
    // The default bound is the client's.
    let mut small = TokenCache::new(10_000);
    small.insert(&vec![0u8; MAX_CACHE_BYTES / 4 + 1], 0u8);
    assert!(small.is_empty());
}
