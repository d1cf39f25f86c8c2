//! Regression vectors from fuzzing (`tests/vectors/fuzz/<target>/`): every input a fuzz
//! target ever crashed on, replayed through the same check the target runs
//! (`lifeline_tests::fuzzkit`). See fuzz/README.md for what each one found.

use std::path::PathBuf;

use lifeline_core::{Policy, State, UnixTime};
use lifeline_tests::{fuzzkit, vectors_dir};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = vectors_dir().join("fuzz").join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn structured_token_crashes_replay_clean() {
    let keys = fuzzkit::key_set();
    let cases = inputs("token_structured");
    assert!(!cases.is_empty());
    for (path, data) in &cases {
        fuzzkit::check_structured(data, &keys);
        eprintln!("replayed {}", path.display());
    }
}

/// The first find (a harness bug, not a verifier bug): a signature replaced after signing
/// by another fuzz key's genuine signature over the same input verifies — as it must; the
/// harness now counts such a token as signed by that key.
#[test]
fn a_genuine_signature_by_another_key_is_usable_and_counted_as_signed() {
    let data = std::fs::read(
        vectors_dir().join("fuzz/token_structured/resigned-by-k1-counts-as-signed.bin"),
    )
    .unwrap();
    let crafted = fuzzkit::craft_license(&data);
    assert!(crafted.untouched());
    assert_eq!(crafted.signer_kid, "k1");
    let verdict = lifeline_core::verify(
        crafted.token.as_bytes(),
        &fuzzkit::key_set(),
        &Policy::new(),
        UnixTime::from_secs(fuzzkit::NOW),
    );
    assert_eq!(verdict.state(), State::Valid);
}
