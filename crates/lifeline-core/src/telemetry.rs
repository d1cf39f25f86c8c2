//! Field telemetry, verifier side: a batch of verdicts (counts by state and reason, latency
//! histogram on [`LATENCY_BUCKETS_SECS`]) that drains into the body of the license server's
//! `POST /api/v1/telemetry`. Pure: the caller measures durations, reads the clock and posts.
//!
//! A drained body is a window's counts (`cumulative: false`): the server adds it as is. A
//! body that could not be delivered can be put back ([`TelemetryBatch::restore`]) so its
//! verdicts go with the next post instead of being lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{LATENCY_BUCKETS_SECS, Reason, State, UnixTime, Verdict, VerifyStats};

/// Longest service or instance name the server accepts.
pub const MAX_TELEMETRY_NAME: usize = 128;

/// The body of `POST /api/v1/telemetry`: what one verifier instance saw over a window. One
/// type for both sides: [`TelemetryBatch::drain`] writes it, the server reads it (as
/// `lifeline_api::TelemetryReport`). The server also takes the shape of the WASM verifier's
/// `stats()` (camelCase names, totals since start with `cumulative: true`, its cache figures,
/// which it ignores).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TelemetryReport {
    /// The service embedding the verifier: 1–128 of `A-Z a-z 0-9 . _ - : /`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[A-Za-z0-9._:/-]{1,128}$"))
    )]
    pub service: String,
    /// This instance of it (machine, process, browser session): same charset.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[A-Za-z0-9._:/-]{1,128}$"))
    )]
    pub instance: String,
    /// When the first verdict of the window was recorded (or the previous drain), unix seconds.
    #[serde(alias = "windowStart")]
    pub window_start: u64,
    /// When the batch was drained, unix seconds; never before `window_start`.
    #[serde(alias = "windowEnd")]
    pub window_end: u64,
    /// Verdicts by state (`valid`, `grace`, `invalid`, `override`, `offline`); adds up to
    /// `count`.
    #[serde(alias = "byState")]
    pub by_state: BTreeMap<String, u64>,
    /// Verdicts by reason code (valid verdicts have none; at most 64 codes).
    #[serde(default, alias = "byReason")]
    pub by_reason: BTreeMap<String, u64>,
    /// Cumulative counts per bucket of `latency_bounds_seconds`, then `+Inf` (= `count`).
    #[serde(alias = "latencyBuckets")]
    #[cfg_attr(feature = "schema", schemars(length(equal = 13)))]
    pub latency_buckets: Vec<u64>,
    /// Exactly [`LATENCY_BUCKETS_SECS`].
    #[serde(alias = "latencyBoundsSeconds", alias = "latency_bounds_secs")]
    pub latency_bounds_seconds: Vec<f64>,
    /// Sum of the measured durations, seconds (informational; a drained batch has it).
    #[serde(
        default,
        alias = "latencySumSeconds",
        alias = "latency_sum_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency_sum_seconds: Option<f64>,
    /// Verdicts in the window.
    pub count: u64,
    /// `false` for a drained batch (the counts are this window's). `true`: totals since the
    /// verifier started (as `verifier.stats()` keeps them); the server then counts only what
    /// grew since the same instance's previous report with the same `window_start`.
    #[serde(default)]
    pub cumulative: bool,
    /// Ignored (the WASM verifier's cache figures).
    #[serde(default, alias = "cacheHits", skip_serializing_if = "Option::is_none")]
    pub cache_hits: Option<u64>,
    /// Ignored.
    #[serde(
        default,
        alias = "cachedTokens",
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_tokens: Option<u64>,
}

/// Every state's name, as reports carry them.
const STATE_NAMES: [&str; 5] = [
    State::Valid.as_str(),
    State::Grace.as_str(),
    State::Invalid.as_str(),
    State::Override.as_str(),
    State::Offline.as_str(),
];

/// Counts keyed by owned names (the wire form).
fn names(counts: BTreeMap<&'static str, u64>) -> BTreeMap<String, u64> {
    counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Why a batch cannot be drained into a report the server would accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TelemetryError {
    /// A service or instance name is empty, longer than [`MAX_TELEMETRY_NAME`] or has a
    /// character outside `A-Z a-z 0-9 . _ - : /`.
    InvalidName {
        /// `service` or `instance`.
        field: &'static str,
    },
}

impl core::fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InvalidName { field } => write!(
                f,
                "the telemetry {field} name must be 1 to {MAX_TELEMETRY_NAME} of A-Z a-z 0-9 . _ - : /"
            ),
        }
    }
}

impl std::error::Error for TelemetryError {}

impl TelemetryError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidName { .. } => "invalid_name",
        }
    }
}

/// Whether the server accepts `name` as a service or instance name.
pub fn telemetry_name_ok(name: &str) -> bool {
    (1..=MAX_TELEMETRY_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:/".contains(&b))
}

/// `raw` made into an acceptable name: other characters become `-`, cut to
/// [`MAX_TELEMETRY_NAME`] bytes; `fallback` when nothing is left.
pub fn telemetry_name(raw: &str, fallback: &str) -> String {
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_:/".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(MAX_TELEMETRY_NAME)
        .collect();
    if name.is_empty() {
        fallback.to_owned()
    } else {
        name
    }
}

/// Verdicts recorded since the last drain.
#[derive(Clone, Debug, Default)]
pub struct TelemetryBatch {
    stats: VerifyStats,
    window_start: Option<u64>,
    clamped: u64,
}

impl TelemetryBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one verdict, how long it took (seconds) and when (`now`).
    pub fn record(&mut self, verdict: &Verdict, latency_secs: f64, now: UnixTime) {
        self.record_outcome(verdict.state(), verdict.reason(), latency_secs, now);
    }

    /// Records an outcome given as state and reason. The verdict is always counted; a
    /// latency that is NaN, negative or infinite is clamped (NaN and negative to 0, +∞ to
    /// the `+Inf` bucket, contributing nothing to the sum) and counted in [`Self::clamped`].
    pub fn record_outcome(
        &mut self,
        state: State,
        reason: Option<Reason>,
        latency_secs: f64,
        now: UnixTime,
    ) {
        let latency = if latency_secs.is_nan() || latency_secs < 0.0 {
            self.clamped += 1;
            0.0
        } else if latency_secs.is_infinite() {
            self.clamped += 1;
            f64::INFINITY
        } else {
            latency_secs
        };
        if latency.is_infinite() {
            self.stats.record_unbounded(state, reason);
        } else {
            self.stats.record_outcome(state, reason, latency);
        }
        let start = self.window_start.get_or_insert(now.as_secs());
        *start = (*start).min(now.as_secs());
    }

    /// Verdicts in the batch.
    pub fn count(&self) -> u64 {
        self.stats.count
    }

    /// Whether the batch holds no verdict.
    pub fn is_empty(&self) -> bool {
        self.stats.count == 0
    }

    /// Latencies clamped since the batch was created (never reset by a drain).
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// The batch as a report for `service`/`instance` at `now`, and an empty batch in its
    /// place (the next window starts at its first verdict). An empty batch gives a report
    /// with count 0 over `[now, now]`. Names the server would refuse are an error, and the
    /// batch stays as it was.
    pub fn drain(
        &mut self,
        service: &str,
        instance: &str,
        now: UnixTime,
    ) -> Result<TelemetryReport, TelemetryError> {
        if !telemetry_name_ok(service) {
            return Err(TelemetryError::InvalidName { field: "service" });
        }
        if !telemetry_name_ok(instance) {
            return Err(TelemetryError::InvalidName { field: "instance" });
        }
        let now = now.as_secs();
        // A clock set back since the first verdict: the window still starts before it ends.
        let start = self.window_start.take().unwrap_or(now).min(now);
        let stats = core::mem::take(&mut self.stats);
        Ok(TelemetryReport {
            service: service.to_owned(),
            instance: instance.to_owned(),
            window_start: start,
            window_end: now,
            by_state: names(stats.by_state),
            by_reason: names(stats.by_reason),
            latency_buckets: stats.latency_buckets,
            latency_bounds_seconds: stats.latency_bounds_secs,
            latency_sum_seconds: Some(stats.latency_sum_secs),
            count: stats.count,
            cumulative: false,
            cache_hits: None,
            cached_tokens: None,
        })
    }

    /// Puts back a drained report that was not delivered: its verdicts join the batch (and
    /// go with the next drain, whose window then starts at the report's). A report that does
    /// not have this batch's shape (other bounds, a bucket count that differs) is ignored.
    pub fn restore(&mut self, report: &TelemetryReport) {
        if report.cumulative
            || report.latency_bounds_seconds != LATENCY_BUCKETS_SECS
            || report.latency_buckets.len() != self.stats.latency_buckets.len()
        {
            return;
        }
        // Only names this core writes come back (a report is restored, never invented).
        for (state, n) in &report.by_state {
            if let Some(state) = STATE_NAMES.iter().find(|s| **s == state.as_str()) {
                let slot = self.stats.by_state.entry(state).or_default();
                *slot = slot.saturating_add(*n);
            }
        }
        for (reason, n) in &report.by_reason {
            if let Some(reason) = Reason::ALL.iter().find(|r| r.as_str() == reason.as_str()) {
                let slot = self.stats.by_reason.entry(reason.as_str()).or_default();
                *slot = slot.saturating_add(*n);
            }
        }
        for (slot, n) in self
            .stats
            .latency_buckets
            .iter_mut()
            .zip(&report.latency_buckets)
        {
            *slot = slot.saturating_add(*n);
        }
        self.stats.latency_sum_secs += report.latency_sum_seconds.unwrap_or(0.0);
        self.stats.count = self.stats.count.saturating_add(report.count);
        if report.count > 0 {
            let start = self.window_start.get_or_insert(report.window_start);
            *start = (*start).min(report.window_start);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]

    use super::*;

    const T: UnixTime = UnixTime::from_secs(1_700_000_000);

    /// The consistency rules the server's `telemetry::check` applies.
    fn server_accepts(r: &TelemetryReport) -> bool {
        let states: u64 = r.by_state.values().sum();
        let reasons: u64 = r.by_reason.values().sum();
        telemetry_name_ok(&r.service)
            && telemetry_name_ok(&r.instance)
            && r.window_start <= r.window_end
            && r.latency_bounds_seconds == LATENCY_BUCKETS_SECS
            && r.latency_buckets.len() == LATENCY_BUCKETS_SECS.len() + 1
            && r.latency_buckets.windows(2).all(|w| w[0] <= w[1])
            && r.latency_buckets.last() == Some(&r.count)
            && states == r.count
            && reasons <= r.count
            && r.latency_sum_seconds.is_some_and(f64::is_finite)
            && !r.cumulative
    }

    #[test]
    fn drains_counts_and_histogram_then_starts_empty() {
        let mut b = TelemetryBatch::new();
        assert!(b.is_empty());
        b.record_outcome(State::Valid, None, 0.000_003, T);
        b.record_outcome(
            State::Invalid,
            Some(Reason::Expired),
            0.003,
            T.saturating_add(5),
        );
        b.record_outcome(
            State::Grace,
            Some(Reason::GracePeriod),
            0.2,
            T.saturating_add(9),
        );
        assert_eq!(b.count(), 3);
        let r = b.drain("shop", "host-1:42", T.saturating_add(10)).unwrap();
        assert!(server_accepts(&r), "{r:?}");
        assert_eq!(
            (r.window_start, r.window_end),
            (T.as_secs(), T.as_secs() + 10)
        );
        assert_eq!(r.count, 3);
        assert_eq!(r.by_state["valid"], 1);
        assert_eq!(r.by_state["invalid"], 1);
        assert_eq!(r.by_state["grace"], 1);
        assert_eq!(r.by_reason.len(), 2);
        assert_eq!(r.by_reason["expired"], 1);
        // ≤ 5 µs: 1; ≤ 5 ms: 2; ≤ 100 ms: still 2; +Inf: 3.
        assert_eq!(r.latency_buckets[1], 1);
        assert_eq!(r.latency_buckets[9], 2);
        assert_eq!(r.latency_buckets[11], 2);
        assert_eq!(r.latency_buckets[12], 3);
        assert!((r.latency_sum_seconds.unwrap() - 0.203_003).abs() < 1e-9);

        assert!(b.is_empty());
        let empty = b.drain("shop", "host-1:42", T.saturating_add(20)).unwrap();
        assert!(server_accepts(&empty));
        assert_eq!(empty.count, 0);
        assert_eq!(
            (empty.window_start, empty.window_end),
            (T.as_secs() + 20, T.as_secs() + 20)
        );
        assert!(empty.by_state.is_empty());
        assert_eq!(empty.latency_buckets, vec![0; 13]);
    }

    #[test]
    fn serializes_as_the_servers_report_body() {
        let mut b = TelemetryBatch::new();
        b.record_outcome(State::Offline, Some(Reason::Offline), 0.01, T);
        let r = b.drain("svc", "i", T).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "by_reason",
                "by_state",
                "count",
                "cumulative",
                "instance",
                "latency_bounds_seconds",
                "latency_buckets",
                "latency_sum_seconds",
                "service",
                "window_end",
                "window_start",
            ]
        );
        assert_eq!(v["by_state"]["offline"], 1);
        assert_eq!(v["latency_bounds_seconds"][0], 0.000_002);
        assert_eq!(v["cumulative"], false);
    }

    #[test]
    fn bad_latencies_are_clamped_and_counts_stay_consistent() {
        let mut b = TelemetryBatch::new();
        b.record_outcome(State::Valid, None, f64::NAN, T);
        b.record_outcome(State::Valid, None, -1.0, T);
        b.record_outcome(State::Invalid, Some(Reason::BadSignature), f64::INFINITY, T);
        b.record_outcome(
            State::Invalid,
            Some(Reason::BadSignature),
            f64::NEG_INFINITY,
            T,
        );
        b.record_outcome(State::Valid, None, 7.5, T);
        assert_eq!(b.clamped(), 4);
        let r = b.drain("svc", "i", T).unwrap();
        assert!(server_accepts(&r), "{r:?}");
        assert_eq!(r.count, 5);
        // NaN, -1 and -∞ are 0 s (the first bucket); +∞ and 7.5 s only in +Inf.
        assert_eq!(r.latency_buckets[0], 3);
        assert_eq!(r.latency_buckets[11], 3);
        assert_eq!(r.latency_buckets[12], 5);
        assert!(
            (r.latency_sum_seconds.unwrap() - 7.5).abs() < 1e-9,
            "{:?}",
            r.latency_sum_seconds
        );
        assert!(
            serde_json::to_string(&r)
                .unwrap()
                .contains("\"latency_sum_seconds\":7.5")
        );
    }

    #[test]
    fn names_the_server_refuses_are_typed_errors_and_keep_the_batch() {
        let mut b = TelemetryBatch::new();
        b.record_outcome(State::Valid, None, 0.001, T);
        for (service, instance, field) in [
            ("", "i", "service"),
            ("a b", "i", "service"),
            ("svc", "", "instance"),
            ("svc", "ü", "instance"),
        ] {
            let e = b.drain(service, instance, T).unwrap_err();
            assert_eq!(e, TelemetryError::InvalidName { field });
            assert_eq!(e.code(), "invalid_name");
            assert!(e.to_string().contains(field));
        }
        let long = "s".repeat(MAX_TELEMETRY_NAME + 1);
        assert!(b.drain(&long, "i", T).is_err());
        assert!(b.drain(&long[1..], "i", T).is_ok());
        // Only the successful drain emptied it.
        assert!(b.is_empty());

        assert_eq!(telemetry_name("web 01.example", "x"), "web-01.example");
        assert_eq!(telemetry_name("  ", "fallback"), "fallback");
        assert_eq!(
            telemetry_name(&"é".repeat(200), "x").len(),
            MAX_TELEMETRY_NAME
        );
        assert!(telemetry_name_ok(&telemetry_name("päd/ß:1", "x")));
    }

    #[test]
    fn a_clock_set_back_still_gives_a_window_that_starts_before_it_ends() {
        let mut b = TelemetryBatch::new();
        b.record_outcome(State::Valid, None, 0.001, T.saturating_add(100));
        b.record_outcome(State::Valid, None, 0.001, T.saturating_add(50));
        assert_eq!(
            b.clone()
                .drain("s", "i", T.saturating_add(60))
                .unwrap()
                .window_start,
            T.as_secs() + 50
        );
        let r = b.drain("s", "i", T).unwrap();
        assert!(server_accepts(&r));
        assert_eq!((r.window_start, r.window_end), (T.as_secs(), T.as_secs()));
    }

    #[test]
    fn an_undelivered_report_is_restored_into_the_next() {
        let mut b = TelemetryBatch::new();
        b.record_outcome(State::Invalid, Some(Reason::Expired), 0.000_04, T);
        b.record_outcome(State::Valid, None, 0.000_04, T.saturating_add(1));
        let lost = b.drain("s", "i", T.saturating_add(2)).unwrap();
        b.record_outcome(State::Valid, None, 0.02, T.saturating_add(3));
        b.restore(&lost);
        assert_eq!(b.count(), 3);
        let r = b.drain("s", "i", T.saturating_add(4)).unwrap();
        assert!(server_accepts(&r), "{r:?}");
        assert_eq!(r.window_start, T.as_secs());
        assert_eq!(r.by_state["valid"], 2);
        assert_eq!(r.by_reason["expired"], 1);
        assert_eq!(r.latency_buckets[4], 2);
        assert_eq!(r.latency_buckets[10], 3);

        // Reports of another shape are not merged.
        let mut other = r.clone();
        other.latency_bounds_seconds.pop();
        b.restore(&other);
        let mut cumulative = r;
        cumulative.cumulative = true;
        b.restore(&cumulative);
        assert!(b.is_empty());
    }
}
