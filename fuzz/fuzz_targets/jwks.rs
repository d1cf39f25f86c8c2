//! Key set (JWKS) loading: never panics; a set that loads round-trips through `to_jwks`
//! to an equal set; a set that loads can verify a token without panicking.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lifeline_core::{KeySet, Policy, UnixTime, verify};
use lifeline_tests::fuzzkit;

static TOKEN: LazyLock<String> = LazyLock::new(|| fuzzkit::craft_license(&[]).token);

fuzz_target!(|data: &[u8]| {
    match KeySet::from_jwks_json(data) {
        Ok(keys) => {
            let again = KeySet::from_jwks_json(keys.to_jwks().to_string().as_bytes())
                .expect("a loaded key set reloads from its own JWKS");
            assert_eq!(again, keys);
            for key in keys.iter() {
                assert!(keys.get(key.kid()).is_some());
            }
            let v = verify(
                TOKEN.as_bytes(),
                &keys,
                &Policy::new(),
                UnixTime::from_secs(fuzzkit::NOW),
            );
            if v.is_usable() {
                // Only a key equal to k1's public key can make the fixed token usable.
                let k1 = fuzzkit::key_set();
                let ours = k1.get("k1").map(|k| k.to_bytes());
                assert_eq!(keys.get("k1").map(|k| k.to_bytes()), ours);
            }
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
        }
    }
});
