//! Telemetry from the field: what verifiers embedded in services (the WASM package, the CLI,
//! the validation client) saw, posted in batches to `POST /api/v1/telemetry`.
//!
//! [`check`] refuses anything inconsistent before it is counted. [`Edge`] aggregates the
//! accepted reports in memory, per service, one bucket per minute over the last hour (like
//! `series.rs` for this node's own `validate`), keeps when each (service, instance) last
//! reported, and the totals since start that `/metrics` exports. Memory is bounded: at most
//! [`MAX_SERVICES`] services (more are refused) and [`MAX_INSTANCES`] instances (the
//! longest silent is forgotten). Reports are counted in the minute they arrive.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use axum::http::StatusCode;
use lifeline_api::{MinuteStats, ReasonCount, ServiceSeen, TelemetryReport};
use lifeline_core::LATENCY_BUCKETS_SECS;

use crate::problem::AppError;
use crate::series::{MINUTES, percentile_ms, recent_minutes, sorted_reasons, window};

/// Distinct services this node tracks; a report from one more is refused (422
/// `too_many_services`): the services are a label of `lifeline_edge_verdicts_total`.
pub const MAX_SERVICES: usize = 256;
/// Instances remembered (last seen, cumulative baselines); beyond, the longest silent goes.
pub const MAX_INSTANCES: usize = 10_000;
/// Reason codes in one report.
pub const MAX_REASONS: usize = 64;
/// Longest service or instance name.
const MAX_NAME: usize = 128;
/// How far ahead of this node's clock a window may end (clock skew), seconds.
const MAX_SKEW_SECS: u64 = 300;

/// The verdict states a report may count, in a fixed order.
pub(crate) const STATES: [&str; 5] = ["valid", "grace", "invalid", "override", "offline"];
/// Latency slots: one per bound of the core's histogram, then `+Inf`.
const SLOTS: usize = LATENCY_BUCKETS_SECS.len() + 1;

fn unprocessable(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

/// A service or instance name: 1–128 of `A-Z a-z 0-9 . _ - : /`.
fn name_ok(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:/".contains(&b))
}

/// A reason code: 1–64 of `a-z 0-9 _`.
fn reason_ok(reason: &str) -> bool {
    (1..=64).contains(&reason.len())
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks a report received at `now`; every refusal is a 422 with its own code:
/// `invalid_name`, `invalid_window`, `unknown_state`, `invalid_reason`, `too_many_reasons`,
/// `invalid_latency_bounds`, `inconsistent_counts`.
pub fn check(r: &TelemetryReport, now: u64) -> Result<(), AppError> {
    if !name_ok(&r.service) || !name_ok(&r.instance) {
        return Err(unprocessable(
            "invalid_name",
            format!("service and instance must be 1 to {MAX_NAME} of A-Z a-z 0-9 . _ - : /"),
        ));
    }
    if r.window_start > r.window_end || r.window_end > now.saturating_add(MAX_SKEW_SECS) {
        return Err(unprocessable(
            "invalid_window",
            format!(
                "the window must start before it ends, and end by now ({now}) + {MAX_SKEW_SECS} s"
            ),
        ));
    }
    if let Some(state) = r.by_state.keys().find(|s| !STATES.contains(&s.as_str())) {
        return Err(unprocessable(
            "unknown_state",
            format!("unknown state {state:?}: one of {}", STATES.join(", ")),
        ));
    }
    if r.by_reason.len() > MAX_REASONS {
        return Err(unprocessable(
            "too_many_reasons",
            format!("at most {MAX_REASONS} reason codes per report"),
        ));
    }
    if r.by_reason.keys().any(|k| !reason_ok(k)) {
        return Err(unprocessable(
            "invalid_reason",
            "reason codes are 1 to 64 of a-z 0-9 _",
        ));
    }
    if r.latency_bounds_seconds != LATENCY_BUCKETS_SECS {
        return Err(unprocessable(
            "invalid_latency_bounds",
            "latency_bounds_seconds must be lifeline_core::LATENCY_BUCKETS_SECS exactly",
        ));
    }
    let states: u64 = r.by_state.values().fold(0, |a, n| a.saturating_add(*n));
    let reasons: u64 = r.by_reason.values().fold(0, |a, n| a.saturating_add(*n));
    let cumulative_ok = r.latency_buckets.len() == SLOTS
        && r.latency_buckets.windows(2).all(|w| w.first() <= w.last())
        && r.latency_buckets.last() == Some(&r.count);
    if !cumulative_ok || states != r.count || reasons > r.count || r.count > u64::MAX / 4 {
        return Err(unprocessable(
            "inconsistent_counts",
            format!(
                "latency_buckets must be {SLOTS} cumulative counts ending with count; \
                 by_state must add up to count, by_reason to at most count"
            ),
        ));
    }
    Ok(())
}

/// One report's counts in the aggregate's form.
#[derive(Clone, Debug, Default, PartialEq)]
struct Counts {
    count: u64,
    states: [u64; 5],
    /// Per slot (not cumulative).
    latency: [u64; SLOTS],
    reasons: BTreeMap<String, u64>,
}

impl Counts {
    fn of(r: &TelemetryReport) -> Self {
        let mut c = Self {
            count: r.count,
            ..Self::default()
        };
        for (state, n) in &r.by_state {
            if let Some(i) = STATES.iter().position(|s| s == state)
                && let Some(slot) = c.states.get_mut(i)
            {
                *slot = *n;
            }
        }
        let mut below = 0;
        for (slot, cumulative) in c.latency.iter_mut().zip(&r.latency_buckets) {
            *slot = cumulative.saturating_sub(below);
            below = *cumulative;
        }
        c.reasons = r.by_reason.clone();
        c
    }

    /// `self - earlier`, or `None` when any count went down (the verifier restarted).
    fn since(&self, earlier: &Self) -> Option<Self> {
        let sub = |a: u64, b: u64| a.checked_sub(b);
        let mut d = Self {
            count: sub(self.count, earlier.count)?,
            ..Self::default()
        };
        for ((out, a), b) in d.states.iter_mut().zip(self.states).zip(earlier.states) {
            *out = sub(a, b)?;
        }
        for ((out, a), b) in d.latency.iter_mut().zip(self.latency).zip(earlier.latency) {
            *out = sub(a, b)?;
        }
        for (reason, before) in &earlier.reasons {
            if self.reasons.get(reason).copied().unwrap_or(0) < *before {
                return None;
            }
        }
        for (reason, n) in &self.reasons {
            let grew = n - earlier.reasons.get(reason).copied().unwrap_or(0);
            if grew > 0 {
                d.reasons.insert(reason.clone(), grew);
            }
        }
        Some(d)
    }

    fn add(&mut self, other: &Self) {
        self.count = self.count.saturating_add(other.count);
        for (a, b) in self.states.iter_mut().zip(other.states) {
            *a = a.saturating_add(b);
        }
        for (a, b) in self.latency.iter_mut().zip(other.latency) {
            *a = a.saturating_add(b);
        }
        for (reason, n) in &other.reasons {
            // A bucket keeps at most MAX_REASONS codes; the rest add up under `other`.
            let key = if self.reasons.contains_key(reason) || self.reasons.len() < MAX_REASONS {
                reason.as_str()
            } else {
                "other"
            };
            let slot = self.reasons.entry(key.to_owned()).or_default();
            *slot = slot.saturating_add(*n);
        }
    }

    fn state(&self, name: &str) -> u64 {
        STATES
            .iter()
            .position(|s| *s == name)
            .and_then(|i| self.states.get(i))
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Bucket {
    minute: u64,
    counts: Counts,
}

#[derive(Debug)]
struct Instance {
    last_seen: u64,
    /// The latest cumulative report (its `window_start` and counts).
    baseline: Option<(u64, Counts)>,
}

#[derive(Debug, Default)]
struct Service {
    ring: Vec<Bucket>,
    instances: HashMap<String, Instance>,
    last_seen: u64,
    totals: [u64; 5],
    /// Since start, for the core's reason codes only (a bounded label set).
    reason_totals: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default)]
struct Inner {
    services: BTreeMap<String, Service>,
    instances: usize,
}

/// Field verifiers' telemetry received by this node.
#[derive(Debug, Default)]
pub(crate) struct Edge {
    inner: Mutex<Inner>,
}

/// One service's figures over a recent span (for the rules engine).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EdgeRecent {
    pub(crate) count: u64,
    pub(crate) invalid: u64,
    pub(crate) grace: u64,
    pub(crate) offline: u64,
    pub(crate) reasons: BTreeMap<String, u64>,
}

impl Edge {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a checked report received at `now`; returns how many verdicts it added (a
    /// cumulative report adds what grew since the instance's previous one).
    pub(crate) fn record(&self, r: &TelemetryReport, now: u64) -> Result<u64, AppError> {
        let mut inner = self.lock();
        if !inner.services.contains_key(&r.service) && inner.services.len() >= MAX_SERVICES {
            return Err(unprocessable(
                "too_many_services",
                format!("this node tracks at most {MAX_SERVICES} services"),
            ));
        }
        let is_new = !inner
            .services
            .get(&r.service)
            .is_some_and(|s| s.instances.contains_key(&r.instance));
        if is_new && inner.instances >= MAX_INSTANCES {
            forget_oldest_instance(&mut inner);
        }
        if is_new {
            inner.instances += 1;
        }
        let service = inner.services.entry(r.service.clone()).or_default();
        let counts = Counts::of(r);
        let instance = service
            .instances
            .entry(r.instance.clone())
            .or_insert(Instance {
                last_seen: now,
                baseline: None,
            });
        instance.last_seen = now;
        let added = if r.cumulative {
            let delta = match &instance.baseline {
                Some((start, before)) if *start == r.window_start => counts.since(before),
                _ => None,
            };
            let delta = delta.unwrap_or_else(|| counts.clone());
            instance.baseline = Some((r.window_start, counts));
            delta
        } else {
            instance.baseline = None;
            counts
        };
        service.last_seen = now;
        for (total, n) in service.totals.iter_mut().zip(added.states) {
            *total = total.saturating_add(n);
        }
        for (reason, n) in &added.reasons {
            if let Some(known) = lifeline_core::Reason::ALL
                .iter()
                .map(|r| r.as_str())
                .find(|r| r == reason)
            {
                let total = service.reason_totals.entry(known).or_default();
                *total = total.saturating_add(*n);
            }
        }
        if service.ring.is_empty() {
            service.ring.resize_with(MINUTES, Bucket::default);
        }
        let minute = now / 60;
        let slot = usize::try_from(minute % MINUTES as u64).unwrap_or(0);
        if let Some(bucket) = service.ring.get_mut(slot) {
            if bucket.minute != minute {
                *bucket = Bucket {
                    minute,
                    counts: Counts::default(),
                };
            }
            bucket.counts.add(&added);
        }
        Ok(added.count)
    }

    /// Every service's buckets whose minute is in `minutes`, added up.
    fn sum(&self, minutes: &std::ops::RangeInclusive<u64>) -> BTreeMap<u64, Counts> {
        let inner = self.lock();
        let mut out: BTreeMap<u64, Counts> = BTreeMap::new();
        for service in inner.services.values() {
            for b in service
                .ring
                .iter()
                .filter(|b| b.counts.count > 0 && minutes.contains(&b.minute))
            {
                out.entry(b.minute).or_default().add(&b.counts);
            }
        }
        out
    }

    /// All services' verdicts per minute over the hour up to `now`, oldest first.
    pub(crate) fn minutes(&self, now: u64) -> Vec<MinuteStats> {
        let minutes = window(now);
        let sums = self.sum(&minutes);
        minutes
            .map(|minute| {
                let c = sums.get(&minute).cloned().unwrap_or_default();
                let p = |q| percentile_ms(&c.latency, &LATENCY_BUCKETS_SECS, q);
                MinuteStats {
                    start: minute * 60,
                    requests: c.count,
                    errors: 0,
                    failures: c.state("invalid"),
                    p50_ms: p(0.50),
                    p95_ms: p(0.95),
                    p99_ms: p(0.99),
                }
            })
            .collect()
    }

    /// Unusable (`invalid`) verdicts' reasons over the hour up to `now`, most frequent
    /// first. Reports count reasons of every state; `grace_period` and `offline` name usable
    /// verdicts and are left out.
    pub(crate) fn reasons(&self, now: u64) -> Vec<ReasonCount> {
        let mut total: BTreeMap<String, u64> = BTreeMap::new();
        for c in self.sum(&window(now)).values() {
            for (reason, n) in &c.reasons {
                if reason != "grace_period" && reason != "offline" {
                    *total.entry(reason.clone()).or_default() += n;
                }
            }
        }
        sorted_reasons(total.into_iter())
    }

    /// The services that reported within the hour up to `now`, by name.
    pub(crate) fn services(&self, now: u64) -> Vec<ServiceSeen> {
        let since = now.saturating_sub(MINUTES as u64 * 60);
        self.lock()
            .services
            .iter()
            .filter(|(_, s)| s.last_seen > since)
            .map(|(name, s)| ServiceSeen {
                service: name.clone(),
                instances: s.instances.values().filter(|i| i.last_seen > since).count() as u64,
                last_seen: s.last_seen,
            })
            .collect()
    }

    /// Each service's figures over the last `secs` seconds up to `now` (services without
    /// verdicts in the span are left out).
    pub(crate) fn recent(&self, now: u64, secs: u64) -> BTreeMap<String, EdgeRecent> {
        let minutes = recent_minutes(now, secs);
        let inner = self.lock();
        let mut out = BTreeMap::new();
        for (name, service) in &inner.services {
            let mut c = Counts::default();
            for b in service.ring.iter().filter(|b| minutes.contains(&b.minute)) {
                c.add(&b.counts);
            }
            if c.count > 0 {
                out.insert(
                    name.clone(),
                    EdgeRecent {
                        count: c.count,
                        invalid: c.state("invalid"),
                        grace: c.state("grace"),
                        offline: c.state("offline"),
                        reasons: c.reasons,
                    },
                );
            }
        }
        out
    }

    /// Verdicts since start by service and reason (the core's reason codes seen so far).
    pub(crate) fn reason_totals(&self) -> Vec<(String, &'static str, u64)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (name, s) in &inner.services {
            for (reason, n) in &s.reason_totals {
                out.push((name.clone(), *reason, *n));
            }
        }
        out
    }

    /// Verdicts since start by service and state (every state of every known service).
    pub(crate) fn totals(&self) -> Vec<(String, &'static str, u64)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (name, s) in &inner.services {
            for (state, n) in STATES.iter().zip(s.totals) {
                out.push((name.clone(), *state, n));
            }
        }
        out
    }
}

fn forget_oldest_instance(inner: &mut Inner) {
    let oldest = inner
        .services
        .iter()
        .flat_map(|(s, svc)| svc.instances.iter().map(move |(i, v)| (v.last_seen, s, i)))
        .min_by_key(|(seen, _, _)| *seen)
        .map(|(_, s, i)| (s.clone(), i.clone()));
    if let Some((service, instance)) = oldest
        && let Some(svc) = inner.services.get_mut(&service)
        && svc.instances.remove(&instance).is_some()
    {
        inner.instances -= 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]

    use super::*;

    pub(crate) fn report(
        service: &str,
        states: &[(&str, u64)],
        reasons: &[(&str, u64)],
    ) -> TelemetryReport {
        let count = states.iter().map(|(_, n)| n).sum();
        TelemetryReport {
            service: service.into(),
            instance: "i-1".into(),
            window_start: 1_000,
            window_end: 1_060,
            by_state: states.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect(),
            by_reason: reasons.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect(),
            // Everything in the first bucket (≤ 2 µs).
            latency_buckets: vec![count; SLOTS],
            latency_bounds_seconds: LATENCY_BUCKETS_SECS.to_vec(),
            latency_sum_seconds: None,
            count,
            cumulative: false,
            cache_hits: None,
            cached_tokens: None,
        }
    }

    #[test]
    fn check_refuses_each_inconsistency_with_its_code() {
        let now = 2_000;
        let good = report("svc", &[("valid", 3), ("invalid", 2)], &[("expired", 2)]);
        assert!(check(&good, now).is_ok());
        let code = |r: TelemetryReport| check(&r, now).unwrap_err().code();
        let mut r = good.clone();
        r.service = String::new();
        assert_eq!(code(r), "invalid_name");
        let mut r = good.clone();
        r.instance = "a b".into();
        assert_eq!(code(r), "invalid_name");
        let mut r = good.clone();
        r.service = "s".repeat(129);
        assert_eq!(code(r), "invalid_name");
        let mut r = good.clone();
        r.window_start = 1_100;
        assert_eq!(code(r), "invalid_window");
        let mut r = good.clone();
        r.window_end = now + 301;
        assert_eq!(code(r), "invalid_window");
        let mut r = good.clone();
        r.by_state.insert("weird".into(), 0);
        assert_eq!(code(r), "unknown_state");
        let mut r = good.clone();
        r.by_reason.insert("Bad-Name".into(), 0);
        assert_eq!(code(r), "invalid_reason");
        let mut r = good.clone();
        r.by_reason = (0..65).map(|i| (format!("r{i}"), 0)).collect();
        assert_eq!(code(r), "too_many_reasons");
        let mut r = good.clone();
        r.latency_bounds_seconds.pop();
        assert_eq!(code(r), "invalid_latency_bounds");
        let mut r = good.clone();
        r.count = 6;
        assert_eq!(code(r), "inconsistent_counts");
        let mut r = good.clone();
        r.latency_buckets[3] = 1;
        assert_eq!(code(r), "inconsistent_counts", "not cumulative");
        let mut r = good.clone();
        r.latency_buckets.push(5);
        assert_eq!(code(r), "inconsistent_counts");
        let mut r = good;
        r.by_reason.insert("expired".into(), 6);
        assert_eq!(code(r), "inconsistent_counts");
    }

    #[test]
    fn reports_aggregate_per_minute_and_service() {
        let edge = Edge::default();
        let t0 = 1_700_000_000 / 60 * 60;
        let mut r = report(
            "shop",
            &[("valid", 8), ("invalid", 2)],
            &[("bad_signature", 2)],
        );
        r.latency_buckets = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 10, 10, 10]; // ≤ 5 ms
        assert_eq!(edge.record(&r, t0).unwrap(), 10);
        let mut r = report("shop", &[("grace", 1)], &[("grace_period", 1)]);
        r.instance = "i-2".into();
        edge.record(&r, t0 + 61).unwrap();
        edge.record(
            &report("cli", &[("offline", 4)], &[("offline", 4)]),
            t0 + 62,
        )
        .unwrap();
        let m = edge.minutes(t0 + 62);
        assert_eq!(m.len(), MINUTES);
        assert_eq!((m[58].requests, m[58].failures), (10, 2));
        assert_eq!(m[58].p99_ms, Some(5.0));
        assert_eq!(m[59].requests, 5);
        assert_eq!(
            edge.reasons(t0 + 62),
            vec![ReasonCount {
                reason: "bad_signature".into(),
                count: 2
            }]
        );
        let services = edge.services(t0 + 62);
        assert_eq!(services.len(), 2);
        assert_eq!(
            (services[1].service.as_str(), services[1].instances),
            ("shop", 2)
        );
        let recent = edge.recent(t0 + 62, 300);
        assert_eq!(recent["shop"].count, 11);
        assert_eq!((recent["shop"].invalid, recent["shop"].grace), (2, 1));
        assert_eq!(recent["cli"].offline, 4);
        assert!(edge.recent(t0 + 62 + 3600, 300).is_empty());
        let totals = edge.totals();
        assert!(totals.contains(&("shop".into(), "valid", 8)));
        assert!(totals.contains(&("cli".into(), "offline", 4)));
        let reasons = edge.reason_totals();
        assert!(reasons.contains(&("shop".into(), "bad_signature", 2)));
        assert!(reasons.contains(&("shop".into(), "grace_period", 1)));
    }

    #[test]
    fn cumulative_reports_count_what_grew() {
        let edge = Edge::default();
        let t0 = 1_700_000_000;
        let mut r = report("web", &[("valid", 5)], &[]);
        r.cumulative = true;
        assert_eq!(edge.record(&r, t0).unwrap(), 5);
        let mut r2 = report("web", &[("valid", 7), ("invalid", 1)], &[("expired", 1)]);
        r2.cumulative = true;
        assert_eq!(edge.record(&r2, t0 + 10).unwrap(), 3);
        // The verifier restarted (counts went down): the whole report counts.
        let mut r3 = report("web", &[("valid", 2)], &[]);
        r3.cumulative = true;
        assert_eq!(edge.record(&r3, t0 + 20).unwrap(), 2);
        // Another run (a new window_start) starts a new baseline.
        let mut r4 = r3.clone();
        r4.window_start += 1;
        assert_eq!(edge.record(&r4, t0 + 30).unwrap(), 2);
        assert_eq!(edge.recent(t0 + 30, 300)["web"].count, 12);
    }

    #[test]
    fn services_and_instances_are_bounded() {
        let edge = Edge::default();
        for i in 0..MAX_SERVICES {
            edge.record(&report(&format!("s{i}"), &[("valid", 1)], &[]), 100)
                .unwrap();
        }
        let err = edge
            .record(&report("one-more", &[("valid", 1)], &[]), 100)
            .unwrap_err();
        assert_eq!(err.code(), "too_many_services");
        assert!(
            edge.record(&report("s1", &[("valid", 1)], &[]), 100)
                .is_ok()
        );
        let edge = Edge::default();
        for i in 0..MAX_INSTANCES + 5 {
            let mut r = report("s", &[("valid", 1)], &[]);
            r.instance = format!("i{i}");
            edge.record(&r, 100 + i as u64).unwrap();
        }
        let inner = edge.lock();
        assert_eq!(inner.instances, MAX_INSTANCES);
        assert!(!inner.services["s"].instances.contains_key("i0"));
        assert!(inner.services["s"].instances.contains_key("i10004"));
    }
}
