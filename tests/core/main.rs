//! Cross-crate tests of the core: the shared vector files, Ed25519 strictness against
//! public vector sets, and properties over generated inputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod breaker;
mod compromise;
mod fuzz_regressions;
mod properties;
mod renewal;
mod strictness;
mod vectors;
