//! The validation client's behaviour, once for every shell: which node is asked, what
//! counts as an answer, what the cache keeps, and the verdict with no node at all.

use serde_json::{Map, Value, json};

use super::*;
use crate::sign::LicenseSigner;
use crate::{ClientPolicy, Reason, State};

const NOW: u64 = 1_800_000_000;
const HOUR: u64 = 3600;

fn node_key() -> LicenseSigner {
    LicenseSigner::from_seed("node", &[31; 32])
}

fn stranger() -> LicenseSigner {
    LicenseSigner::from_seed("node", &[32; 32])
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A license `lic-1`, expiring at `exp`.
fn license(exp: u64) -> String {
    node_key()
        .sign_license(&object(json!({
            "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-1",
            "iat": NOW - 10 * HOUR, "exp": exp, "entitlements": [],
        })))
        .unwrap()
}

fn session(nodes: usize, cache: SessionCache) -> Session {
    let keys = KeySet::from_keys([node_key().public_key().unwrap()]).unwrap();
    Session::new(
        Nodes::new(nodes, ClientPolicy::default()),
        keys,
        Policy::new(),
        OfflinePolicy::default(),
        cache,
    )
}

/// A node's answer body with a lease signed by `by`.
fn answer(
    by: &LicenseSigner,
    license_id: &str,
    state: &str,
    reason: Option<&str>,
    seq: u64,
) -> Vec<u8> {
    answer_with(by, license_id, state, reason, seq, &[])
}

fn answer_with(
    by: &LicenseSigner,
    license_id: &str,
    state: &str,
    reason: Option<&str>,
    seq: u64,
    overrides: &[String],
) -> Vec<u8> {
    let lease = by
        .sign_lease(&object(json!({
            "sub": license_id, "state": state, "reason": reason,
            "iat": NOW, "exp": NOW + HOUR, "seq": seq,
        })))
        .unwrap();
    json!({ "verdict": {}, "revoked": false, "lease": lease, "overrides": overrides })
        .to_string()
        .into_bytes()
}

fn send(next: Next) -> usize {
    match next {
        Next::Send { node, .. } => node,
        other => panic!("expected Send, got {other:?}"),
    }
}

fn verdict(received: Received) -> Verdict {
    match received {
        Received::Verdict(v) => *v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

#[test]
fn a_license_that_is_not_authentic_is_decided_without_asking_anyone() {
    let mut s = session(2, SessionCache::default());
    let mut round = s.begin(b"not.a.license", UnixTime::from_secs(NOW), 0);
    match s.next(&mut round, 0, 0.5) {
        Next::Done(v) => assert_eq!(v.state(), State::Invalid),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_answer_with_a_trusted_lease_decides_and_is_kept() {
    let mut s = session(2, SessionCache::default());
    let token = license(NOW + 100 * HOUR);
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let node = send(s.next(&mut round, 0, 0.5));
    assert_eq!(node, 0);
    let body = answer(&node_key(), "lic-1", "valid", None, 10);
    let v = verdict(s.receive(&mut round, node, 5, Reply::Body(&body)));
    assert_eq!(v.state(), State::Valid);
    assert!(s.cache().lease.is_some());
    assert_eq!(
        (s.cache().trust.last_seq, s.cache().trust.high_water),
        (10, NOW)
    );
    // The cache survives a restart as JSON.
    let json = serde_json::to_string(s.cache()).unwrap();
    assert_eq!(
        &serde_json::from_str::<SessionCache>(&json).unwrap(),
        s.cache()
    );
}

#[test]
fn a_failing_node_passes_the_check_to_the_next_which_is_then_preferred() {
    let mut s = session(3, SessionCache::default());
    let token = license(NOW + 100 * HOUR);
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let first = send(s.next(&mut round, 0, 0.5));
    assert!(matches!(
        s.receive(&mut round, first, 1, Reply::Failed(Outcome::Unreachable)),
        Received::Failed
    ));
    let second = send(s.next(&mut round, 1, 0.5));
    assert_ne!(second, first);
    let body = answer(&node_key(), "lic-1", "valid", None, 10);
    verdict(s.receive(&mut round, second, 2, Reply::Body(&body)));
    let mut again = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 10);
    assert_eq!(
        send(s.next(&mut again, 10, 0.5)),
        second,
        "the node that answered"
    );
}

#[test]
fn garbage_forged_foreign_and_replayed_answers_are_node_failures() {
    let mut s = session(5, SessionCache::default());
    let token = license(NOW + 100 * HOUR);
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    // Accept seq 10 first.
    let node = send(s.next(&mut round, 0, 0.5));
    let body = answer(&node_key(), "lic-1", "valid", None, 10);
    verdict(s.receive(&mut round, node, 1, Reply::Body(&body)));
    let kept = s.cache().clone();
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 2);
    let cases: [(&str, Vec<u8>); 4] = [
        ("garbage", b"<html>busy</html>".to_vec()),
        ("forged", answer(&stranger(), "lic-1", "valid", None, 11)),
        (
            "another license",
            answer(&node_key(), "lic-2", "valid", None, 12),
        ),
        (
            "replayed",
            answer(&node_key(), "lic-1", "invalid", Some("revoked"), 9),
        ),
    ];
    for (what, body) in cases {
        let node = send(s.next(&mut round, 3, 0.5));
        let got = s.receive(&mut round, node, 3, Reply::Body(&body));
        match (what, got) {
            ("garbage", Received::Failed)
            | ("forged", Received::Rejected(LeaseProblem::Unauthentic(_)))
            | ("another license", Received::Rejected(LeaseProblem::OtherLicense { .. }))
            | ("replayed", Received::Rejected(LeaseProblem::Replayed { .. })) => {}
            (what, got) => panic!("{what}: {got:?}"),
        }
    }
    assert_eq!(s.cache(), &kept, "nothing a failing node said was kept");
    let huge = vec![b' '; MAX_ANSWER_BYTES + 1];
    let node = send(s.next(&mut round, 4, 0.5));
    assert!(matches!(
        s.receive(&mut round, node, 4, Reply::Body(&huge)),
        Received::Failed
    ));
}

#[test]
fn a_signed_refusal_wins_over_the_local_verdict() {
    let mut s = session(1, SessionCache::default());
    let token = license(NOW + 100 * HOUR);
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let node = send(s.next(&mut round, 0, 0.5));
    let body = answer(&node_key(), "lic-1", "invalid", Some("revoked"), 10);
    let v = verdict(s.receive(&mut round, node, 1, Reply::Body(&body)));
    assert_eq!(
        (v.state(), v.reason()),
        (State::Invalid, Some(Reason::Revoked))
    );
}

/// Drives a check where every node fails, as a shell would; its verdict.
fn with_no_node(s: &mut Session, token: &str, now: u64) -> Verdict {
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(now), 0);
    let mut t = 0;
    for _ in 0..100 {
        match s.next(&mut round, t, 0.5) {
            Next::Send { node, timeout_ms } => {
                t += timeout_ms;
                s.receive(&mut round, node, t, Reply::Failed(Outcome::TimedOut));
            }
            Next::Wait { ms } => t += ms,
            Next::Done(v) => return *v,
        }
    }
    panic!("the check never ended")
}

#[test]
fn with_no_node_the_cached_lease_decides_offline() {
    let token = license(NOW + 100 * HOUR);
    // Never answered: nothing proves the license is still good.
    let mut fresh = session(2, SessionCache::default());
    let v = with_no_node(&mut fresh, &token, NOW);
    assert!(!v.is_usable(), "{v:?}");
    // Answered once: usable offline within the offline grace.
    let mut s = session(2, SessionCache::default());
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let node = send(s.next(&mut round, 0, 0.5));
    let body = answer(&node_key(), "lic-1", "valid", None, 10);
    verdict(s.receive(&mut round, node, 1, Reply::Body(&body)));
    let mut restarted = session(2, s.cache().clone());
    let v = with_no_node(&mut restarted, &token, NOW + HOUR);
    assert_eq!(v.state(), State::Offline, "{v:?}");
    // The clock set back before what a lease proved: refused.
    let v = with_no_node(&mut restarted, &token, NOW - 2 * HOUR);
    assert_eq!(v.reason(), Some(Reason::ClockRollback), "{v:?}");
}

#[test]
fn overrides_an_answer_carries_apply_online_and_offline() {
    let token = license(NOW - HOUR);
    let rescue = node_key()
        .sign_override(&object(json!({
            "iss": "on-call", "jti": "ovr-1", "iat": NOW - 5, "exp": NOW + 5 * HOUR,
            "scope": {"type": "license", "value": "lic-1"}, "effect": {"type": "valid"},
            "reason": "billing outage", "incident": "INC-1",
        })))
        .unwrap();
    let mut s = session(1, SessionCache::default());
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let node = send(s.next(&mut round, 0, 0.5));
    let body = answer_with(&node_key(), "lic-1", "override", None, 10, &[rescue]);
    let v = verdict(s.receive(&mut round, node, 1, Reply::Body(&body)));
    assert_eq!(v.state(), State::Override, "{v:?}");
    assert_eq!(s.cache().overrides.len(), 1);
    let v = with_no_node(&mut s, &token, NOW + 60);
    assert!(
        v.is_usable(),
        "offline, the cached override still applies: {v:?}"
    );
    assert_eq!(v.applied_override().map(|o| o.id.as_str()), Some("ovr-1"));
}

/// An answer that also carries `license` (a newer version held by the node).
fn answer_renewing(seq: u64, license: &str) -> Vec<u8> {
    let mut body: Value =
        serde_json::from_slice(&answer(&node_key(), "lic-1", "valid", None, seq)).unwrap();
    body["license"] = license.into();
    body.to_string().into_bytes()
}

fn license_version(exp: u64, ver: u64, jti: &str) -> String {
    node_key()
        .sign_license(&object(json!({
            "iss": "v", "sub": "acme", "aud": "app", "jti": jti,
            "iat": NOW - HOUR, "exp": exp, "entitlements": ["pro"], "ver": ver,
        })))
        .unwrap()
}

#[test]
fn a_newer_license_in_an_answer_replaces_the_held_one_and_is_kept() {
    let mut s = session(1, SessionCache::default());
    let old = license(NOW - HOUR); // expired: the renewal brings it back
    let renewed = license_version(NOW + 100 * HOUR, 2, "lic-1");
    let mut round = s.begin(old.as_bytes(), UnixTime::from_secs(NOW), 0);
    assert_eq!(round.license(), old);
    let node = send(s.next(&mut round, 0, 0.5));
    let v = verdict(s.receive(
        &mut round,
        node,
        1,
        Reply::Body(&answer_renewing(10, &renewed)),
    ));
    assert_eq!(v.state(), State::Valid, "{v:?}");
    assert!(round.renewed());
    assert_eq!(round.license(), renewed);
    assert_eq!(s.cache().license.as_deref(), Some(renewed.as_str()));
    // The next check, handed the old file again (a shell that could not write it), checks
    // the cached newer version; offline too.
    let mut next = s.begin(old.as_bytes(), UnixTime::from_secs(NOW + 10), 100);
    assert_eq!(next.license(), renewed);
    assert!(!next.renewed());
    let _ = send(s.next(&mut next, 100, 0.5));
    s.receive(&mut next, 0, 101, Reply::Failed(Outcome::Unreachable));
    let mut step = s.next(&mut next, 50_000, 0.5);
    while !matches!(step, Next::Done(_)) {
        if let Next::Send { node, .. } = step {
            s.receive(&mut next, node, 50_001, Reply::Failed(Outcome::Unreachable));
        }
        step = s.next(&mut next, 10_000_000, 0.5);
    }
    let Next::Done(offline) = step else {
        unreachable!()
    };
    assert_eq!(offline.state(), State::Offline, "{offline:?}");
    assert_eq!(offline.claims().unwrap().version(), 2);
}

#[test]
fn an_older_foreign_or_forged_license_in_an_answer_changes_nothing() {
    let held = license_version(NOW + HOUR, 5, "lic-1");
    let forged = stranger()
        .sign_license(&object(json!({
            "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-1",
            "iat": NOW - HOUR, "exp": NOW + 900 * HOUR, "entitlements": ["all"], "ver": 9,
        })))
        .unwrap();
    for (candidate, seq) in [
        (license_version(NOW + 100 * HOUR, 4, "lic-1"), 10),
        (license_version(NOW + 100 * HOUR, 5, "lic-1"), 11),
        (license_version(NOW + 100 * HOUR, 9, "lic-2"), 12),
        (forged, 13),
    ] {
        let mut s = session(1, SessionCache::default());
        let mut round = s.begin(held.as_bytes(), UnixTime::from_secs(NOW), 0);
        let node = send(s.next(&mut round, 0, 0.5));
        let v = verdict(s.receive(
            &mut round,
            node,
            1,
            Reply::Body(&answer_renewing(seq, &candidate)),
        ));
        assert_eq!(v.claims().unwrap().version(), 5);
        assert!(!round.renewed());
        assert!(round.renewal_problem().is_some());
        assert_eq!(round.license(), held);
        assert_eq!(s.cache().license, None);
    }
    // A cached "renewal" that is not one is ignored at the next check.
    let s = session(
        1,
        SessionCache {
            license: Some(license_version(NOW + 100 * HOUR, 4, "lic-1")),
            ..SessionCache::default()
        },
    );
    assert_eq!(
        s.begin(held.as_bytes(), UnixTime::from_secs(NOW), 0)
            .license(),
        held
    );
}

/// The key set after `node_key` leaked: marked compromised, no issued list; a fresh key signs.
fn keys_after_leak() -> KeySet {
    KeySet::from_keys([
        node_key()
            .public_key()
            .unwrap()
            .with_state(crate::KeyState::Compromised {
                since: UnixTime::from_secs(NOW - 60),
            }),
        fresh_key().public_key().unwrap(),
    ])
    .unwrap()
}

fn fresh_key() -> LicenseSigner {
    LicenseSigner::from_seed("fresh", &[33; 32])
}

fn session_with(keys: KeySet, cache: SessionCache) -> Session {
    Session::new(
        Nodes::new(1, ClientPolicy::default()),
        keys,
        Policy::new(),
        OfflinePolicy::default(),
        cache,
    )
}

#[test]
fn a_license_of_a_leaked_key_is_kept_while_a_node_vouches_for_it_and_refused_when_it_does_not() {
    let token = license(NOW + 100 * HOUR);
    // Locally, without the issued list: refused.
    let v = crate::verify(
        token.as_bytes(),
        &keys_after_leak(),
        &Policy::new(),
        UnixTime::from_secs(NOW),
    );
    assert_eq!(v.reason(), Some(Reason::KeyCompromised));
    // A node that holds the list vouches (a lease from the fresh key): usable.
    let mut s = session_with(keys_after_leak(), SessionCache::default());
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let node = send(s.next(&mut round, 0, 0.5));
    let body = answer(&fresh_key(), "lic-1", "valid", None, 10);
    let v = verdict(s.receive(&mut round, node, 1, Reply::Body(&body)));
    assert_eq!(v.state(), State::Valid, "{v:?}");
    // Offline afterwards: the cached lease carries the grace as before the leak.
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW + 60), 100);
    let node = send(s.next(&mut round, 100, 0.5));
    s.receive(&mut round, node, 101, Reply::Failed(Outcome::Unreachable));
    let mut step = s.next(&mut round, 1_000_000, 0.5);
    while !matches!(step, Next::Done(_)) {
        if let Next::Send { node, .. } = step {
            s.receive(
                &mut round,
                node,
                1_000_001,
                Reply::Failed(Outcome::Unreachable),
            );
        }
        step = s.next(&mut round, 10_000_000, 0.5);
    }
    let Next::Done(offline) = step else {
        unreachable!()
    };
    assert_eq!(offline.state(), State::Offline, "{offline:?}");
    // A node refuses it (a forgery, or simply not on the list): refused, never vouched.
    let mut s = session_with(keys_after_leak(), SessionCache::default());
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let node = send(s.next(&mut round, 0, 0.5));
    let body = answer(
        &fresh_key(),
        "lic-1",
        "invalid",
        Some("key_compromised"),
        10,
    );
    let v = verdict(s.receive(&mut round, node, 1, Reply::Body(&body)));
    assert_eq!(v.reason(), Some(Reason::KeyCompromised));
    // A lease the leaked key signed after the mark vouches for nothing: a node failure.
    let mut s = session_with(keys_after_leak(), SessionCache::default());
    let mut round = s.begin(token.as_bytes(), UnixTime::from_secs(NOW), 0);
    let node = send(s.next(&mut round, 0, 0.5));
    let body = answer(&node_key(), "lic-1", "valid", None, 10);
    assert!(matches!(
        s.receive(&mut round, node, 1, Reply::Body(&body)),
        Received::Rejected(_)
    ));
}
