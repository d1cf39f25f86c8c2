//! The data-driven test over `tests/vectors/`: every file states its expected outcome.

use lifeline_core::{KeySet, Policy, UnixTime, verify};
use lifeline_tests::{generate, read_key_set_vectors, read_license_vectors, vectors_dir};

#[test]
fn license_vectors_give_their_expected_verdicts() {
    let vectors = read_license_vectors();
    let mut failures = Vec::new();
    for (name, v) in &vectors {
        let keys = KeySet::from_jwks_json(v.keys.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{name}: key set does not load: {e}"));
        let mut policy = Policy::new();
        if let Some(aud) = &v.audience {
            policy = policy.with_audience(aud.clone());
        }
        let verdict = verify(
            v.token.as_bytes(),
            &keys,
            &policy,
            UnixTime::from_secs(v.now),
        );
        let state = verdict.state().as_str();
        let reason = verdict.reason().map(|r| r.as_str());
        if state != v.expected.state || reason != v.expected.reason.as_deref() {
            failures.push(format!(
                "{name}: expected {}/{:?}, got {state}/{reason:?} ({:?})",
                v.expected.state,
                v.expected.reason,
                verdict.detail()
            ));
        }
        // The whole verdict is pinned in the file: every runtime must print exactly this.
        assert_eq!(
            serde_json::to_value(&verdict).unwrap(),
            v.verdict,
            "{name}: full verdict"
        );
        // The claims are shown exactly when the signature checked.
        let signed = !matches!(
            reason,
            Some("malformed" | "unsupported_alg" | "wrong_type" | "unknown_key" | "bad_signature")
        );
        assert_eq!(
            verdict.claims().is_some(),
            signed,
            "{name}: claims shown iff authentic"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn every_reason_code_has_a_vector() {
    let vectors = read_license_vectors();
    for reason in lifeline_core::Reason::FROM_TOKEN {
        assert!(
            vectors
                .iter()
                .any(|(_, v)| v.expected.reason.as_deref() == Some(reason.as_str())),
            "no vector expects {reason}"
        );
    }
    assert!(vectors.iter().any(|(_, v)| v.expected.state == "valid"));
}

#[test]
fn key_set_vectors_load_or_fail_with_their_code() {
    for (name, v) in read_key_set_vectors() {
        let got = KeySet::from_jwks_json(v.keys.as_bytes())
            .err()
            .map(|e| e.code());
        assert_eq!(got, v.expected_error.as_deref(), "{name}");
    }
}

#[test]
fn vector_files_match_the_generator() {
    let generated = generate();
    for (relative, contents) in &generated {
        let on_disk = std::fs::read_to_string(vectors_dir().join(relative)).unwrap_or_default();
        assert!(
            on_disk == *contents,
            "{relative} drifted from the generator: run `cargo run -p lifeline-tests --bin regen-vectors`"
        );
    }
    let on_disk = read_license_vectors().len() + read_key_set_vectors().len();
    assert_eq!(
        on_disk,
        generated.len(),
        "stale vector files: run regen-vectors"
    );
}
