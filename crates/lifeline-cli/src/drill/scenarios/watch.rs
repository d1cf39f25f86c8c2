//! What every drill measures with: waits (for an incident, its resolution, a moment), the
//! partition fault, and counts over what the verifiers saw.

use std::time::{Duration, Instant};

use lifeline_api::Faults;

use crate::drill::Record;
use crate::drill::lab::{Lab, Seen};

pub(super) fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

pub(super) fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

pub(super) fn partition() -> Faults {
    Faults {
        partition: true,
        ..Faults::default()
    }
}

/// Polls for an incident of `rule` opened since `since`; its id and the time since `from`.
pub(super) fn wait_incident(
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
pub(super) fn wait_resolved(
    lab: &Lab,
    id: &str,
    from: Instant,
    within: Duration,
) -> Option<Duration> {
    while from.elapsed() < within {
        if lab.resolved(id) {
            return Some(from.elapsed());
        }
        sleep_ms(200);
    }
    None
}

pub(super) fn detect(rec: &mut Record, rule: &str, found: Option<&(String, Duration)>) -> bool {
    if let Some((_, after)) = found {
        rec.detected(&format!("incident {rule}"), *after);
    }
    found.is_some()
}

pub(super) fn between(seen: &[Seen], from: Instant, to: Instant) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.at >= from && s.at <= to)
        .cloned()
        .collect()
}

pub(super) fn count(seen: &[Seen], f: impl Fn(&Seen) -> bool) -> usize {
    seen.iter().filter(|s| f(s)).count()
}

pub(super) fn lockouts(rec: &mut Record) {
    let n = rec.lockouts();
    rec.expect(
        "no verifier is locked out",
        n == 0,
        format!("{n} checks refused a license that should have worked"),
    );
}
