//! The Lifeline license verifier.
//!
//! A Lifeline license is a JWS in compact serialization (RFC 7515), signed with Ed25519
//! (`alg` `EdDSA` or `Ed25519`, `typ` `lifeline-license+jwt`), checked against a JWKS key
//! set (RFC 7517 / RFC 8037). [`verify`] turns the token bytes, a [`KeySet`], a [`Policy`]
//! and the current time into a [`Verdict`]: `valid`, `grace` or `invalid`, with one stable
//! [`Reason`] code when it is not plainly valid.
//!
//! ```text
//! bytes ──parse──▶ UnverifiedLicense ──key + verify_strict──▶ SignedLicense ──policy, now──▶ Verdict
//! ```
//!
//! # What this crate does not do
//! - No I/O, no clock and no randomness: the caller passes `now` in and reads files itself.
//!   The same code therefore runs natively, in WebAssembly and in tests with a fixed time.
//! - It does not fetch key sets, talk to a license server or cache anything.
//! - It does not generate keys. Signing tokens (for issuers and tests) sits behind the
//!   `sign` feature and takes the 32-byte secret seed from the caller.
//!
//! # Strictness
//! Signatures are checked with exactly the verdicts of ed25519-dalek's `verify_strict` (by
//! `verify_strict` itself, or by the same check computed with precomputed tables once a key
//! has verified a few signatures: `fixed_base.rs`); small-order public keys are refused when a
//! key set loads; the algorithm is pinned by the key (every key is
//! Ed25519), never chosen by the token. Header and payload JSON refuse duplicate members and
//! deep nesting; tokens over [`MAX_TOKEN_BYTES`] are refused before any parsing.

mod answer;
mod claims;
mod client;
mod error;
mod fixed_base;
mod inspect;
mod issued_list;
mod json;
mod jws;
mod keys;
mod members;
mod offline;
mod overrides;
mod reason;
mod renewal;
mod seat_client;
mod seats;
mod session;
#[cfg(any(test, feature = "sign"))]
#[cfg_attr(not(feature = "sign"), allow(dead_code, unreachable_pub))]
mod sign;
mod stats;
mod telemetry;
mod time;
mod verdict;
mod verifier;
mod verify;

#[cfg(feature = "sign")]
pub use answer::{LeaseTerms, lease_claims};
pub use claims::Claims;
pub use client::{Breaker, Check, ClientPolicy, Nodes, Outcome, Step};
pub use error::{ClaimProblem, KeyProblem, KeySetError, Malformed, Segment, VerifyError};
pub use inspect::{Inspection, inspect};
#[cfg(feature = "sign")]
pub use issued_list::issued_list_claims;
pub use issued_list::{ISSUED_LIST_TYP, IssuedList, MAX_ISSUED_LIST_BYTES, token_digest};
pub use json::parse_object as parse_json_object;
pub use jws::{Header, LICENSE_TYP, MAX_TOKEN_BYTES};
pub use keys::{KeySet, KeyState, MAX_KEY_SET_BYTES, PublicKey};
pub use offline::{
    LEASE_TYP, Lease, LeaseProblem, OfflinePolicy, Trust, offline_verdict, online_verdict,
};
pub use overrides::{
    Effect, MAX_OVERRIDE_LIFETIME_SECS, OVERRIDE_BUNDLE_TYP, OVERRIDE_TYP, Override,
    OverrideBundle, Scope,
};
pub use reason::Reason;
pub use renewal::{RenewalProblem, renewal};
pub use seat_client::{
    MAX_FINGERPRINT_CHARS, SeatCache, SeatCall, SeatKeeper, SeatProblem, Standing, fingerprint_ok,
    machine_fingerprint,
};
pub use seats::{
    DEFAULT_FLOATING_HEARTBEAT_S, DEFAULT_NODE_LOCKED_HEARTBEAT_S, MAX_SEAT_SECS, MIN_HEARTBEAT_S,
    Overage, SEAT_TYP, SeatLease, SeatMode, SeatPolicy, SeatRefusal, SeatState, fingerprint_hash,
};
#[cfg(feature = "sign")]
pub use seats::{SeatTerms, seat_lease_claims};
pub use session::{MAX_ANSWER_BYTES, Next, Received, Reply, Round, Session, SessionCache};
#[cfg(feature = "sign")]
pub use sign::{LicenseSigner, SignError};
pub use stats::{LATENCY_BUCKETS_SECS, VerifyStats};
pub use telemetry::{
    MAX_TELEMETRY_NAME, TelemetryBatch, TelemetryError, TelemetryReport, telemetry_name,
    telemetry_name_ok,
};
pub use time::UnixTime;
pub use verdict::{State, Verdict};
pub use verifier::{DEFAULT_CACHE_ENTRIES, MAX_CACHE_BYTES, TokenCache, Verifier};
pub use verify::{DEFAULT_LEEWAY_SECS, Policy, SignedLicense, UnverifiedLicense, verify};
