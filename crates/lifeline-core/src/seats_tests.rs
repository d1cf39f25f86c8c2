//! The seat policy as a license signs it, and seat leases as a node signs and a client reads
//! them.

use serde_json::{Map, Value, json};

use super::*;
use crate::error::{ClaimProblem, Malformed};
use crate::sign::{LicenseSigner, SignError};
use crate::{Claims, KeySet};

const NOW: u64 = 1_800_000_000;

fn signer() -> LicenseSigner {
    LicenseSigner::from_seed("srv", &[23; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([signer().public_key().unwrap()]).unwrap()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The claims of a license with `extra` members.
fn claims(extra: Value) -> Result<Claims, VerifyError> {
    let mut raw = object(json!({
        "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-1",
        "iat": NOW, "exp": NOW + 86_400, "entitlements": [],
    }));
    raw.extend(object(extra));
    Claims::from_map(raw)
}

fn policy(extra: Value) -> Option<SeatPolicy> {
    claims(extra).unwrap().seat_policy().copied()
}

/// The claim a malformed policy names.
fn refused_claim(extra: Value) -> &'static str {
    match claims(extra) {
        Err(VerifyError::Malformed(Malformed::Claim {
            claim,
            problem: ClaimProblem::WrongType { .. },
        })) => claim,
        other => panic!("expected a wrong claim, got {other:?}"),
    }
}

#[test]
fn a_license_without_seats_has_no_policy() {
    assert_eq!(policy(json!({})), None);
}

#[test]
fn seats_alone_are_node_locked_with_the_defaults() {
    assert_eq!(
        policy(json!({ "seats": 5 })),
        Some(SeatPolicy {
            seats: 5,
            mode: SeatMode::NodeLocked,
            heartbeat_s: DEFAULT_NODE_LOCKED_HEARTBEAT_S,
            overage: None,
            linger_s: 0,
            borrow_max_s: 0,
        })
    );
}

#[test]
fn a_floating_policy_reads_every_member() {
    let p = policy(json!({
        "seats": 10, "seat_mode": "floating", "overage": { "percent": 20 },
        "linger_s": 60, "borrow_max_s": 604_800,
    }))
    .unwrap();
    assert_eq!(p.mode, SeatMode::Floating);
    assert_eq!(p.heartbeat_s, DEFAULT_FLOATING_HEARTBEAT_S);
    assert_eq!(p.overage, Some(Overage::Percent(20)));
    assert_eq!((p.linger_s, p.borrow_max_s), (60, 604_800));
    assert_eq!(p.limit(), 12, "10 seats + 20 %");
    let fixed =
        policy(json!({ "seats": 3, "heartbeat_s": 30, "overage": { "fixed": 2 } })).unwrap();
    assert_eq!((fixed.heartbeat_s, fixed.limit()), (30, 5));
}

#[test]
fn overage_rounds_down_and_never_overflows() {
    assert_eq!(Overage::Percent(15).allowance(10), 1);
    assert_eq!(Overage::Percent(0).allowance(10), 0);
    assert_eq!(Overage::Fixed(u32::MAX).allowance(1), u32::MAX);
    let p = SeatPolicy {
        seats: u32::MAX,
        mode: SeatMode::Floating,
        heartbeat_s: 60,
        overage: Some(Overage::Fixed(5)),
        linger_s: 0,
        borrow_max_s: 0,
    };
    assert_eq!(p.limit(), u32::MAX);
}

#[test]
fn a_malformed_policy_is_a_malformed_license() {
    assert_eq!(
        refused_claim(json!({ "seats": 2, "seat_mode": "concurrent" })),
        "seat_mode"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "seat_mode": 1 })),
        "seat_mode"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "heartbeat_s": 9 })),
        "heartbeat_s"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "heartbeat_s": -1 })),
        "heartbeat_s"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "heartbeat_s": MAX_SEAT_SECS + 1 })),
        "heartbeat_s"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "linger_s": "60" })),
        "linger_s"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "borrow_max_s": 1.5 })),
        "borrow_max_s"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "overage": 3 })),
        "overage"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "overage": { "fixed": 1, "percent": 1 } })),
        "overage"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "overage": { "percent": 1001 } })),
        "overage"
    );
    assert_eq!(
        refused_claim(json!({ "seats": 2, "overage": { "some": 1 } })),
        "overage"
    );
    // Seat members on a license without seats would be silently meaningless.
    assert_eq!(
        refused_claim(json!({ "seat_mode": "floating" })),
        "seat_mode"
    );
    assert_eq!(refused_claim(json!({ "borrow_max_s": 60 })), "borrow_max_s");
}

#[test]
fn fingerprint_hashes_are_per_license_and_unambiguous() {
    let a = fingerprint_hash("lic-1", "machine-a");
    assert_eq!(a, fingerprint_hash("lic-1", "machine-a"));
    assert_ne!(a, fingerprint_hash("lic-2", "machine-a"));
    assert_ne!(a, fingerprint_hash("lic-1", "machine-b"));
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert_ne!(fingerprint_hash("ab", "c"), fingerprint_hash("a", "bc"));
    assert_eq!(a.len(), 43, "base64url of 32 bytes");
    assert!(!a.contains("machine"));
}

fn terms(state: SeatState, reason: Option<SeatRefusal>) -> Map<String, Value> {
    let fph = fingerprint_hash("lic-1", "machine-a");
    seat_lease_claims(&SeatTerms {
        issuer: "node-1",
        license_id: "lic-1",
        seat_id: Some("seat-1"),
        fingerprint_hash: &fph,
        state,
        reason,
        now: UnixTime::from_secs(NOW),
        expires_at: UnixTime::from_secs(NOW + 120),
        seq: 7,
        in_use: 3,
        max: 5,
    })
}

#[test]
fn a_signed_seat_lease_reads_back_as_written() {
    let token = signer()
        .sign_seat_lease(&terms(SeatState::Held, None))
        .unwrap();
    let lease = SeatLease::verify(token.as_bytes(), &keys()).unwrap();
    assert_eq!(lease.license_id, "lic-1");
    assert_eq!(lease.seat_id.as_deref(), Some("seat-1"));
    assert_eq!(lease.state, SeatState::Held);
    assert_eq!(lease.reason, None);
    assert_eq!(
        (lease.issued_at.as_secs(), lease.expires_at.as_secs()),
        (NOW, NOW + 120)
    );
    assert_eq!((lease.seq, lease.in_use, lease.max), (7, 3, 5));
    assert_eq!(lease.kid, "srv");
    assert!(lease.is_for("lic-1", "machine-a"));
    assert!(
        !lease.is_for("lic-1", "machine-b"),
        "another machine's lease"
    );
    assert!(
        !lease.is_for("lic-2", "machine-a"),
        "another license's lease"
    );
    assert!(lease.holds_at(UnixTime::from_secs(NOW + 119)));
    assert!(
        !lease.holds_at(UnixTime::from_secs(NOW + 120)),
        "exp is exclusive"
    );
}

#[test]
fn a_refusal_is_signed_with_its_code_and_holds_nothing() {
    let token = signer()
        .sign_seat_lease(&terms(
            SeatState::Refused,
            Some(SeatRefusal::SeatsExhausted),
        ))
        .unwrap();
    let lease = SeatLease::verify(token.as_bytes(), &keys()).unwrap();
    assert_eq!(lease.reason, Some(SeatRefusal::SeatsExhausted));
    assert!(!lease.holds_at(UnixTime::from_secs(NOW)));
    assert_eq!(
        serde_json::to_value(SeatRefusal::SeatsExhausted).unwrap(),
        json!(SeatRefusal::SeatsExhausted.as_str())
    );
}

#[test]
fn the_signer_refuses_inconsistent_or_incomplete_leases() {
    for bad in [
        terms(SeatState::Refused, None),
        terms(SeatState::Held, Some(SeatRefusal::SeatExpired)),
    ] {
        assert!(matches!(
            signer().sign_seat_lease(&bad),
            Err(SignError::Claims(_))
        ));
    }
    for member in ["sub", "fph", "state", "iat", "exp", "seq", "in_use", "max"] {
        let mut claims = terms(SeatState::Held, None);
        claims.remove(member);
        assert!(
            signer().sign_seat_lease(&claims).is_err(),
            "a lease without {member} was signed"
        );
    }
}

#[test]
fn other_tokens_and_forgeries_are_not_seat_leases() {
    let held = terms(SeatState::Held, None);
    // A validation lease's typ, or a license's, is not a seat lease.
    let header = json!({ "alg": "EdDSA", "typ": crate::LEASE_TYP, "kid": "srv" });
    let wrong_typ = signer().sign_jws(
        header.to_string().as_bytes(),
        Value::Object(held.clone()).to_string().as_bytes(),
    );
    assert!(SeatLease::verify(wrong_typ.as_bytes(), &keys()).is_err());
    // Signed by a key the client does not trust.
    let stranger = LicenseSigner::from_seed("srv", &[99; 32])
        .sign_seat_lease(&held)
        .unwrap();
    assert_eq!(
        SeatLease::verify(stranger.as_bytes(), &keys()),
        Err(VerifyError::BadSignature)
    );
    // One claim changed after signing.
    let token = signer().sign_seat_lease(&held).unwrap();
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut forged = held;
    forged.insert("max".into(), 500.into());
    let payload = crate::jws::encode(Value::Object(forged).to_string().as_bytes());
    parts[1] = &payload;
    assert_eq!(
        SeatLease::verify(parts.join(".").as_bytes(), &keys()),
        Err(VerifyError::BadSignature)
    );
}
