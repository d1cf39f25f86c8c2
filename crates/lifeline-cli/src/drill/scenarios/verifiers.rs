//! Drills whose fault is on the verifiers' side: their files, their clock, what they are sent.

use std::time::{Duration, Instant};

use lifeline_api::Faults;
use serde_json::Value;

use super::watch::{
    between, count, detect, lockouts, partition, sleep_ms, sleep_until, wait_incident,
};
use crate::drill::lab::{Lab, NODES};
use crate::drill::{Record, unix_now};
use crate::failure::CliError;

pub(super) fn corrupted_license_file(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let good = std::fs::read_to_string(&lab.license_path)
        .map_err(|e| CliError::new(format!("drill: {e}")))?;
    let mut flipped = good.clone().into_bytes();
    if let Some(b) = flipped.last_mut() {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    let variants: [(&str, Vec<u8>); 4] = [
        (
            "truncated",
            good.as_bytes()
                .get(..good.len() / 2)
                .unwrap_or_default()
                .to_vec(),
        ),
        ("last signature character changed", flipped),
        (
            "random bytes",
            (0..=255u8).rev().cycle().take(700).collect(),
        ),
        ("empty", Vec::new()),
    ];
    let since = unix_now().saturating_sub(1);
    let t = Instant::now();
    let bad = lab.dir().join("corrupted.jwt");
    let token = "--telemetry-token=".to_owned() + lab.token();
    let telemetry = [
        "--telemetry".to_owned(),
        "--service".to_owned(),
        "drill-app".to_owned(),
        token,
        "--count".to_owned(),
        "8".to_owned(),
        "--every-ms".to_owned(),
        "10".to_owned(),
    ];
    let mut refused = Vec::new();
    for (what, bytes) in &variants {
        std::fs::write(&bad, bytes).map_err(|e| CliError::new(format!("drill: {e}")))?;
        let (seen, code) = lab.check_once(&bad, &telemetry)?;
        rec.expect(
            &format!("{what}: refused with a reason, exit 1, no crash"),
            seen.state == "invalid" && seen.reason.is_some() && code == Some(1),
            format!(
                "state {}, reason {}, exit {code:?}",
                seen.state,
                seen.reason.as_deref().unwrap_or("-")
            ),
        );
        refused.push(seen);
    }
    rec.verdicts(&refused, |s| s.state == "invalid");
    // The verifiers' telemetry carries the refusals to the servers: a reason surge.
    let found = wait_incident(lab, "reason_surge", since, t, Duration::from_secs(15));
    detect(rec, "reason_surge", found.as_ref());
    rec.expect(
        "the refusals, reported by the verifier's telemetry, open a reason_surge incident",
        found.is_some(),
        found.map_or("none within 15 s".into(), |(_, d)| {
            format!("opened after {} ms", d.as_millis())
        }),
    );
    let restored = Instant::now();
    let (after, code) = lab.check_once(&lab.license_path.clone(), &[])?;
    rec.recovered(restored.elapsed());
    rec.verdicts(std::slice::from_ref(&after), |_| false);
    rec.expect(
        "the intact file is valid again",
        after.state == "valid" && code == Some(0),
        format!("state {}, exit {code:?}", after.state),
    );
    Ok(())
}

pub(super) fn corrupted_lease_cache(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let license = lab.license_path.clone();
    let (first, _) = lab.check_once(&license, &[])?;
    let cache: Value = std::fs::read(&lab.cache_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| CliError::new("drill: the verifier wrote no lease cache"))?;
    let lease = cache.get("lease").and_then(Value::as_str).unwrap_or("");
    let mut tampered = cache.clone();
    let mut altered = lease.to_owned();
    if let Some(last) = altered.pop() {
        altered.push(if last == 'A' { 'B' } else { 'A' });
    }
    if let Some(obj) = tampered.as_object_mut() {
        obj.insert("lease".into(), Value::String(altered.clone()));
    }
    let tampered = serde_json::to_vec(&tampered).unwrap_or_default();
    let mut seen = vec![first];
    let t = Instant::now();
    for (what, bytes) in [
        ("garbage", b"\x00\xffnot json{".to_vec()),
        ("a tampered lease", tampered.clone()),
    ] {
        std::fs::write(&lab.cache_path, &bytes)
            .map_err(|e| CliError::new(format!("drill: {e}")))?;
        let (verdict, _) = lab.check_once(&license, &[])?;
        let rewritten = std::fs::read(&lab.cache_path).unwrap_or_default();
        let clean = serde_json::from_slice::<Value>(&rewritten)
            .ok()
            .and_then(|v| v.get("lease").and_then(Value::as_str).map(str::to_owned))
            .is_some_and(|l| l != altered);
        rec.expect(
            &format!("{what} in the cache: discarded, a fresh lease fetched, valid"),
            verdict.state == "valid" && clean,
            format!(
                "state {}, cache rewritten with a good lease: {clean}",
                verdict.state
            ),
        );
        seen.push(verdict);
    }
    rec.recovered(t.elapsed());
    rec.verdicts(&seen, |_| false);
    // With no node reachable, a tampered lease must not buy offline use.
    std::fs::write(&lab.cache_path, &tampered).map_err(|e| CliError::new(format!("drill: {e}")))?;
    for i in 0..NODES {
        lab.inject(Some(i), partition(), Some(4_000))?;
    }
    let (offline, _) = lab.check_once(&license, &[])?;
    rec.verdicts(std::slice::from_ref(&offline), |s| {
        s.reason.as_deref() == Some("offline_grace_exhausted")
    });
    rec.expect(
        "nodes down and a tampered cached lease: no usable verdict from it",
        !offline.usable(),
        format!(
            "state {}, reason {}",
            offline.state,
            offline.reason.as_deref().unwrap_or("-")
        ),
    );
    rec.note("a corrupted cache is a local fault: the verifier says so on stderr; the servers see nothing to detect");
    sleep_ms(4_200);
    Ok(())
}

pub(super) fn clock_skewed_ahead(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_000);
    let skew = Faults {
        clock_offset_s: 3_600,
        ..Faults::default()
    };
    lab.inject(Some(0), skew.clone(), None)?;
    sleep_ms(3_000);
    // Node 0 (the verifier's first choice) unreachable: the others answer.
    lab.inject(
        Some(0),
        Faults {
            partition: true,
            ..skew
        },
        Some(3_000),
    )?;
    let others = Instant::now();
    sleep_ms(3_500);
    let others_end = Instant::now();
    for i in 0..NODES {
        lab.inject(Some(i), partition(), Some(2_500))?;
    }
    sleep_ms(3_000);
    let back = Instant::now();
    lab.inject(Some(0), Faults::default(), None)?;
    let online = stream.wait_for(back, Duration::from_secs(15), |s| s.state == "valid");
    if let Some(at) = online {
        rec.recovered(at - back);
    }
    let replays = stream.stderr_count("replayed");
    let seen = stream.stop();
    rec.verdicts(&seen, |_| false);
    lockouts(rec);
    let by_others = between(&seen, others, others_end);
    rec.expect(
        "after the skewed node answered, the others' answers are not refused as replays",
        replays == 0 && !by_others.is_empty() && by_others.iter().all(|s| s.state == "valid"),
        format!(
            "{replays} answers refused as replayed; {} of {} checks valid while node 0 was away",
            count(&by_others, |s| s.state == "valid"),
            by_others.len()
        ),
    );
    let rollbacks = count(&seen, |s| s.reason.as_deref() == Some("clock_rollback"));
    rec.expect(
        "offline verdicts do not take the verifier's correct clock for a rollback",
        rollbacks == 0 && count(&seen, |s| s.state == "offline") > 0,
        format!(
            "{rollbacks} clock_rollback refusals, {} offline verdicts",
            count(&seen, |s| s.state == "offline")
        ),
    );
    rec.note("no rule compares the nodes' clocks: the servers do not detect a skewed node; the verifiers absorb it");
    Ok(())
}

pub(super) fn clock_set_back(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let license = lab.license_path.clone();
    let back = ["--clock-offset-s=-86400".to_owned()];
    let (first, _) = lab.check_once(&license, &[])?;
    for i in 0..NODES {
        lab.inject(Some(i), partition(), Some(4_000))?;
    }
    let t = Instant::now();
    let (set_back, code) = lab.check_once(&license, &back)?;
    let (right, _) = lab.check_once(&license, &[])?;
    sleep_until(t + Duration::from_millis(4_300));
    let healed = Instant::now();
    let (online, _) = lab.check_once(&license, &back)?;
    rec.recovered(healed.elapsed());
    rec.verdicts(&[first, right.clone(), online.clone()], |_| false);
    rec.verdicts(std::slice::from_ref(&set_back), |s| {
        s.reason.as_deref() == Some("clock_rollback")
    });
    rec.expect(
        "offline, a clock set back a day is refused as clock_rollback (exit 1)",
        set_back.reason.as_deref() == Some("clock_rollback") && code == Some(1),
        format!(
            "state {}, reason {}, exit {code:?}",
            set_back.state,
            set_back.reason.as_deref().unwrap_or("-")
        ),
    );
    rec.expect(
        "offline, with the clock right again, the cached lease works",
        right.state == "offline",
        format!("state {}", right.state),
    );
    rec.expect(
        "online, a signed answer wins even with the clock still set back",
        online.state == "valid",
        format!("state {}", online.state),
    );
    lockouts(rec);
    rec.note("the verifier's clock is local: the servers have nothing to detect");
    Ok(())
}

pub(super) fn replayed_old_lease(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_500);
    let replay = Faults {
        replay_answers: true,
        ..Faults::default()
    };
    lab.inject(Some(0), replay, None)?;
    sleep_ms(2_000);
    let revoked = Instant::now();
    lab.revoke()?;
    let applied = stream.wait_for(revoked, Duration::from_secs(10), |s| {
        s.reason.as_deref() == Some("revoked")
    });
    if let Some(at) = applied {
        rec.recovered(at - revoked);
    }
    sleep_ms(1_500);
    let replays = stream.stderr_count("replayed");
    let seen = stream.stop();
    lab.inject(Some(0), Faults::default(), None)?;
    rec.verdicts(&seen, |s| s.reason.as_deref() == Some("revoked"));
    rec.expect(
        "the replayed answers are refused (older than one already seen)",
        replays > 0,
        format!("{replays} replayed answers refused"),
    );
    lockouts(rec);
    rec.expect(
        "the revocation reaches the verifier despite the replaying node, within 3 s",
        applied.is_some_and(|at| at - revoked <= Duration::from_secs(3)),
        applied.map_or("never seen".into(), |at| {
            format!("{} ms after the revocation", (at - revoked).as_millis())
        }),
    );
    let after = applied.map_or(0, |at| count(&seen, |s| s.at > at && s.usable()));
    rec.expect(
        "once revoked, no usable verdict (the old \"valid\" answer is not taken)",
        applied.is_some() && after == 0,
        format!("{after} usable verdicts after the revocation was seen"),
    );
    rec.note("a replaying node (or a man in the middle) is invisible to the servers: only the verifiers see it");
    Ok(())
}

pub(super) fn revoked_during_outage(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_500);
    let (since, t) = (unix_now().saturating_sub(1), Instant::now());
    for i in 0..NODES {
        lab.inject(Some(i), partition(), Some(6_000))?;
    }
    sleep_ms(1_500);
    lab.revoke()?;
    let found = wait_incident(lab, "node_unreachable", since, t, Duration::from_secs(5));
    detect(rec, "node_unreachable", found.as_ref());
    sleep_until(t + Duration::from_millis(6_000));
    let healed = Instant::now();
    let applied = stream.wait_for(healed, Duration::from_secs(15), |s| {
        s.reason.as_deref() == Some("revoked")
    });
    if let Some(at) = applied {
        rec.recovered(at - healed);
    }
    sleep_ms(1_000);
    let seen = stream.stop();
    rec.verdicts(&seen, |s| s.reason.as_deref() == Some("revoked"));
    let offline = count(&between(&seen, t, healed), |s| s.state == "offline");
    rec.expect(
        "during the outage verifiers keep working offline (they cannot know yet)",
        offline > 0,
        format!("{offline} offline verdicts"),
    );
    lockouts(rec);
    rec.expect(
        "the revocation applies at the first online check after the outage (within the breaker's 10 s)",
        applied.is_some_and(|at| at - healed <= Duration::from_secs(11)),
        applied.map_or("never seen".into(), |at| {
            format!("{} ms after the nodes' return", (at - healed).as_millis())
        }),
    );
    let after = applied.map_or(0, |at| count(&seen, |s| s.at > at && s.usable()));
    rec.expect(
        "once revoked, no usable verdict",
        applied.is_some() && after == 0,
        format!("{after} usable verdicts after it"),
    );
    Ok(())
}
