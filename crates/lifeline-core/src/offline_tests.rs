//! Leases and the offline rules: what is trusted, for how long, and what never is.

use serde_json::{Map, Value, json};

use super::*;
use crate::sign::LicenseSigner;
use crate::{Policy, State, verify};

const NOW: u64 = 1_800_000_000;
const HOUR: u64 = 3600;

fn server() -> LicenseSigner {
    LicenseSigner::from_seed("srv", &[11; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([server().public_key().unwrap()]).unwrap()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn license(extra: Value) -> String {
    let mut claims = object(json!({
        "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-1",
        "iat": NOW - 10 * HOUR, "exp": NOW + 100 * HOUR, "entitlements": [],
    }));
    claims.extend(object(extra));
    server().sign_license(&claims).unwrap()
}

fn lease(license_id: &str, state: &str, reason: Option<&str>, iat: u64, seq: u64) -> String {
    server()
        .sign_lease(&object(json!({
            "sub": license_id, "state": state, "reason": reason,
            "iat": iat, "exp": iat + HOUR, "seq": seq,
        })))
        .unwrap()
}

fn local(token: &str, now: u64) -> Verdict {
    verify(
        token.as_bytes(),
        &keys(),
        &Policy::new(),
        UnixTime::from_secs(now),
    )
}

#[test]
fn trust_takes_only_authentic_fresh_leases_for_this_license() {
    let mut trust = Trust::default();
    let first = lease("lic-1", "valid", None, NOW, 1_000);
    let got = trust
        .accept(
            Some(first.as_bytes()),
            "lic-1",
            &keys(),
            UnixTime::from_secs(NOW),
        )
        .unwrap();
    assert_eq!((got.seq, got.issued_at.as_secs()), (1_000, NOW));
    assert_eq!(
        trust,
        Trust {
            high_water: NOW,
            last_seq: 1_000
        }
    );
    // The same answer again is fine; an older one is a replay.
    assert!(
        trust
            .accept(
                Some(first.as_bytes()),
                "lic-1",
                &keys(),
                UnixTime::from_secs(NOW)
            )
            .is_ok()
    );
    let older = lease("lic-1", "valid", None, NOW - 60, 999);
    assert!(matches!(
        trust.accept(
            Some(older.as_bytes()),
            "lic-1",
            &keys(),
            UnixTime::from_secs(NOW)
        ),
        Err(LeaseProblem::Replayed {
            seq: 999,
            last_seq: 1_000
        })
    ));
    // Another license's lease, no lease, a forged lease, a lease from an unknown key.
    let other = lease("lic-2", "valid", None, NOW, 2_000);
    assert!(matches!(
        trust.accept(
            Some(other.as_bytes()),
            "lic-1",
            &keys(),
            UnixTime::from_secs(NOW)
        ),
        Err(LeaseProblem::OtherLicense { .. })
    ));
    assert_eq!(
        trust.accept(None, "lic-1", &keys(), UnixTime::from_secs(NOW)),
        Err(LeaseProblem::Unauthentic(None))
    );
    let mut forged = lease("lic-1", "valid", None, NOW, 3_000).into_bytes();
    let i = forged.len() - 3;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        trust.accept(Some(&forged), "lic-1", &keys(), UnixTime::from_secs(NOW)),
        Err(LeaseProblem::Unauthentic(Some(VerifyError::BadSignature)))
    ));
    let stranger = LicenseSigner::from_seed("x", &[1; 32])
        .sign_lease(&object(
            json!({"sub": "lic-1", "state": "valid", "iat": NOW, "exp": NOW + 1, "seq": 5_000}),
        ))
        .unwrap();
    assert!(
        trust
            .accept(
                Some(stranger.as_bytes()),
                "lic-1",
                &keys(),
                UnixTime::from_secs(NOW)
            )
            .is_err()
    );
    // A license is not a lease.
    assert!(
        trust
            .accept(
                Some(license(json!({})).as_bytes()),
                "lic-1",
                &keys(),
                UnixTime::from_secs(NOW)
            )
            .is_err()
    );
    assert_eq!(trust.last_seq, 1_000, "nothing refused changed the trust");
}

#[test]
fn a_signed_refusal_wins_online() {
    let lic = license(json!({}));
    let revoked = Lease::verify(
        lease("lic-1", "invalid", Some("revoked"), NOW, 1).as_bytes(),
        &keys(),
    )
    .unwrap();
    let v = online_verdict(local(&lic, NOW), &revoked);
    assert_eq!(v.state(), State::Invalid);
    assert_eq!(v.reason(), Some(Reason::Revoked));
    assert!(v.claims().is_some());
    let fine = Lease::verify(lease("lic-1", "valid", None, NOW, 2).as_bytes(), &keys()).unwrap();
    assert_eq!(
        online_verdict(local(&lic, NOW), &fine).state(),
        State::Valid
    );
}

#[test]
fn offline_grace_runs_from_the_last_lease_then_runs_out() {
    let lic = license(json!({"offline_grace_s": 24 * HOUR}));
    let l = Lease::verify(lease("lic-1", "valid", None, NOW, 1).as_bytes(), &keys()).unwrap();
    let trust = Trust {
        high_water: NOW,
        last_seq: 1,
    };
    let policy = OfflinePolicy::default();
    let at = |now: u64| {
        offline_verdict(
            local(&lic, now),
            Some(&l),
            &trust,
            &policy,
            UnixTime::from_secs(now),
        )
    };
    let v = at(NOW + 23 * HOUR);
    assert_eq!(v.state(), State::Offline);
    assert!(v.is_usable());
    assert_eq!(v.reason(), Some(Reason::Offline));
    assert_eq!(
        v.offline_until(),
        Some(UnixTime::from_secs(NOW + 24 * HOUR))
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["state"], "offline");
    assert_eq!(json["offline_until"], NOW + 24 * HOUR);
    assert!(json["detail"].as_str().unwrap().contains("3600 s left"));
    let out = at(NOW + 24 * HOUR);
    assert_eq!(out.state(), State::Invalid);
    assert_eq!(out.reason(), Some(Reason::OfflineGraceExhausted));
    // Without the claim, the policy's default (72 h).
    let plain = license(json!({}));
    let v = offline_verdict(
        local(&plain, NOW + 71 * HOUR),
        Some(&l),
        &trust,
        &policy,
        UnixTime::from_secs(NOW + 71 * HOUR),
    );
    assert_eq!(v.state(), State::Offline);
}

#[test]
fn offline_never_rescues_what_is_refused_and_fails_closed_when_told() {
    let policy = OfflinePolicy::default();
    let trust = Trust {
        high_water: NOW,
        last_seq: 1,
    };
    let now = UnixTime::from_secs(NOW + HOUR);
    let good = Lease::verify(lease("lic-1", "valid", None, NOW, 1).as_bytes(), &keys()).unwrap();
    // Fails closed.
    let closed = license(json!({"offline_grace_s": 0}));
    let v = offline_verdict(
        local(&closed, NOW + HOUR),
        Some(&good),
        &trust,
        &policy,
        now,
    );
    assert_eq!(v.reason(), Some(Reason::OfflineGraceExhausted));
    // No lease ever cached.
    let lic = license(json!({}));
    let v = offline_verdict(local(&lic, NOW + HOUR), None, &trust, &policy, now);
    assert_eq!(v.reason(), Some(Reason::OfflineGraceExhausted));
    // The last answer said revoked: it stays revoked offline.
    let revoked = Lease::verify(
        lease("lic-1", "invalid", Some("revoked"), NOW, 2).as_bytes(),
        &keys(),
    )
    .unwrap();
    let v = offline_verdict(
        local(&lic, NOW + HOUR),
        Some(&revoked),
        &trust,
        &policy,
        now,
    );
    assert_eq!(v.reason(), Some(Reason::Revoked));
    // An expired license stays expired.
    let expired = license(json!({"exp": NOW - HOUR}));
    let v = offline_verdict(
        local(&expired, NOW + HOUR),
        Some(&good),
        &trust,
        &policy,
        now,
    );
    assert_eq!(v.reason(), Some(Reason::Expired));
}

#[test]
fn a_clock_set_back_past_the_tolerance_is_caught() {
    let lic = license(json!({}));
    let l = Lease::verify(lease("lic-1", "valid", None, NOW, 1).as_bytes(), &keys()).unwrap();
    let trust = Trust {
        high_water: NOW + 2 * HOUR,
        last_seq: 1,
    };
    let policy = OfflinePolicy::default();
    let back = NOW + 2 * HOUR - 301;
    let v = offline_verdict(
        local(&lic, back),
        Some(&l),
        &trust,
        &policy,
        UnixTime::from_secs(back),
    );
    assert_eq!(v.reason(), Some(Reason::ClockRollback));
    assert_eq!(v.state(), State::Invalid);
    let within = NOW + 2 * HOUR - 300;
    let v = offline_verdict(
        local(&lic, within),
        Some(&l),
        &trust,
        &policy,
        UnixTime::from_secs(within),
    );
    assert_eq!(v.state(), State::Offline);
}

#[test]
fn malformed_leases_are_refused_by_signer_and_verifier() {
    for (name, value) in [
        ("seq", Value::Null),
        ("seq", json!(-1)),
        ("state", json!("")),
        ("reason", json!(5)),
        ("iat", Value::Null),
    ] {
        let mut claims =
            object(json!({"sub": "lic-1", "state": "valid", "iat": NOW, "exp": NOW + 1, "seq": 1}));
        if value.is_null() {
            claims.remove(name);
        } else {
            claims.insert(name.into(), value.clone());
        }
        assert!(server().sign_lease(&claims).is_err(), "{name}: {value}");
        let header = json!({"alg": "EdDSA", "typ": LEASE_TYP, "kid": "srv"});
        let raw = server().sign_jws(
            header.to_string().as_bytes(),
            Value::Object(claims).to_string().as_bytes(),
        );
        assert_eq!(
            Lease::verify(raw.as_bytes(), &keys()).unwrap_err().reason(),
            Reason::Malformed,
            "{name}"
        );
    }
}

#[test]
fn a_node_clock_ahead_poisons_neither_the_sequence_nor_the_high_water_mark() {
    let mut trust = Trust::default();
    let now = UnixTime::from_secs(NOW);
    // A node an hour ahead: its answer counts, but raises nothing past this client's clock.
    let ahead = lease("lic-1", "valid", None, NOW + 3600, (NOW + 3600) * 1000);
    assert!(
        trust
            .accept(Some(ahead.as_bytes()), "lic-1", &keys(), now)
            .is_ok()
    );
    assert_eq!(
        trust,
        Trust {
            high_water: NOW,
            last_seq: NOW * 1000
        }
    );
    // A healthy node's answer a second later is not a replay ...
    let healthy = lease("lic-1", "valid", None, NOW + 1, (NOW + 1) * 1000);
    assert!(
        trust
            .accept(
                Some(healthy.as_bytes()),
                "lic-1",
                &keys(),
                UnixTime::from_secs(NOW + 1)
            )
            .is_ok()
    );
    // ... an answer from before it still is.
    let old = lease("lic-1", "valid", None, NOW - 10, (NOW - 10) * 1000);
    assert!(matches!(
        trust.accept(
            Some(old.as_bytes()),
            "lic-1",
            &keys(),
            UnixTime::from_secs(NOW + 2)
        ),
        Err(LeaseProblem::Replayed { .. })
    ));
}
