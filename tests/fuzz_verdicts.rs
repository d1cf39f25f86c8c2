//! The native side of the native/WASM differential check: prints, as one JSON document, the
//! native core's verdict for every input of the token fuzz targets' corpora
//! (`fuzz/corpus/token_raw`, `fuzz/corpus/token_structured`), with the fixed key set, time
//! and audience it used. `tests/npm/fuzz-differential.test.mjs` runs the WASM verifier over
//! the same tokens and requires identical verdicts.
//!
//! Every verdict is computed twice, with the keys' tables of multiples built first and with
//! fresh keys (whose first verifications call ed25519-dalek's `verify_strict` itself); the
//! two must be identical, or the binary fails naming the input.
//!
//! `fuzz-verdicts [CORPUS_DIR]` (default: `fuzz/corpus` of this repository).
//!
//! A raw input that is not UTF-8 is verified as its lossy UTF-8 text on both sides (a JS
//! string cannot hold other bytes); a structured input is first decoded into its token by
//! the same code the fuzz target uses (`fuzzkit::craft_license`).
#![allow(clippy::expect_used)]

use std::path::PathBuf;

use lifeline_core::{Policy, UnixTime};
use lifeline_tests::fuzzkit;
use serde_json::{Value, json};

/// The audience the differential check verifies with.
const AUDIENCE: &str = "photo-pro";

fn main() {
    let corpus = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus"),
        PathBuf::from,
    );
    let keys = fuzzkit::key_set();
    keys.precompute();
    let policy = Policy::new().with_audience(AUDIENCE);
    let now = UnixTime::from_secs(fuzzkit::NOW);
    let mut cases = Vec::new();
    for target in ["token_raw", "token_structured"] {
        let dir = corpus.join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                eprintln!("fuzz-verdicts: {}: {e}", dir.display());
                std::process::exit(2)
            })
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path).expect("corpus file reads");
            let token = match target {
                "token_raw" => String::from_utf8_lossy(&bytes).into_owned(),
                _ => fuzzkit::craft_license(&bytes).token,
            };
            let verdict = lifeline_core::verify(token.as_bytes(), &keys, &policy, now);
            let cold = lifeline_core::verify(token.as_bytes(), &fuzzkit::key_set(), &policy, now);
            if cold != verdict {
                eprintln!(
                    "fuzz-verdicts: {}: with the tables of multiples {verdict:?}, without {cold:?}",
                    path.display()
                );
                std::process::exit(1);
            }
            cases.push(json!({
                "target": target,
                "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                "token": token,
                "verdict": serde_json::to_value(&verdict).expect("verdicts serialize"),
            }));
        }
    }
    let out = json!({
        "now": fuzzkit::NOW,
        "audience": AUDIENCE,
        "keys": keys.to_jwks(),
        "cases": Value::Array(cases),
    });
    println!("{out}");
}
