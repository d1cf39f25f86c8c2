//! `cargo bench -p lifeline-core --bench verify`: the core's whole verification (parse,
//! strict signature, claims, policy) against raw ed25519-dalek `verify_strict` on the same
//! 512-byte license, in one process, interleaved rounds, medians.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use lifeline_core::{KeySet, Policy, PublicKey, UnixTime, Verifier, verify};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let now = 1_800_000_000u64;
    let signing = SigningKey::from_bytes(&[7; 32]);
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let make = |pad: usize| {
        let header = b64(br#"{"alg":"EdDSA","typ":"lifeline-license+jwt","kid":"bench"}"#);
        let claims = format!(
            r#"{{"iss":"bench","sub":"customer-42","aud":"photo-pro","jti":"lic-1","iat":{},"exp":{},"entitlements":["export","raw"],"seats":5,"pad":"{}"}}"#,
            now - 60,
            now + 86_400,
            "x".repeat(pad)
        );
        let input = format!("{header}.{}", b64(claims.as_bytes()));
        let sig = signing.sign(input.as_bytes());
        (format!("{input}.{}", b64(&sig.to_bytes())), input, sig)
    };
    let mut pad = 0;
    while make(pad).0.len() < 512 {
        pad += 1;
    }
    let (token, input, sig) = make(pad);
    let key = PublicKey::from_bytes("bench", signing.verifying_key().as_bytes()).unwrap();
    let table_key = key.clone();
    let sig_bytes = sig.to_bytes();
    assert!(table_key.verify_strict(input.as_bytes(), &sig_bytes));
    let keys = KeySet::from_keys([key]).unwrap();
    let policy = Policy::new();
    let at = UnixTime::from_secs(now);
    let raw: VerifyingKey = signing.verifying_key();
    let sig = Signature::from_bytes(&sig.to_bytes());
    assert!(verify(token.as_bytes(), &keys, &policy, at).is_usable());
    let mut cached = Verifier::new(keys.clone(), policy.clone());

    type Case<'a> = (&'a str, Box<dyn FnMut() + 'a>);
    let mut cases: Vec<Case> = vec![
        (
            "ed25519-dalek verify_strict (raw)",
            Box::new(|| {
                black_box(raw.verify_strict(black_box(input.as_bytes()), &sig).is_ok());
            }),
        ),
        (
            "lifeline_core::verify (parse + strict + claims + policy)",
            Box::new(|| {
                black_box(verify(black_box(token.as_bytes()), &keys, &policy, at));
            }),
        ),
        (
            "ed25519-dalek sign (a license's signing cost)",
            Box::new(|| {
                black_box(signing.sign(black_box(input.as_bytes())));
            }),
        ),
        (
            "lifeline_core::Verifier, token seen before",
            Box::new(|| {
                black_box(cached.verify(black_box(token.as_bytes()), at));
            }),
        ),
        (
            "PublicKey::verify_strict (precomputed tables, same verdicts)",
            Box::new(|| {
                black_box(table_key.verify_strict(black_box(input.as_bytes()), &sig_bytes));
            }),
        ),
    ];
    let rounds = if quick { 3 } else { 11 };
    let budget = std::time::Duration::from_millis(if quick { 30 } else { 200 });
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        for i in 0..cases.len() {
            let index = (i + round) % cases.len();
            let f = &mut cases[index].1;
            for _ in 0..20 {
                f();
            }
            let start = Instant::now();
            let mut ops = 0u64;
            while start.elapsed() < budget {
                for _ in 0..20 {
                    f();
                }
                ops += 20;
            }
            samples[index].push(start.elapsed().as_secs_f64() * 1e6 / ops as f64);
        }
    }
    let median = |xs: &Vec<f64>| {
        let mut s = xs.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    // Ratios within a round, then their median: the machine's speed drifts between rounds.
    let ratio = |i: usize| {
        let per_round: Vec<f64> = samples[i]
            .iter()
            .zip(&samples[0])
            .map(|(x, raw)| x / raw)
            .collect();
        median(&per_round)
    };
    println!(
        "Native, token {} bytes, {rounds} interleaved rounds; median (min–max) µs per verification; ratios are medians of per-round ratios.\n",
        token.len()
    );
    println!("| case | µs | min–max | vs raw verify_strict |\n|---|---:|---:|---:|");
    for (i, (name, _)) in cases.iter().enumerate() {
        let m = median(&samples[i]);
        let (lo, hi) = samples[i]
            .iter()
            .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        println!("| {name} | {m:.2} | {lo:.2}–{hi:.2} | {:.3}× |", ratio(i));
    }
    let overhead = ratio(1) - 1.0;
    println!(
        "\nTarget: core overhead over raw verify_strict <= 10%: measured {:.1}% ({})",
        overhead * 100.0,
        if overhead <= 0.10 { "met" } else { "MISSED" }
    );
    // For `make bench`: the same figures as JSON.
    let cases_json: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let m = median(&samples[i]);
            let (lo, hi) = samples[i]
                .iter()
                .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
            format!(
                r#"{{"name":"{name}","median_us":{m:.4},"min_us":{lo:.4},"max_us":{hi:.4},"vs_raw_verify_strict":{:.4}}}"#,
                ratio(i)
            )
        })
        .collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    let json = format!(
        r#"{{"quick":{quick},"rounds":{rounds},"token_bytes":{},"cases":[{}]}}"#,
        token.len(),
        cases_json.join(",")
    );
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("native.json"), json);
    }
}
