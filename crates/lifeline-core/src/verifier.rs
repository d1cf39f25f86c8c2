//! A long-lived verifier for hot paths (edge workers, request handlers): it keeps the parsed
//! key set and caches the signature result per exact token, so a license seen before costs
//! a hash lookup plus the time checks, not a signature verification.

use std::collections::{HashMap, VecDeque};

use rustc_hash::FxBuildHasher;

use crate::{KeySet, Policy, SignedLicense, UnixTime, UnverifiedLicense, Verdict, jws};

/// How many authenticated tokens a [`Verifier`] remembers by default.
pub const DEFAULT_CACHE_ENTRIES: usize = 1024;
/// The most token bytes a [`Verifier`]'s cache holds, whatever the entry count.
pub const MAX_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Verifies licenses against one key set and policy, caching signature results.
///
/// The cache maps the exact (whitespace-trimmed) token bytes to the [`SignedLicense`] they
/// authenticated to. Only the signature and claims parsing are cached: key status, audience
/// and time are evaluated on every call, so revoking a key or a clock passing `exp` takes
/// effect at once. Replacing the key set ([`Verifier::set_keys`]) clears the cache.
#[derive(Debug)]
pub struct Verifier {
    keys: KeySet,
    policy: Policy,
    cache: TokenCache<SignedLicense>,
}

impl Verifier {
    /// A verifier with the default cache size.
    pub fn new(keys: KeySet, policy: Policy) -> Self {
        Self::with_cache_entries(keys, policy, DEFAULT_CACHE_ENTRIES)
    }

    /// A verifier remembering at most `entries` tokens (0 disables the cache).
    pub fn with_cache_entries(keys: KeySet, policy: Policy, entries: usize) -> Self {
        Self {
            keys,
            policy,
            cache: TokenCache::new(entries),
        }
    }

    /// Verifies one token at `now`. Same verdict as [`crate::verify`], always.
    pub fn verify(&mut self, token: &[u8], now: UnixTime) -> Verdict {
        self.verify_traced(token, now).0
    }

    /// Like [`Self::verify`], and also says whether the signature result came from the cache.
    pub fn verify_traced(&mut self, token: &[u8], now: UnixTime) -> (Verdict, bool) {
        let token = jws::trim(token);
        if let Some(signed) = self.cache.get(token) {
            return (signed.evaluate(&self.keys, &self.policy, now), true);
        }
        let verdict = match UnverifiedLicense::parse(token).and_then(|l| l.authenticate(&self.keys))
        {
            Ok(signed) => {
                let verdict = signed.evaluate(&self.keys, &self.policy, now);
                self.cache.insert(token, signed);
                verdict
            }
            Err(error) => Verdict::refused(error, None),
        };
        (verdict, false)
    }

    /// Replaces the key set and forgets every cached signature result.
    pub fn set_keys(&mut self, keys: KeySet) {
        self.keys = keys;
        self.cache.clear();
    }

    /// The key set in use.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The policy in use.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How many tokens the cache holds now.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }
}

/// A bounded FIFO map from exact token bytes to what was learned from them: at most
/// `capacity` entries and [`MAX_CACHE_BYTES`] of keys (or the bound given to
/// [`TokenCache::with_max_bytes`]); the oldest entry leaves first.
///
/// [`Verifier`] keeps `SignedLicense`s in one; embedders (the WASM layer) keep richer entries.
#[derive(Debug)]
pub struct TokenCache<V> {
    // Fx hashing: keys are tokens that already authenticated, so an attacker cannot fill
    // the map with chosen colliding keys; lookups compare the full bytes.
    map: HashMap<Box<[u8]>, V, FxBuildHasher>,
    order: VecDeque<Box<[u8]>>,
    capacity: usize,
    bytes: usize,
    max_bytes: usize,
}

impl<V> TokenCache<V> {
    /// An empty cache holding at most `capacity` tokens (0: holds nothing) and
    /// [`MAX_CACHE_BYTES`] of them.
    pub fn new(capacity: usize) -> Self {
        Self::with_max_bytes(capacity, MAX_CACHE_BYTES)
    }

    /// An empty cache holding at most `capacity` tokens and `max_bytes` of them (a server
    /// that answers for a large fleet holds more than a client does).
    pub fn with_max_bytes(capacity: usize, max_bytes: usize) -> Self {
        Self {
            map: HashMap::default(),
            order: VecDeque::new(),
            capacity,
            bytes: 0,
            max_bytes,
        }
    }

    /// The entry for exactly these bytes.
    pub fn get(&self, token: &[u8]) -> Option<&V> {
        self.map.get(token)
    }

    /// How many tokens it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Remembers `value` for `token`, evicting the oldest entries to stay in bounds.
    /// Tokens over a quarter of [`MAX_CACHE_BYTES`] are not cached.
    pub fn insert(&mut self, token: &[u8], value: V) {
        if self.capacity == 0 || token.len() > self.max_bytes / 4 {
            return;
        }
        while self.map.len() >= self.capacity || self.bytes + token.len() > self.max_bytes {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.bytes -= oldest.len();
            self.map.remove(&oldest);
        }
        let key: Box<[u8]> = token.into();
        self.bytes += key.len();
        self.order.push_back(key.clone());
        self.map.insert(key, value);
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
#[path = "verifier_tests.rs"]
mod tests;
