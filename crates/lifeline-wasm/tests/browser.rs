//! The WASM verifier in headless Chromium (`cargo test --target wasm32-unknown-unknown -p lifeline-wasm --test browser`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

mod common;

#[wasm_bindgen_test]
fn license_vectors_match_native() {
    common::license_vectors_match_native();
}

#[wasm_bindgen_test]
fn key_set_vectors_match() {
    common::key_set_vectors_match();
}

#[wasm_bindgen_test]
fn stats_and_metrics_count_verdicts() {
    common::stats_and_metrics_count_verdicts();
}

#[wasm_bindgen_test]
fn on_verdict_is_called_and_may_throw() {
    common::on_verdict_is_called_and_may_throw();
}

#[wasm_bindgen_test]
fn bad_arguments_throw_coded_errors() {
    common::bad_arguments_throw_coded_errors();
}

#[wasm_bindgen_test]
fn now_defaults_to_date_now() {
    common::now_defaults_to_date_now();
}
