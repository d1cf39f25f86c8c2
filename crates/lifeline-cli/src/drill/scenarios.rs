//! The drills: each injects one fault into a fresh lab, measures detection (an incident
//! opened, or readiness lost), what the verifiers saw and the recovery, and states its
//! expectations. Faults on the servers go through `PUT /api/v1/faults`; faults on the
//! verifier's side (its files, its clock) are made by the drill itself.

use std::time::{Duration, Instant};

use lifeline_api::{FaultRequest, Faults};
use serde_json::Value;

use super::lab::{DEADLINE_MS, EVERY_MS, Lab, NODES, Seen};
use super::{Record, unix_now};
use crate::failure::CliError;

/// A drill.
pub(crate) struct Drill {
    /// Kebab-case name.
    pub(crate) name: &'static str,
    /// One line: what it rehearses.
    pub(crate) about: &'static str,
    /// The fault, for the report.
    pub(crate) fault: &'static str,
    pub(crate) run: fn(&mut Lab, &mut Record) -> Result<(), CliError>,
}

/// Every drill, in `drill list` order.
pub(crate) const DRILLS: &[Drill] = &[
    Drill {
        name: "expired-signing-key",
        about: "the active signing key passes its maximum age; rotation fixes it",
        fault: "the active signing key's start moved back past the maximum key age (365 days)",
        run: expired_signing_key,
    },
    Drill {
        name: "key-rotated-mid-traffic",
        about: "the signing key is rotated while verifiers check",
        fault: "POST /api/v1/keys/rotate under a steady stream of checks",
        run: key_rotated_mid_traffic,
    },
    Drill {
        name: "one-node-down",
        about: "one of three validation nodes is unreachable for 8 s",
        fault: "partition of node 0 for 8 s (connections dropped, no heartbeat)",
        run: one_node_down,
    },
    Drill {
        name: "all-nodes-down",
        about: "every validation node is unreachable for 7 s",
        fault: "partition of all three validation nodes for 7 s",
        run: all_nodes_down,
    },
    Drill {
        name: "node-hanging",
        about: "one node answers validate only after 2.5 s",
        fault: "node 0 stalls every validate for 2.5 s, for 8 s",
        run: node_hanging,
    },
    Drill {
        name: "corrupted-license-file",
        about: "the verifier's license file is truncated, altered, garbage or empty",
        fault: "the license file corrupted four ways",
        run: corrupted_license_file,
    },
    Drill {
        name: "corrupted-lease-cache",
        about: "the verifier's lease cache is garbage or holds a tampered lease",
        fault: "the lease cache file corrupted, with nodes up and with nodes down",
        run: corrupted_lease_cache,
    },
    Drill {
        name: "clock-skewed-ahead",
        about: "one node's clock runs an hour ahead",
        fault: "node 0's clock +3600 s, then node 0 and later every node unreachable",
        run: clock_skewed_ahead,
    },
    Drill {
        name: "clock-set-back",
        about: "the verifier's clock is set back a day",
        fault: "the verifier's clock -86400 s, offline and online",
        run: clock_set_back,
    },
    Drill {
        name: "replayed-old-lease",
        about: "one node replays an old signed answer, then the license is revoked",
        fault: "node 0 answers every validate with its first answer (an old lease)",
        run: replayed_old_lease,
    },
    Drill {
        name: "revoked-during-outage",
        about: "a license is revoked while every validation node is unreachable",
        fault: "partition of all validation nodes for 6 s; revocation on the admin node meanwhile",
        run: revoked_during_outage,
    },
    Drill {
        name: "store-unavailable",
        about: "the database is locked for 8 s",
        fault: "an exclusive lock on the SQLite store for 8 s",
        run: store_unavailable,
    },
];

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

fn partition() -> Faults {
    Faults {
        partition: true,
        ..Faults::default()
    }
}

/// Polls for an incident of `rule` opened since `since`; its id and the time since `from`.
fn wait_incident(
    lab: &Lab,
    rule: &str,
    since: u64,
    from: Instant,
    within: Duration,
) -> Option<(String, Duration)> {
    while from.elapsed() < within {
        if let Some(id) = lab.incident(rule, since) {
            return Some((id, from.elapsed()));
        }
        sleep_ms(200);
    }
    None
}

/// Polls until incident `id` resolves; the time since `from`.
fn wait_resolved(lab: &Lab, id: &str, from: Instant, within: Duration) -> Option<Duration> {
    while from.elapsed() < within {
        if lab.resolved(id) {
            return Some(from.elapsed());
        }
        sleep_ms(200);
    }
    None
}

fn detect(rec: &mut Record, rule: &str, found: Option<&(String, Duration)>) -> bool {
    if let Some((_, after)) = found {
        rec.detected(&format!("incident {rule}"), *after);
    }
    found.is_some()
}

fn between(seen: &[Seen], from: Instant, to: Instant) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.at >= from && s.at <= to)
        .cloned()
        .collect()
}

fn count(seen: &[Seen], f: impl Fn(&Seen) -> bool) -> usize {
    seen.iter().filter(|s| f(s)).count()
}

fn lockouts(rec: &mut Record) {
    let n = rec.lockouts();
    rec.expect(
        "no verifier is locked out",
        n == 0,
        format!("{n} checks refused a license that should have worked"),
    );
}

fn expired_signing_key(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_000);
    let (since, t) = (unix_now().saturating_sub(1), Instant::now());
    lab.inject_request(
        None,
        FaultRequest {
            age_signing_key_s: lifeline_server::KEY_MAX_AGE_SECS + 86_400,
            ..FaultRequest::default()
        },
    )?;
    let found = wait_incident(lab, "signing_key_expiry", since, t, Duration::from_secs(15));
    let detected = detect(rec, "signing_key_expiry", found.as_ref());
    // The operator's fix: rotate, then deployments refresh their key set.
    let fixed = Instant::now();
    lab.rotate_key()?;
    let resolved = found
        .as_ref()
        .and_then(|(id, _)| wait_resolved(lab, id, fixed, Duration::from_secs(20)));
    if let Some(d) = resolved {
        rec.recovered(d);
    }
    let before = stream.stop();
    lab.refresh_keys()?;
    let (after, _) = lab.check_once(&lab.license_path.clone(), &[])?;
    rec.verdicts(&before, |_| false);
    rec.verdicts(std::slice::from_ref(&after), |_| false);
    rec.expect(
        "an overdue signing key opens a signing_key_expiry incident",
        detected,
        found.map_or("no incident within 15 s".into(), |(_, d)| {
            format!("opened after {} ms", d.as_millis())
        }),
    );
    lockouts(rec);
    rec.expect(
        "rotating the key resolves the incident",
        resolved.is_some(),
        resolved.map_or("still open 20 s after the rotation".into(), |d| {
            format!("resolved {} ms after the rotation", d.as_millis())
        }),
    );
    rec.expect(
        "licenses signed before the rotation stay valid",
        after.state == "valid",
        format!("verdict after the rotation: {}", after.state),
    );
    Ok(())
}

fn key_rotated_mid_traffic(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_000);
    let since = unix_now().saturating_sub(1);
    lab.rotate_key()?;
    // Nodes pick the new key up within their key refresh (5 s); leases then carry a key this
    // verifier's key set does not have yet.
    sleep_ms(7_000);
    let stale_keys = stream.stderr_count("does not verify");
    let seen = stream.stop();
    let refreshed = Instant::now();
    lab.refresh_keys()?;
    let (after, _) = lab.check_once(&lab.license_path.clone(), &[])?;
    rec.recovered(refreshed.elapsed());
    rec.verdicts(&seen, |_| false);
    rec.verdicts(std::slice::from_ref(&after), |_| false);
    lockouts(rec);
    let offline = count(&seen, |s| s.state == "offline");
    rec.expect(
        "while its key set is stale, a verifier keeps working on its cached lease",
        count(&seen, Seen::usable) == seen.len(),
        format!("{offline} offline verdicts, {stale_keys} answers with a lease signed by the new key refused"),
    );
    rec.expect(
        "with the refreshed key set, the license (signed by the retired key) is valid online",
        after.state == "valid",
        format!("verdict: {}", after.state),
    );
    let opened = lab.incidents_since(since);
    rec.expect(
        "a rotation opens no incident",
        opened.is_empty(),
        format!("incidents: {opened:?}"),
    );
    rec.note("a verifier that pins its key set answers offline until it refreshes it: refresh keys.json on a schedule shorter than the offline grace");
    Ok(())
}

fn one_node_down(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_000);
    let (since, t) = (unix_now().saturating_sub(1), Instant::now());
    lab.inject(Some(0), partition(), Some(8_000))?;
    let found = wait_incident(lab, "node_unreachable", since, t, Duration::from_secs(8));
    let detected = detect(rec, "node_unreachable", found.as_ref());
    sleep_until(t + Duration::from_millis(8_000));
    let healed = Instant::now();
    let resolved = found
        .as_ref()
        .and_then(|(id, _)| wait_resolved(lab, id, healed, Duration::from_secs(20)));
    if let Some(d) = resolved {
        rec.recovered(d);
    }
    let seen = stream.stop();
    rec.verdicts(&seen, |_| false);
    let during = between(&seen, t, healed);
    let online = count(&during, |s| s.state == "valid");
    rec.expect(
        "the node's silence opens a node_unreachable incident",
        detected,
        found.map_or("none within 8 s".into(), |(_, d)| {
            format!("opened after {} ms", d.as_millis())
        }),
    );
    lockouts(rec);
    rec.expect(
        "the other nodes answer every check meanwhile (no offline fallback)",
        !during.is_empty() && online == during.len(),
        format!("{online} of {} checks answered online", during.len()),
    );
    rec.expect(
        "the incident resolves once the node is back",
        resolved.is_some(),
        resolved.map_or("still open 20 s later".into(), |d| {
            format!("resolved {} ms after the node's return", d.as_millis())
        }),
    );
    Ok(())
}

fn all_nodes_down(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_500);
    let (since, t) = (unix_now().saturating_sub(1), Instant::now());
    for i in 0..NODES {
        lab.inject(Some(i), partition(), Some(7_000))?;
    }
    let found = wait_incident(lab, "node_unreachable", since, t, Duration::from_secs(7));
    let detected = detect(rec, "node_unreachable", found.as_ref());
    sleep_until(t + Duration::from_millis(7_000));
    let healed = Instant::now();
    let back = stream.wait_for(healed, Duration::from_secs(15), |s| s.state == "valid");
    if let Some(at) = back {
        rec.recovered(at - healed);
    }
    sleep_ms(500);
    let seen = stream.stop();
    rec.verdicts(&seen, |_| false);
    let offline = count(&between(&seen, t, healed), |s| s.state == "offline");
    rec.expect(
        "the admin node sees the validation nodes' heartbeats stop (node_unreachable)",
        detected,
        found.map_or("none within 7 s".into(), |(_, d)| {
            format!("opened after {} ms", d.as_millis())
        }),
    );
    rec.expect(
        "verifiers fall back to their cached signed lease (offline, usable)",
        offline > 0,
        format!("{offline} offline verdicts during the outage"),
    );
    lockouts(rec);
    rec.expect(
        "verifiers are back online within their circuit breaker's open time (10 s) of the nodes' return",
        back.is_some_and(|at| at - healed <= Duration::from_secs(11)),
        back.map_or("no online verdict within 15 s".into(), |at| {
            format!("{} ms", (at - healed).as_millis())
        }),
    );
    Ok(())
}

fn node_hanging(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_000);
    let (since, t) = (unix_now().saturating_sub(1), Instant::now());
    let hang = Faults {
        hang_validate_ms: 2_500,
        ..Faults::default()
    };
    lab.inject(Some(0), hang, Some(8_000))?;
    let found = wait_incident(
        lab,
        "validation_latency_p99",
        since,
        t,
        Duration::from_secs(15),
    );
    let detected = detect(rec, "validation_latency_p99", found.as_ref());
    sleep_until(t + Duration::from_millis(8_000));
    let healed = Instant::now();
    let seen = stream.stop();
    // The incident covers the rule's window (20 s here): it resolves once the slow answers
    // have left it.
    let resolved = found
        .as_ref()
        .and_then(|(id, _)| wait_resolved(lab, id, healed, Duration::from_secs(40)));
    if let Some(d) = resolved {
        rec.recovered(d);
    }
    rec.verdicts(&seen, |_| false);
    let during = between(&seen, t, healed);
    let slowest = during
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(
                u64::try_from((b.at - a.at).as_millis())
                    .unwrap_or(u64::MAX)
                    .saturating_sub(EVERY_MS),
            ),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    rec.expect(
        "the slow answers open a validation_latency_p99 incident",
        detected,
        found.map_or("none within 15 s".into(), |(_, d)| {
            format!("opened after {} ms", d.as_millis())
        }),
    );
    lockouts(rec);
    rec.expect(
        "every check ends within its deadline (the verifier fails over)",
        !during.is_empty() && slowest <= DEADLINE_MS + 300,
        format!("slowest check ~{slowest} ms (deadline {DEADLINE_MS} ms)"),
    );
    rec.expect(
        "the incident resolves after the node recovers",
        resolved.is_some(),
        resolved.map_or("still open 40 s later".into(), |d| {
            format!("resolved {} ms after the node recovered", d.as_millis())
        }),
    );
    Ok(())
}

fn corrupted_license_file(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

fn corrupted_lease_cache(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

fn clock_skewed_ahead(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

fn clock_set_back(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

fn replayed_old_lease(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

fn revoked_during_outage(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

fn store_unavailable(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let stream = lab.stream()?;
    sleep_ms(1_000);
    let t = Instant::now();
    let lock = Faults {
        store_locked: true,
        ..Faults::default()
    };
    lab.inject(Some(0), lock, Some(8_000))?;
    let writer_url = lab.nodes.get(1).map(|n| n.url.clone()).unwrap_or_default();
    let issue = std::thread::scope(|scope| {
        let lab_ref = &*lab;
        let writer = scope.spawn(move || {
            sleep_ms(1_000);
            lab_ref.issue_through(&writer_url)
        });
        let mut unready = None;
        while t.elapsed() < Duration::from_secs(8) {
            if unready.is_none() && !lab_ref.ready(&lab_ref.admin.url) {
                unready = Some(t.elapsed());
            }
            sleep_ms(200);
        }
        (writer.join(), unready)
    });
    let (written, unready) = issue;
    if let Some(after) = unready {
        rec.detected("readyz: store_unwritable", after);
    }
    let healed = Instant::now();
    let mut ready_again = None;
    while healed.elapsed() < Duration::from_secs(10) {
        if lab.ready(&lab.admin.url) {
            ready_again = Some(healed.elapsed());
            break;
        }
        sleep_ms(100);
    }
    if let Some(d) = ready_again {
        rec.recovered(d);
    }
    let seen = stream.stop();
    rec.verdicts(&seen, |_| false);
    rec.expect(
        "readiness reports the store refusing writes",
        unready.is_some(),
        unready.map_or("/readyz stayed ready".into(), |d| {
            format!("/readyz 503 after {} ms", d.as_millis())
        }),
    );
    lockouts(rec);
    let written = match written {
        Ok(Ok((status, took))) => format!("HTTP {status} after {} ms", took.as_millis()),
        Ok(Err(e)) => format!("{e}"),
        Err(_) => "the writer thread failed".to_owned(),
    };
    rec.expect(
        "a license issued during the lock completes once the lock is gone (nothing lost)",
        written.starts_with("HTTP 201"),
        written,
    );
    rec.expect(
        "readiness comes back after the lock",
        ready_again.is_some(),
        ready_again.map_or("not ready 10 s later".into(), |d| {
            format!("{} ms", d.as_millis())
        }),
    );
    Ok(())
}
