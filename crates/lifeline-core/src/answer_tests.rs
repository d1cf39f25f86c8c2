//! What a node writes (the revoked verdict, a verdict's end, lease claims) read back by the
//! client side: `Lease::verify`, `Trust::accept`, `online_verdict`.

use serde_json::{Map, Value, json};

use super::*;
use crate::sign::LicenseSigner;
use crate::{KeySet, Lease, Override, Policy, State, Trust, online_verdict, verify};

const NOW: u64 = 1_800_000_000;
const HOUR: u64 = 3600;

fn signer() -> LicenseSigner {
    LicenseSigner::from_seed("srv", &[21; 32])
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

/// A license expiring at `exp` with `grace_s`, checked at `now`.
fn verdict(exp: u64, grace_s: u64, now: u64) -> Verdict {
    let token = signer()
        .sign_license(&object(json!({
            "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-9",
            "iat": NOW - 10 * HOUR, "exp": exp, "grace_s": grace_s, "entitlements": [],
        })))
        .unwrap();
    verify(
        token.as_bytes(),
        &keys(),
        &Policy::new(),
        UnixTime::from_secs(now),
    )
}

fn with_override(v: Verdict, effect: Value, exp: u64) -> Verdict {
    let token = signer()
        .sign_override(&object(json!({
            "iss": "on-call", "jti": "ovr-9", "iat": NOW - 5, "exp": exp,
            "scope": {"type": "all"}, "effect": effect,
            "reason": "billing outage", "incident": "INC-9",
        })))
        .unwrap();
    let o = Override::verify(token.as_bytes(), &keys(), UnixTime::from_secs(NOW), 60).unwrap();
    v.with_overrides([&o], UnixTime::from_secs(NOW))
}

fn terms(seq: u64) -> LeaseTerms<'static> {
    LeaseTerms {
        issuer: "lifeline-server",
        instance: Some("pod-1"),
        now: UnixTime::from_secs(NOW),
        ttl_secs: HOUR,
        seq,
    }
}

/// Signs the claims and reads them back as a client does.
fn signed_lease(v: &Verdict, seq: u64) -> (Lease, UnixTime) {
    let (claims, exp) = lease_claims(v, &terms(seq)).unwrap();
    let token = signer().sign_lease(&claims).unwrap();
    (Lease::verify(token.as_bytes(), &keys()).unwrap(), exp)
}

#[test]
fn a_usable_verdict_gets_a_lease_the_client_accepts() {
    let v = verdict(NOW + 100 * HOUR, 0, NOW);
    assert_eq!(
        v.usable_until(),
        Some(UnixTime::from_secs(NOW + 100 * HOUR))
    );
    let (lease, exp) = signed_lease(&v, 7);
    assert_eq!(lease.license_id, "lic-9");
    assert_eq!(lease.instance.as_deref(), Some("pod-1"));
    assert_eq!(
        (lease.state.as_str(), lease.reason.as_deref()),
        ("valid", None)
    );
    assert_eq!(lease.issued_at.as_secs(), NOW);
    assert_eq!(
        (exp.as_secs(), lease.expires_at.as_secs()),
        (NOW + HOUR, NOW + HOUR)
    );
    assert_eq!(lease.seq, 7);
    let token = signer()
        .sign_lease(&lease_claims(&v, &terms(7)).unwrap().0)
        .unwrap();
    let mut trust = Trust::default();
    let accepted = trust
        .accept(
            Some(token.as_bytes()),
            "lic-9",
            &keys(),
            UnixTime::from_secs(NOW),
        )
        .unwrap();
    assert_eq!(accepted.seq, 7);
    assert_eq!(online_verdict(v.clone(), &accepted).state(), State::Valid);
}

#[test]
fn a_lease_never_outlives_the_verdict() {
    // In grace: the lease ends with the grace, not after the TTL.
    let v = verdict(NOW - 10, 600, NOW);
    assert_eq!(v.state(), State::Grace);
    assert_eq!(v.usable_until(), Some(UnixTime::from_secs(NOW + 590)));
    let (lease, exp) = signed_lease(&v, 1);
    assert_eq!(exp.as_secs(), NOW + 590);
    assert_eq!(
        (lease.state.as_str(), lease.reason.as_deref()),
        ("grace", Some("grace_period"))
    );
    // Refused: a signed refusal for the whole TTL, never usable.
    let expired = verdict(NOW - 10, 0, NOW);
    assert_eq!(expired.usable_until(), None);
    let (lease, exp) = signed_lease(&expired, 2);
    assert_eq!(exp.as_secs(), NOW + HOUR);
    assert_eq!(lease.reason.as_deref(), Some("expired"));
    // Not authentic: no lease at all.
    let forged = verify(b"a.b.c", &keys(), &Policy::new(), UnixTime::from_secs(NOW));
    assert!(lease_claims(&forged, &terms(3)).is_none());
}

#[test]
fn an_override_sets_how_long_a_rescued_license_lasts() {
    let expired = verdict(NOW - 10, 100, NOW + 200);
    // `valid`: until the override ends (or the grace, if later).
    let v = with_override(expired.clone(), json!({"type": "valid"}), NOW + 2 * HOUR);
    assert_eq!(v.state(), State::Override);
    assert_eq!(v.usable_until(), Some(UnixTime::from_secs(NOW + 2 * HOUR)));
    let (claims, _) = lease_claims(&v, &terms(4)).unwrap();
    assert_eq!(claims["override"], "ovr-9");
    // `extend_grace` (a license past its grace): the grace plus its seconds, capped by the
    // override's end.
    let v = with_override(
        verdict(NOW - 200, 100, NOW),
        json!({"type": "extend_grace", "secs": 150}),
        NOW + 2 * HOUR,
    );
    assert_eq!(v.state(), State::Override);
    assert_eq!(v.usable_until(), Some(UnixTime::from_secs(NOW + 50)));
    let v = with_override(
        verdict(NOW - 200, 100, NOW),
        json!({"type": "extend_grace", "secs": 10 * HOUR}),
        NOW + 2 * HOUR,
    );
    assert_eq!(v.usable_until(), Some(UnixTime::from_secs(NOW + 2 * HOUR)));
}

#[test]
fn a_revoked_license_is_refused_in_the_verdict_and_the_lease() {
    let v = verdict(NOW + 100 * HOUR, 0, NOW).revoked(UnixTime::from_secs(NOW - 60), "chargeback");
    assert_eq!(v.state(), State::Invalid);
    assert_eq!(v.reason(), Some(Reason::Revoked));
    assert_eq!(
        v.detail(),
        Some(format!("license revoked at {}: chargeback", NOW - 60).as_str())
    );
    assert!(v.claims().is_some(), "the claims stay");
    assert_eq!(v.usable_until(), None);
    // Revocation wins over an override that applied before it was known.
    let rescued = with_override(
        verdict(NOW - 10, 0, NOW),
        json!({"type": "valid"}),
        NOW + HOUR,
    );
    let v = rescued.revoked(UnixTime::from_secs(NOW), "fraud");
    assert!(v.applied_override().is_none());
    let (lease, exp) = signed_lease(&v, 5);
    assert_eq!(exp.as_secs(), NOW + HOUR);
    assert_eq!(
        (lease.state.as_str(), lease.reason.as_deref()),
        ("invalid", Some("revoked"))
    );
    // The client holding a usable local verdict is refused by it.
    let local = verdict(NOW + 100 * HOUR, 0, NOW);
    assert!(local.is_usable());
    let refused = online_verdict(local, &lease);
    assert_eq!(
        (refused.state(), refused.reason()),
        (State::Invalid, Some(Reason::Revoked))
    );
}
