//! The Lifeline verifier for JavaScript runtimes: browsers, edge workers, Node.
//!
//! A thin wasm-bindgen layer over `lifeline-core`: it converts between JS values and core
//! types, reads the clock (`Date.now()`, `performance.now()`) and keeps telemetry. Every
//! rule lives in the core, so every runtime gives the same verdict for the same bytes.
//!
//! JS API: `new Verifier(keys, options?)`, `verifier.verify(token, nowMs?)`,
//! `verifier.verifyMany(tokens, nowMs?)`, `verifier.setKeys(keys)`,
//! `verifier.setOverrides(tokens, nowMs?)` (temporary overrides), `verifier.stats()`,
//! `verifier.metricsText()`, `verifier.telemetryReport({ service, instance })` (the body of
//! the server's `POST /api/v1/telemetry`, drained), `client.sendTelemetry()`, and
//! `inspect(token)`. Failures never panic into JS: a license
//! problem is an `invalid` verdict; a bad argument throws an `Error` with a `code`.
//!
//! Naming: JS objects use camelCase (`expiresAt`, `graceUntil`); claims stay exactly as
//! signed (`grace_s`). Times in verdicts are unix seconds, like the claims; `nowMs` is in
//! milliseconds, like `Date.now()`.

mod client;
mod convert;
mod js_args;
mod js_text;
mod js_verdict;
mod telemetry;
mod timers;
mod types;
mod verifier;

use std::borrow::Cow;

use wasm_bindgen::prelude::*;

pub use client::{Client, ClientOptionsArg};
pub use telemetry::TelemetryOptionsArg;
pub use types::{
    Inspection, Jwk, Jwks, LicenseClaims, OverrideInfo, OverridesLoaded, RefusedOverride, Verdict,
    VerifierOptions, VerifierStats,
};
pub use verifier::{Verifier, VerifierOptionsArg};

/// Decodes a token WITHOUT verifying it: header and claims for display only.
/// Throws an `Error` with `code` `malformed` when the token cannot be decoded.
#[wasm_bindgen(unchecked_return_type = "Inspection")]
pub fn inspect(token: &str) -> Result<JsValue, JsValue> {
    let inspection = lifeline_core::inspect(token.as_bytes())
        .map_err(|e| js_args::error(e.reason().as_str(), &e.to_string()))?;
    let mut inspection = types::Inspection::from(inspection);
    // What it shows is untrusted and may hold any integer: beyond 2^53 it becomes the nearest
    // JS number instead of an `internal` error.
    if let Cow::Owned(header) = convert::js_safe(&inspection.header) {
        inspection.header = header;
    }
    if let Cow::Owned(claims) = convert::js_safe(&inspection.claims) {
        inspection.claims = claims;
    }
    convert::to_js(&inspection)
}

/// Raw ed25519-dalek `verify_strict`, `iterations` times, for the benchmark only: the floor
/// under `Verifier.verify`. Built only with the `bench-hooks` feature.
#[cfg(feature = "bench-hooks")]
#[wasm_bindgen(js_name = benchVerifyStrict)]
pub fn bench_verify_strict(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
    iterations: u32,
) -> bool {
    let (Ok(pk), Ok(sig)) = (
        <[u8; 32]>::try_from(public_key),
        <[u8; 64]>::try_from(signature),
    ) else {
        return false;
    };
    let Ok(key) = lifeline_core::PublicKey::from_bytes("bench", &pk) else {
        return false;
    };
    let mut ok = true;
    for _ in 0..iterations {
        ok &= key.verify_strict_reference(core::hint::black_box(message), &sig);
    }
    ok
}

/// `Verifier.verify`'s signature check alone (`PublicKey::verify_strict`: precomputed tables,
/// the verdicts of `verify_strict`), `iterations` times, for the benchmark only. The key and
/// its table are kept between calls. Built only with the `bench-hooks` feature.
#[cfg(feature = "bench-hooks")]
#[wasm_bindgen(js_name = benchVerifyTables)]
pub fn bench_verify_tables(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
    iterations: u32,
) -> bool {
    thread_local! {
        static KEY: std::cell::RefCell<Option<lifeline_core::PublicKey>> = const { std::cell::RefCell::new(None) };
    }
    let (Ok(pk), Ok(sig)) = (
        <[u8; 32]>::try_from(public_key),
        <[u8; 64]>::try_from(signature),
    ) else {
        return false;
    };
    KEY.with_borrow_mut(|kept| {
        if kept.as_ref().is_none_or(|key| key.to_bytes() != pk) {
            *kept = lifeline_core::PublicKey::from_bytes("bench", &pk).ok();
        }
        let Some(key) = kept.as_ref() else {
            return false;
        };
        let mut ok = true;
        for _ in 0..iterations {
            ok &= key.verify_strict(core::hint::black_box(message), &sig);
        }
        ok
    })
}
