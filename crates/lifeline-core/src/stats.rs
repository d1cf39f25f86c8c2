//! Verifier-side telemetry: verdict counts by state and reason and a latency histogram,
//! renderable as Prometheus text. Pure: the caller measures durations and passes them in.

use core::fmt::Write as _;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Reason, State, Verdict};

/// Upper bounds (seconds) of the latency histogram's buckets; a final `+Inf` bucket is implied.
pub const LATENCY_BUCKETS_SECS: [f64; 12] = [
    0.000_002, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005,
    0.025, 0.1,
];

/// Counts and latencies of the verdicts one verifier gave.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyStats {
    /// Verdicts by state (`valid`, `grace`, `invalid`, `override`).
    pub by_state: BTreeMap<&'static str, u64>,
    /// Verdicts by reason code (valid verdicts have none and are not counted here).
    pub by_reason: BTreeMap<&'static str, u64>,
    /// Latency histogram: cumulative counts per bucket of [`LATENCY_BUCKETS_SECS`], then `+Inf`.
    pub latency_buckets: Vec<u64>,
    /// The buckets' upper bounds in seconds (without `+Inf`).
    pub latency_bounds_secs: Vec<f64>,
    /// Sum of all measured durations, seconds.
    pub latency_sum_secs: f64,
    /// Number of verdicts recorded.
    pub count: u64,
}

impl Default for VerifyStats {
    fn default() -> Self {
        Self {
            by_state: BTreeMap::new(),
            by_reason: BTreeMap::new(),
            latency_buckets: vec![0; LATENCY_BUCKETS_SECS.len() + 1],
            latency_bounds_secs: LATENCY_BUCKETS_SECS.to_vec(),
            latency_sum_secs: 0.0,
            count: 0,
        }
    }
}

impl VerifyStats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one verdict and how long producing it took.
    pub fn record(&mut self, verdict: &Verdict, elapsed_secs: f64) {
        self.record_outcome(verdict.state(), verdict.reason(), elapsed_secs);
    }

    /// Records an outcome given as state and reason.
    pub fn record_outcome(&mut self, state: State, reason: Option<Reason>, elapsed_secs: f64) {
        *self.by_state.entry(state.as_str()).or_default() += 1;
        if let Some(reason) = reason {
            *self.by_reason.entry(reason.as_str()).or_default() += 1;
        }
        let elapsed = if elapsed_secs.is_finite() && elapsed_secs > 0.0 {
            elapsed_secs
        } else {
            0.0
        };
        for (bound, bucket) in LATENCY_BUCKETS_SECS
            .iter()
            .zip(self.latency_buckets.iter_mut())
        {
            if elapsed <= *bound {
                *bucket += 1;
            }
        }
        if let Some(inf) = self.latency_buckets.last_mut() {
            *inf += 1;
        }
        self.latency_sum_secs += elapsed;
        self.count += 1;
    }

    /// Records an outcome whose duration is unknown but beyond every bound (e.g. +∞): the
    /// `+Inf` bucket only, nothing added to the sum.
    pub(crate) fn record_unbounded(&mut self, state: State, reason: Option<Reason>) {
        *self.by_state.entry(state.as_str()).or_default() += 1;
        if let Some(reason) = reason {
            *self.by_reason.entry(reason.as_str()).or_default() += 1;
        }
        if let Some(inf) = self.latency_buckets.last_mut() {
            *inf += 1;
        }
        self.count += 1;
    }

    /// The statistics in the Prometheus text exposition format, metric names starting with
    /// `prefix` (e.g. `lifeline_verifier`).
    pub fn to_prometheus(&self, prefix: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {prefix}_verdicts_total Verdicts given, by state."
        );
        let _ = writeln!(out, "# TYPE {prefix}_verdicts_total counter");
        for state in [
            State::Valid,
            State::Grace,
            State::Invalid,
            State::Override,
            State::Offline,
        ] {
            let n = self.by_state.get(state.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{prefix}_verdicts_total{{state=\"{}\"}} {n}",
                state.as_str()
            );
        }
        let _ = writeln!(
            out,
            "# HELP {prefix}_reasons_total Verdicts that were not plainly valid, by reason code."
        );
        let _ = writeln!(out, "# TYPE {prefix}_reasons_total counter");
        for reason in Reason::ALL {
            let n = self.by_reason.get(reason.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{prefix}_reasons_total{{reason=\"{}\"}} {n}",
                reason.as_str()
            );
        }
        let name = format!("{prefix}_verify_duration_seconds");
        let _ = writeln!(out, "# HELP {name} Time to verify one license.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, n) in LATENCY_BUCKETS_SECS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.latency_sum_secs);
        let _ = writeln!(out, "{name}_count {}", self.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_states_reasons_and_cumulative_buckets() {
        let mut stats = VerifyStats::new();
        stats.record_outcome(State::Valid, None, 0.000_003);
        stats.record_outcome(State::Invalid, Some(Reason::Expired), 0.000_07);
        stats.record_outcome(State::Grace, Some(Reason::GracePeriod), 2.0);
        stats.record_outcome(State::Invalid, Some(Reason::Expired), f64::NAN);
        assert_eq!(stats.count, 4);
        assert_eq!(stats.by_state["invalid"], 2);
        assert_eq!(stats.by_reason["expired"], 2);
        // le=2µs: only the NaN (counted as 0); le=5µs: + 3µs; le=100µs: + 70µs; +Inf: all.
        assert_eq!(stats.latency_buckets[0], 1);
        assert_eq!(stats.latency_buckets[1], 2);
        assert_eq!(stats.latency_buckets[5], 3);
        assert_eq!(*stats.latency_buckets.last().unwrap(), 4);
        let text = stats.to_prometheus("lifeline_verifier");
        assert!(
            text.contains("lifeline_verifier_verdicts_total{state=\"invalid\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("lifeline_verifier_reasons_total{reason=\"expired\"} 2\n"));
        assert!(text.contains("lifeline_verifier_verify_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("lifeline_verifier_verify_duration_seconds_count 4\n"));
        assert!(text.contains("# TYPE lifeline_verifier_verify_duration_seconds histogram\n"));
    }
}
