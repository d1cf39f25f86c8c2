//! Seat drills: concurrent activations racing for the last seats across nodes, machines that
//! crash while holding seats, and every node down for longer than the seats' heartbeat.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::super::Record;
use super::super::lab::{Lab, NODES, Stream};
use super::watch::partition;
use crate::failure::CliError;

/// The floating seats' heartbeat in these drills, seconds.
const HEARTBEAT_S: u64 = 20;

fn rows(seats: &Value) -> Vec<Value> {
    seats
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn field<'a>(row: &'a Value, name: &str) -> &'a str {
    row.get(name).and_then(Value::as_str).unwrap_or("")
}

fn num(row: &Value, name: &str) -> u64 {
    row.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// Waits until `n` seats are alive; false after `within`.
fn wait_alive(lab: &Lab, license: &str, n: usize, within: Duration) -> Result<bool, CliError> {
    let deadline = Instant::now() + within;
    loop {
        let alive = rows(&lab.seats(license)?)
            .iter()
            .filter(|r| field(r, "status") == "alive")
            .count();
        if alive >= n {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(super) fn seat_race(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let (id, file) = lab.seated_license(
        "seat-race",
        serde_json::json!({"seats": 5, "seat_mode": "floating"}),
    )?;
    let token = std::fs::read_to_string(&file).map_err(|e| CliError::new(e.to_string()))?;
    let started = Instant::now();
    // 64 machines at once, spread over the nodes sharing the store.
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let token = token.as_str();
                let lab = &*lab;
                s.spawn(move || lab.activate(i % NODES, token, &format!("racer-{i}")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(CliError::new("a racer panicked")))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let took = started.elapsed();
    let granted = answers.iter().filter(|(s, _)| *s == 201).count();
    let exhausted = answers
        .iter()
        .filter(|(s, a)| {
            *s == 200 && a.get("reason").and_then(Value::as_str) == Some("seats_exhausted")
        })
        .count();
    let other = answers.len() - granted - exhausted;
    let stored = lab.seats(&id)?;
    rec.expect(
        "exactly 5 of 64 concurrent activations get a seat",
        granted == 5,
        format!("{granted} granted in {} ms", took.as_millis()),
    );
    rec.expect(
        "every other one is a signed seats_exhausted refusal",
        exhausted == 59 && other == 0,
        format!("{exhausted} seats_exhausted, {other} other answers"),
    );
    rec.expect(
        "the store counts 5 live seats",
        num(&stored, "in_use") == 5 && rows(&stored).len() == 5,
        format!(
            "in_use {}, {} rows",
            num(&stored, "in_use"),
            rows(&stored).len()
        ),
    );
    // The verifiers' view: the machines that got a seat hold it.
    let holders: Vec<String> = (0..64)
        .filter(|i| answers.get(*i).is_some_and(|(s, _)| *s == 201))
        .map(|i| format!("racer-{i}"))
        .collect();
    let mut seen = Vec::new();
    if let Some(fp) = holders.first() {
        let stream = lab.seat_holder(&file, fp)?;
        std::thread::sleep(Duration::from_millis(1_200));
        seen = stream.stop();
    }
    rec.verdicts(&seen, |_| false);
    rec.expect(
        "a winner's verifier holds its seat",
        !seen.is_empty() && seen.iter().all(|s| s.seat.as_deref() == Some("held")),
        format!("{} checks", seen.len()),
    );
    Ok(())
}

pub(super) fn crashed_clients(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let terms =
        serde_json::json!({"seats": 6, "seat_mode": "floating", "heartbeat_s": HEARTBEAT_S});
    let (id, file) = lab.seated_license("crashed-clients", terms)?;
    let mut holders: Vec<(String, Stream)> = Vec::new();
    for i in 0..6 {
        let fp = format!("machine-{i}");
        holders.push((fp.clone(), lab.seat_holder(&file, &fp)?));
    }
    if !wait_alive(lab, &id, 6, Duration::from_secs(20))? {
        return Err(CliError::new(
            "drill: the six machines did not all get a seat",
        ));
    }
    // Half of them crash (SIGKILL: no release).
    let crashed: Vec<String> = holders
        .iter()
        .step_by(2)
        .map(|(fp, _)| fp.clone())
        .collect();
    let mut seen = Vec::new();
    let mut survivors = Vec::new();
    for (fp, stream) in holders {
        if crashed.contains(&fp) {
            seen.extend(stream.stop());
        } else {
            survivors.push(stream);
        }
    }
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(HEARTBEAT_S * 2 + 10);
    let reclaimed_all = loop {
        let now = rows(&lab.seats(&id)?);
        let reclaimed = now
            .iter()
            .filter(|r| field(r, "status") == "reclaimed")
            .count();
        if reclaimed >= crashed.len() {
            break Some(now);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    if reclaimed_all.is_some() {
        rec.recovered(killed.elapsed());
    }
    // Let the survivors heartbeat a little longer, then look at every seat.
    std::thread::sleep(Duration::from_secs(2));
    let last = rows(&lab.seats(&id)?);
    for stream in survivors {
        seen.extend(stream.stop());
    }
    rec.verdicts(&seen, |_| false);
    let name = |r: &Value| field(r, "name").to_owned();
    let reclaimed: Vec<&Value> = last
        .iter()
        .filter(|r| field(r, "status") == "reclaimed")
        .collect();
    let within: Vec<u64> = reclaimed
        .iter()
        .map(|r| num(r, "ended_at").saturating_sub(num(r, "last_heartbeat")))
        .collect();
    let limit = HEARTBEAT_S + HEARTBEAT_S / 10;
    rec.expect(
        "the crashed machines' seats are reclaimed",
        reclaimed.len() == crashed.len() && reclaimed.iter().all(|r| crashed.contains(&name(r))),
        format!(
            "reclaimed: {:?}",
            reclaimed.iter().map(|r| name(r)).collect::<Vec<_>>()
        ),
    );
    rec.expect(
        &format!("each within heartbeat_s + 10 % ({limit} s) of its last heartbeat, never before"),
        !within.is_empty() && within.iter().all(|s| *s > HEARTBEAT_S && *s <= limit),
        format!("after {within:?} s"),
    );
    let alive = last
        .iter()
        .filter(|r| field(r, "status") == "alive")
        .count();
    rec.expect(
        "nobody else's seat is touched",
        alive == 3,
        format!("{alive} of the 3 running machines still hold their seats"),
    );
    Ok(())
}

pub(super) fn heartbeat_outage(lab: &mut Lab, rec: &mut Record) -> Result<(), CliError> {
    let terms = serde_json::json!({"seats": 3, "seat_mode": "floating", "heartbeat_s": 10});
    let (id, file) = lab.seated_license("heartbeat-outage", terms)?;
    let holders: Vec<Stream> = (0..3)
        .map(|i| lab.seat_holder(&file, &format!("desk-{i}")))
        .collect::<Result<_, _>>()?;
    if !wait_alive(lab, &id, 3, Duration::from_secs(20))? {
        return Err(CliError::new(
            "drill: the three machines did not all get a seat",
        ));
    }
    let before: Vec<String> = rows(&lab.seats(&id)?)
        .iter()
        .map(|r| field(r, "id").to_owned())
        .collect();
    // Every validation node unreachable for 3 x heartbeat_s.
    let t = Instant::now();
    for i in 0..NODES {
        lab.inject(Some(i), partition(), Some(30_000))?;
    }
    std::thread::sleep(Duration::from_secs(31));
    let healed = Instant::now();
    // After recovery: the same seats, still alive, renewed.
    let deadline = healed + Duration::from_secs(20);
    let renewed = loop {
        let now = rows(&lab.seats(&id)?);
        let fresh = now
            .iter()
            .filter(|r| {
                field(r, "status") == "alive"
                    && num(r, "last_heartbeat") > crate::drill::unix_now().saturating_sub(10)
            })
            .count();
        if fresh == 3 {
            break Some(now);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    if renewed.is_some() {
        rec.recovered(healed.elapsed());
    }
    let mut seen = Vec::new();
    for stream in holders {
        seen.extend(stream.stop());
    }
    rec.verdicts(&seen, |_| false);
    let during: Vec<_> = seen
        .iter()
        .filter(|s| s.at >= t && s.at <= healed)
        .collect();
    let after = rows(&lab.seats(&id)?);
    let same = after.len() == 3
        && after
            .iter()
            .all(|r| before.contains(&field(r, "id").to_owned()) && field(r, "status") == "alive");
    rec.expect(
        "no seat is lost: the same three seats, alive, after the outage",
        same,
        format!(
            "{:?}",
            after
                .iter()
                .map(|r| (field(r, "name").to_owned(), field(r, "status").to_owned()))
                .collect::<Vec<_>>()
        ),
    );
    rec.expect(
        "no re-activation: the machines renew the seats they had",
        renewed.is_some(),
        if renewed.is_some() {
            "renewed"
        } else {
            "not renewed within 20 s"
        },
    );
    let locked = during
        .iter()
        .filter(|s| {
            !s.usable()
                || s.seat
                    .as_deref()
                    .is_some_and(|x| x != "held" && x != "offline")
        })
        .count();
    rec.expect(
        "no lockout during the outage (seat held, then offline on its lease)",
        !during.is_empty() && locked == 0,
        format!(
            "{} checks during the outage, {locked} not usable",
            during.len()
        ),
    );
    Ok(())
}
