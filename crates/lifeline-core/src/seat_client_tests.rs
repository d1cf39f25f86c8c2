//! The seat client: which answers it trusts, what it sends, when it renews, and where the
//! machine stands online and through an outage.

use serde_json::json;

use super::*;
use crate::seats::{SeatTerms, seat_lease_claims};
use crate::sign::LicenseSigner;
use crate::{MAX_FINGERPRINT_CHARS, fingerprint_ok, machine_fingerprint};

const NOW: u64 = 1_800_000_000;

fn signer() -> LicenseSigner {
    LicenseSigner::from_seed("srv", &[31; 32])
}

fn keys() -> KeySet {
    KeySet::from_keys([signer().public_key().unwrap()]).unwrap()
}

/// A node's answer: a seat lease for `license`/`fingerprint` signed by `by`.
fn answer_by(
    by: &LicenseSigner,
    license: &str,
    fingerprint: &str,
    state: SeatState,
    reason: Option<SeatRefusal>,
    seq: u64,
    exp: u64,
) -> Vec<u8> {
    let fph = fingerprint_hash(license, fingerprint);
    let claims = seat_lease_claims(&SeatTerms {
        issuer: "node",
        license_id: license,
        seat_id: (state != SeatState::Refused).then_some("seat-1"),
        fingerprint_hash: &fph,
        state,
        reason,
        now: UnixTime::from_secs(NOW),
        expires_at: UnixTime::from_secs(exp),
        seq,
        in_use: 1,
        max: 2,
    });
    let lease = by.sign_seat_lease(&claims).unwrap();
    json!({ "lease": lease, "state": state.as_str() })
        .to_string()
        .into_bytes()
}

fn held(seq: u64) -> Vec<u8> {
    answer_by(&signer(), "lic", "m", SeatState::Held, None, seq, NOW + 120)
}

fn keeper() -> SeatKeeper {
    SeatKeeper::new("lic", "m", keys(), &SeatCache::default())
}

#[test]
fn a_new_machine_activates_then_heartbeats_its_seat() {
    let mut k = keeper();
    assert_eq!(k.call(), SeatCall::Activate);
    assert_eq!(k.standing(UnixTime::from_secs(NOW), 3600), Standing::Lost);
    let body = k.body(&SeatCall::Activate, "TOKEN", Some("desk"));
    assert_eq!(
        body,
        json!({"token": "TOKEN", "fingerprint": "m", "name": "desk"})
    );
    k.receive(&held(1)).unwrap();
    assert_eq!(k.call(), SeatCall::Heartbeat("seat-1".into()));
    assert_eq!(k.call().path(), "/api/v1/seats/seat-1/heartbeat");
    assert_eq!(
        k.standing(UnixTime::from_secs(NOW + 10), 3600),
        Standing::Held {
            seat_id: "seat-1".into(),
            until: UnixTime::from_secs(NOW + 120)
        }
    );
    let (path, body) = k.release("TOKEN").unwrap();
    assert_eq!(path, "/api/v1/seats/seat-1");
    assert_eq!(body, json!({"token": "TOKEN", "fingerprint": "m"}));
}

#[test]
fn renewal_falls_between_half_and_three_quarters_of_the_lease() {
    let mut k = keeper();
    assert_eq!(k.renew_at(0.5), None);
    k.receive(&held(1)).unwrap();
    assert_eq!(k.renew_at(0.0), Some(UnixTime::from_secs(NOW + 60)));
    assert_eq!(k.renew_at(1.0), Some(UnixTime::from_secs(NOW + 90)));
    assert_eq!(
        k.renew_at(7.0),
        Some(UnixTime::from_secs(NOW + 90)),
        "jitter is clamped"
    );
}

#[test]
fn through_an_outage_the_seat_holds_on_its_lease_then_the_offline_grace() {
    let mut k = keeper();
    k.receive(&held(1)).unwrap();
    let at = |s| k.standing(UnixTime::from_secs(s), 3600);
    assert!(matches!(at(NOW + 119), Standing::Held { .. }));
    assert_eq!(
        at(NOW + 120),
        Standing::Offline {
            seat_id: "seat-1".into(),
            until: UnixTime::from_secs(NOW + 3600)
        }
    );
    assert!(at(NOW + 3599).is_usable());
    assert_eq!(at(NOW + 3600), Standing::Lost, "the offline grace ran out");
    assert!(
        at(NOW - 10).is_usable(),
        "a clock a little behind the node's (skew)"
    );
    assert_eq!(
        at(NOW - 1000),
        Standing::Lost,
        "a clock set back before the lease proves nothing"
    );
    // A product that fails closed has no offline grace.
    assert_eq!(
        k.standing(UnixTime::from_secs(NOW + 120), 0),
        Standing::Lost
    );
}

#[test]
fn refusals_are_kept_and_the_next_call_activates_again() {
    let mut k = keeper();
    k.receive(&held(1)).unwrap();
    let expired = answer_by(
        &signer(),
        "lic",
        "m",
        SeatState::Refused,
        Some(SeatRefusal::SeatExpired),
        2,
        NOW,
    );
    k.receive(&expired).unwrap();
    assert_eq!(
        k.standing(UnixTime::from_secs(NOW), 3600),
        Standing::Refused {
            reason: SeatRefusal::SeatExpired
        }
    );
    assert!(!k.standing(UnixTime::from_secs(NOW), 3600).is_usable());
    assert_eq!(k.call(), SeatCall::Activate);
    assert_eq!(k.renew_at(0.5), None);
}

/// What a refused answer's problem must be.
type Expect = fn(&SeatProblem) -> bool;

#[test]
fn only_authentic_fresh_leases_for_this_machine_count() {
    let mut k = keeper();
    k.receive(&held(5)).unwrap();
    let before = k.cache();
    let stranger = LicenseSigner::from_seed("srv", &[77; 32]);
    let cases: [(Vec<u8>, Expect); 6] = [
        (b"not json".to_vec(), |p| {
            matches!(p, SeatProblem::NotAnAnswer(_))
        }),
        (br#"{"state":"held"}"#.to_vec(), |p| {
            matches!(p, SeatProblem::NotAnAnswer(_))
        }),
        (
            answer_by(&stranger, "lic", "m", SeatState::Held, None, 9, NOW + 120),
            |p| matches!(p, SeatProblem::Unauthentic(_)),
        ),
        (
            answer_by(
                &signer(),
                "lic",
                "other",
                SeatState::Held,
                None,
                9,
                NOW + 120,
            ),
            |p| *p == SeatProblem::NotMine,
        ),
        (
            answer_by(&signer(), "lic-2", "m", SeatState::Held, None, 9, NOW + 120),
            |p| *p == SeatProblem::NotMine,
        ),
        (held(5), |p| {
            *p == SeatProblem::Replayed {
                seq: 5,
                last_seq: 5,
            }
        }),
    ];
    for (body, expected) in cases {
        let problem = k.receive(&body).unwrap_err();
        assert!(expected(&problem), "{problem}");
        assert_eq!(k.cache(), before, "a refused answer changes nothing");
    }
}

#[test]
fn the_cache_restores_a_held_seat_and_drops_what_is_not_this_machines() {
    let mut k = keeper();
    k.receive(&held(3)).unwrap();
    let cache = k.cache();
    let again = SeatKeeper::new("lic", "m", keys(), &cache);
    assert_eq!(again.seat_id(), Some("seat-1"));
    assert_eq!(again.call(), SeatCall::Heartbeat("seat-1".into()));
    // Another machine, another license, a garbled cache, other keys: nothing trusted.
    for k in [
        SeatKeeper::new("lic", "other", keys(), &cache),
        SeatKeeper::new("lic-2", "m", keys(), &cache),
        SeatKeeper::new(
            "lic",
            "m",
            keys(),
            &SeatCache {
                lease: Some("x.y.z".into()),
            },
        ),
        SeatKeeper::new(
            "lic",
            "m",
            KeySet::from_keys([LicenseSigner::from_seed("srv", &[1; 32])
                .public_key()
                .unwrap()])
            .unwrap(),
            &cache,
        ),
    ] {
        assert_eq!(k.seat_id(), None);
        assert_eq!(k.call(), SeatCall::Activate);
    }
    let mut released = again;
    released.forget();
    assert_eq!(released.cache(), SeatCache::default());
    assert_eq!(released.release("TOKEN"), None);
}

#[test]
fn a_keeper_for_a_license_token_reads_its_id_and_offline_grace() {
    let token = |extra: serde_json::Value| {
        let mut claims = json!({"iss": "v", "sub": "acme", "aud": "app", "jti": "lic", "iat": NOW, "exp": NOW + 3600, "entitlements": []});
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        signer().sign_license(claims.as_object().unwrap()).unwrap()
    };
    let mut k =
        SeatKeeper::for_license(&token(json!({})), "m", keys(), &SeatCache::default()).unwrap();
    assert_eq!(k.offline_grace_s(3600), 3600, "the default");
    k.receive(&held(1)).unwrap();
    assert_eq!(
        k.seat_id(),
        Some("seat-1"),
        "the license id was read from the token"
    );
    let k = SeatKeeper::for_license(
        &token(json!({"offline_grace_s": 60})),
        "m",
        keys(),
        &SeatCache::default(),
    )
    .unwrap();
    assert_eq!(k.offline_grace_s(3600), 60);
    assert!(SeatKeeper::for_license("garbage", "m", keys(), &SeatCache::default()).is_err());
}

#[test]
fn fingerprints_are_checked_and_machine_fingerprints_are_stable() {
    assert!(fingerprint_ok("m") && fingerprint_ok(&"x".repeat(MAX_FINGERPRINT_CHARS)));
    assert!(!fingerprint_ok("") && !fingerprint_ok(&"x".repeat(MAX_FINGERPRINT_CHARS + 1)));
    let a = machine_fingerprint("0123abcd\n", "host");
    assert_eq!(
        a,
        machine_fingerprint("0123abcd", "host"),
        "trailing newlines of files ignored"
    );
    assert_ne!(a, machine_fingerprint("0123abcd", "other"));
    assert_eq!(a.len(), 64);
}

#[test]
fn a_seat_answer_carrying_a_newer_license_is_checked_like_validates() {
    let license = |by: &LicenseSigner, ver: u64, jti: &str| {
        by.sign_license(
            json!({"iss": "v", "sub": "acme", "aud": "app", "jti": jti, "iat": NOW - 60,
                   "exp": NOW + 3600, "entitlements": [], "ver": ver, "seats": 2})
            .as_object()
            .unwrap(),
        )
        .unwrap()
    };
    let held = license(&signer(), 1, "lic");
    let with = |candidate: &str| {
        let mut body: serde_json::Value = serde_json::from_slice(&held_answer()).unwrap();
        body["license"] = candidate.into();
        body.to_string().into_bytes()
    };
    let k = keeper();
    let now = UnixTime::from_secs(NOW);
    let policy = crate::Policy::new();
    assert!(
        k.renewal_in(&held_answer(), &held, &policy, now).is_none(),
        "none carried"
    );
    let newer = license(&signer(), 2, "lic");
    let (token, judged) = k.renewal_in(&with(&newer), &held, &policy, now).unwrap();
    assert_eq!(
        (token.as_str(), judged.unwrap().claims().unwrap().version()),
        (newer.as_str(), 2)
    );
    for refused in [
        license(&signer(), 1, "lic"),
        license(&signer(), 5, "other"),
        license(&LicenseSigner::from_seed("srv", &[9; 32]), 5, "lic"),
    ] {
        let (_, judged) = k.renewal_in(&with(&refused), &held, &policy, now).unwrap();
        assert!(judged.is_err(), "{refused}");
    }
}

fn held_answer() -> Vec<u8> {
    held(1)
}
