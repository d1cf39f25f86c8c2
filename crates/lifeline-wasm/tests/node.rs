//! The WASM verifier in Node (`cargo test --target wasm32-unknown-unknown -p lifeline-wasm --test node`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod common;

wasm_tests!(
    license_vectors_match_native,
    key_set_vectors_match,
    stats_and_metrics_count_verdicts,
    telemetry_report_drains_into_the_servers_body,
    on_verdict_is_called_and_may_throw,
    bad_arguments_throw_coded_errors,
    now_defaults_to_date_now,
    overrides_minted_offline_are_honoured,
);
