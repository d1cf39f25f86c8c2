//! Writes the seed corpora of the fuzz targets (`fuzz/seed.sh` runs it) from the test
//! vectors: license tokens and key sets of `tests/vectors/{licenses,keysets}`, the CCTV and
//! speccheck Ed25519 keys of `tests/vectors/ed25519` (the same files as shared/vectors),
//! plus genuine leases, overrides and bundles signed with the fuzz keys and one request
//! body per server route. Deterministic: re-running rewrites the same files.
//!
//! `fuzz-seeds [CORPUS_DIR]` (default: `fuzz/corpus` of this repository).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lifeline_tests::{fuzzkit, read_key_set_vectors, read_license_vectors, vectors_dir};
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("seed file");
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex_keys(file: &str, member: &str, limit: usize) -> Vec<[u8; 32]> {
    let text = std::fs::read_to_string(vectors_dir().join("ed25519").join(file)).expect(file);
    let doc: Value = serde_json::from_str(&text).expect(file);
    let mut seen = BTreeSet::new();
    for case in doc.as_array().expect("a list of cases") {
        if let Some(bytes) = case[member].as_str().and_then(unhex)
            && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            seen.insert(key);
        }
    }
    seen.into_iter().take(limit).collect()
}

fn main() {
    let corpus = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus"),
        PathBuf::from,
    );
    let now = fuzzkit::NOW;
    let licenses = read_license_vectors();

    // token_raw: every license vector's token.
    for (name, v) in &licenses {
        write(&corpus.join("token_raw"), name, v.token.as_bytes());
    }

    // token_structured: each operation of fuzzkit::craft_license with a few argument shapes.
    for op in 0u8..14 {
        for (i, args) in [
            [0u8; 7],
            [1, 2, 3, 4, 5, 6, 7],
            [2, 1, 0, 9, 0, 0, 1],
            [6, 6, 2, 0xff, 0x10, 0, 0x7f],
        ]
        .iter()
        .enumerate()
        {
            let mut input = vec![op];
            input.extend_from_slice(args);
            write(
                &corpus.join("token_structured"),
                &format!("op{op}-{i}"),
                &input,
            );
        }
    }
    write(&corpus.join("token_structured"), "empty", b"");

    // jwks: the key-set vectors, the license vectors' key sets, the fuzz key set, and one
    // set per CCTV / speccheck public key (small-order and non-canonical keys included).
    let jwks = corpus.join("jwks");
    for (name, v) in read_key_set_vectors() {
        write(&jwks, &format!("keyset-{name}"), v.keys.as_bytes());
    }
    let sets: BTreeSet<String> = licenses.iter().map(|(_, v)| v.keys.to_string()).collect();
    for (i, set) in sets.iter().enumerate() {
        write(&jwks, &format!("license-keys-{i}"), set.as_bytes());
    }
    write(
        &jwks,
        "fuzz-keys",
        fuzzkit::key_set().to_jwks().to_string().as_bytes(),
    );
    let ed = hex_keys("cctv/ed25519vectors.json", "key", 24)
        .into_iter()
        .chain(hex_keys("speccheck/cases.json", "pub_key", 12));
    for (i, key) in ed.enumerate() {
        let doc = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": format!("e{i}"), "x": URL_SAFE_NO_PAD.encode(key)}]});
        write(&jwks, &format!("ed25519-{i}"), doc.to_string().as_bytes());
    }

    // lease: signed-mode payloads (byte 1 = signed, byte 2 = signer) and raw signed tokens.
    let lease = corpus.join("lease");
    let leases = [
        json!({"sub": "lic-fuzz", "state": "valid", "iat": now, "exp": now + 3600, "seq": 8}),
        json!({"sub": "lic-fuzz", "state": "invalid", "reason": "revoked", "iat": now, "exp": now + 3600, "seq": 9, "instance": "m1"}),
        json!({"sub": "lic-fuzz", "state": "grace", "reason": null, "iat": now - 5 * 86_400, "exp": now, "seq": 1}),
        json!({"sub": "other", "state": "valid", "iat": now, "exp": now + 1, "seq": 18_446_744_073_709_551_615u64}),
    ];
    for (i, claims) in leases.iter().enumerate() {
        for signer in [0u8, 1, 3, 4] {
            let mut input = vec![1, signer];
            input.extend_from_slice(claims.to_string().as_bytes());
            write(&lease, &format!("signed-{i}-k{signer}"), &input);
            // The same token, raw (byte 0 = raw).
            let mut raw = vec![0];
            raw.extend_from_slice(&fuzzkit::raw_or_signed(&input, lifeline_core::LEASE_TYP));
            write(&lease, &format!("raw-{i}-k{signer}"), &raw);
        }
    }

    // override: byte 0 even = override, odd = bundle; then fuzzkit::raw_or_signed.
    let ovr = corpus.join("override");
    let override_claims = [
        json!({"jti": "ovr-1", "iss": "oncall", "iat": now - 60, "exp": now + 3600, "scope": {"type": "all"}, "effect": {"type": "valid"}, "reason": "key expired", "incident": "INC-1"}),
        json!({"jti": "ovr-2", "iss": "oncall", "iat": now - 60, "exp": now + 3600, "scope": {"type": "licensee", "value": "customer-42"}, "effect": {"type": "extend_grace", "secs": 86400}, "reason": "billing", "incident": "INC-2"}),
        json!({"jti": "ovr-3", "iss": "oncall", "iat": now - 60, "nbf": now, "exp": now + 60, "scope": {"type": "product", "value": "photo-pro"}, "effect": {"type": "entitlements", "add": ["raw", "pro"]}, "reason": "promo", "incident": "INC-3"}),
        json!({"jti": "ovr-4", "iss": "oncall", "iat": now - 60, "exp": now + 3600, "scope": {"type": "license", "value": "lic-fuzz"}, "effect": {"type": "valid"}, "reason": "one customer", "incident": "INC-4"}),
    ];
    let mut tokens = Vec::new();
    for (i, claims) in override_claims.iter().enumerate() {
        for signer in [0u8, 4, 2] {
            let mut input = vec![0, 1, signer];
            input.extend_from_slice(claims.to_string().as_bytes());
            write(&ovr, &format!("override-signed-{i}-k{signer}"), &input);
        }
        let token = fuzzkit::sign_override(if i % 2 == 0 { "ko" } else { "k1" }, claims);
        let mut raw = vec![0, 0];
        raw.extend_from_slice(token.as_bytes());
        write(&ovr, &format!("override-raw-{i}"), &raw);
        tokens.push(token);
    }
    let bundles = [
        json!({"iat": now - 10, "exp": now + 300, "overrides": tokens}),
        json!({"iat": now - 10, "exp": now + 300, "overrides": []}),
        json!({"iat": now - 10, "exp": now + 300, "overrides": [tokens[0], "garbage", tokens[1]]}),
    ];
    for (i, payload) in bundles.iter().enumerate() {
        let mut input = vec![1, 1, 0];
        input.extend_from_slice(payload.to_string().as_bytes());
        write(&ovr, &format!("bundle-signed-{i}"), &input);
    }

    // server_requests: byte = route body type (see the target), then a well-formed body.
    let bodies = [
        json!({"product": "photo-pro", "licensee": "acme", "entitlements": ["export"], "expires_at": now + 86_400, "grace_s": 3600, "seats": 5, "offline_grace_s": 86_400, "metadata": {"crm": "x"}}),
        json!({"licenses": [{"product": "photo-pro", "licensee": "a", "expires_at": now + 1}, {"product": "p", "licensee": "", "expires_at": 1}]}),
        json!({"scope": {"type": "licensee", "value": "acme"}, "effect": {"type": "extend_grace", "secs": 3600}, "expires_at": now + 3600, "reason": "billing", "incident": "INC-9"}),
        json!({"service": "photo-pro", "instance": "pod-1", "window_start": now - 60, "window_end": now, "by_state": {"valid": 3, "invalid": 1}, "by_reason": {"expired": 1}, "latency_buckets": [1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4], "latency_bounds_seconds": lifeline_core::LATENCY_BUCKETS_SECS, "count": 4, "cumulative": true}),
        json!({"url": "https://hooks.example.invalid/lifeline", "events": ["incident.opened", "license.revoked"]}),
        json!({"token": licenses[0].1.token, "instance": "m1"}),
        json!({"id": "photo-pro", "name": "Photo Pro"}),
        json!({"name": "ci", "role": "viewer", "expires_at": now + 60}),
        json!({"reason": "chargeback"}),
        json!({"expires_at": now + 86_400, "reason": "renewed"}),
        json!({"text": "looking into it"}),
        json!({"reason": "done"}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let mut input = vec![u8::try_from(i).unwrap()];
        input.extend_from_slice(body.to_string().as_bytes());
        write(
            &corpus.join("server_requests"),
            &format!("body-{i}"),
            &input,
        );
    }
    eprintln!("fuzz-seeds: wrote seeds under {}", corpus.display());
}
