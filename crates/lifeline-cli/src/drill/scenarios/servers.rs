//! Drills whose fault is on the servers: keys, nodes, the store.

use std::time::{Duration, Instant};

use lifeline_api::{FaultRequest, Faults};

use super::watch::{
    between, count, detect, lockouts, partition, sleep_ms, sleep_until, wait_incident,
    wait_resolved,
};
use crate::drill::lab::{DEADLINE_MS, EVERY_MS, Lab, NODES, Seen};
use crate::drill::{Record, unix_now};
use crate::failure::CliError;

pub(super) fn expired_signing_key(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

pub(super) fn key_rotated_mid_traffic(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

pub(super) fn one_node_down(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

pub(super) fn all_nodes_down(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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

/// How long node-hanging waits for its incident to resolve: one whole minute of the rules'
/// traffic window, the last slow answer's 2.5 s, an evaluation, and a margin.
const RESOLVE_WITHIN: Duration = Duration::from_secs(75);

pub(super) fn node_hanging(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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
    // The incident resolves once the slow answers have left the rule's window. The traffic
    // figures are kept per unix minute, so a 20 s window is the current minute: the last slow
    // answer (up to 2.5 s after the node heals) leaves it when that minute ends, then the next
    // evaluation (every 1 s) resolves. Up to ~64 s, whatever minute the drill started in.
    let resolved = found
        .as_ref()
        .and_then(|(id, _)| wait_resolved(lab, id, healed, RESOLVE_WITHIN));
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
        resolved.map_or(
            format!("still open {} s later", RESOLVE_WITHIN.as_secs()),
            |d| format!("resolved {} ms after the node recovered", d.as_millis()),
        ),
    );
    Ok(())
}

pub(super) fn store_unavailable(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
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
