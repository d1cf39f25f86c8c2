//! Structured license tokens: a valid license signed with a fixed key, then changed as the
//! input chooses (claims, header `alg`/`kid`/`typ`/…, raw header or payload, the signer; then,
//! after signing, flipped bytes in the header, payload or signature, edited or cut text,
//! moved segments, whitespace, a replaced signature) — see `fuzzkit::craft_license`.
//!
//! Invariants (`fuzzkit::check_structured`): never panics; a usable verdict only for a
//! token whose signature a fuzz key made over exactly those bytes (surrounding whitespace
//! aside: the verifier trims it; a signature replaced by another key's genuine signature
//! over the same input counts as signed by that key); a genuine signature by a key of the
//! set, named by the header, is never `bad_signature`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lifeline_core::KeySet;
use lifeline_tests::fuzzkit;

static KEYS: LazyLock<KeySet> = LazyLock::new(fuzzkit::key_set);

fuzz_target!(|data: &[u8]| fuzzkit::check_structured(data, &KEYS));
