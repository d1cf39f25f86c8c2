//! This node's `validate` traffic over the last hour, one bucket per minute: requests,
//! errors, unusable verdicts by reason and a latency histogram, for `GET /api/v1/overview`.
//!
//! A ring of 60 buckets keyed by unix minute: a bucket whose minute has passed is reset when
//! its slot is reused, so memory stays fixed and nothing needs a timer. The percentile maths
//! are pure functions over histogram counts.

use std::collections::BTreeMap;
use std::sync::Mutex;

use lifeline_api::{MinuteStats, ReasonCount};

/// Minutes kept.
pub(crate) const MINUTES: usize = 60;

/// Upper bounds (seconds) of the server's `validate` latency histogram: the core's
/// (`lifeline_core::LATENCY_BUCKETS_SECS`, verify alone) followed by slower ones, since an
/// answer also waits for the store (the p99 rule's threshold, 250 ms, is one of them).
pub const VALIDATE_LATENCY_BOUNDS_SECS: [f64; 18] = [
    0.000_002, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005,
    0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Histogram slots: one per bound of [`VALIDATE_LATENCY_BOUNDS_SECS`], then the overflow.
pub(crate) const SLOTS: usize = VALIDATE_LATENCY_BOUNDS_SECS.len() + 1;

#[derive(Clone, Debug, Default)]
struct Bucket {
    /// Unix minute (seconds / 60) this bucket counts; meaningless while `requests == 0`.
    minute: u64,
    requests: u64,
    errors: u64,
    failures: u64,
    /// Verdict latencies per slot (not cumulative).
    latency: [u64; SLOTS],
    reasons: BTreeMap<&'static str, u64>,
}

/// The last hour of `validate` traffic, per minute.
#[derive(Debug)]
pub(crate) struct Series {
    ring: Mutex<Vec<Bucket>>,
}

impl Default for Series {
    fn default() -> Self {
        Self {
            ring: Mutex::new(vec![Bucket::default(); MINUTES]),
        }
    }
}

impl Series {
    /// The bucket for `now` (unix seconds), reset when it still holds an older minute.
    fn with_bucket(&self, now: u64, f: impl FnOnce(&mut Bucket)) {
        let minute = now / 60;
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = usize::try_from(minute % MINUTES as u64).unwrap_or(0);
        if let Some(bucket) = ring.get_mut(slot) {
            if bucket.minute != minute {
                *bucket = Bucket {
                    minute,
                    ..Bucket::default()
                };
            }
            f(bucket);
        }
    }

    /// One verdict answered in `secs`; `unusable_reason` is set for an `invalid` verdict.
    pub(crate) fn verdict(&self, now: u64, unusable_reason: Option<&'static str>, secs: f64) {
        self.with_bucket(now, |b| {
            b.requests += 1;
            if let Some(slot) = b.latency.get_mut(slot_of(secs)) {
                *slot += 1;
            }
            if let Some(reason) = unusable_reason {
                b.failures += 1;
                *b.reasons.entry(reason).or_default() += 1;
            }
        });
    }

    /// One request answered with an error status instead of a verdict.
    pub(crate) fn error(&self, now: u64) {
        self.with_bucket(now, |b| {
            b.requests += 1;
            b.errors += 1;
        });
    }

    /// The 60 minutes up to and including `now`'s, oldest first; minutes without traffic
    /// are zero entries.
    pub(crate) fn minutes(&self, now: u64) -> Vec<MinuteStats> {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        window(now)
            .map(|minute| {
                let b = ring.iter().find(|b| b.minute == minute && b.requests > 0);
                let latency = b.map_or([0; SLOTS], |b| b.latency);
                MinuteStats {
                    start: minute * 60,
                    requests: b.map_or(0, |b| b.requests),
                    errors: b.map_or(0, |b| b.errors),
                    failures: b.map_or(0, |b| b.failures),
                    p50_ms: percentile_ms(&latency, &VALIDATE_LATENCY_BOUNDS_SECS, 0.50),
                    p95_ms: percentile_ms(&latency, &VALIDATE_LATENCY_BOUNDS_SECS, 0.95),
                    p99_ms: percentile_ms(&latency, &VALIDATE_LATENCY_BOUNDS_SECS, 0.99),
                }
            })
            .collect()
    }

    /// Unusable verdicts by reason over the 60 minutes up to `now`, most frequent first
    /// (ties by name).
    pub(crate) fn reasons(&self, now: u64) -> Vec<ReasonCount> {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let minutes = window(now);
        let mut total: BTreeMap<&'static str, u64> = BTreeMap::new();
        for b in ring.iter().filter(|b| minutes.contains(&b.minute)) {
            for (reason, n) in &b.reasons {
                *total.entry(reason).or_default() += n;
            }
        }
        sorted_reasons(total.into_iter().map(|(r, n)| (r.to_owned(), n)))
    }

    /// Totals over the last `secs` seconds up to `now` (whole minutes: the current one and
    /// the ones before it that start inside the span), for the rules engine.
    pub(crate) fn recent(&self, now: u64, secs: u64) -> Recent {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let minutes = recent_minutes(now, secs);
        let mut out = Recent::default();
        for b in ring
            .iter()
            .filter(|b| b.requests > 0 && minutes.contains(&b.minute))
        {
            out.verdicts += b.requests - b.errors;
            out.errors += b.errors;
            out.failures += b.failures;
            for (sum, n) in out.latency.iter_mut().zip(b.latency) {
                *sum += n;
            }
            for (reason, n) in &b.reasons {
                *out.reasons.entry((*reason).to_owned()).or_default() += n;
            }
        }
        out
    }
}

/// `validate` figures over a recent span (see [`Series::recent`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Recent {
    /// Verdicts answered.
    pub(crate) verdicts: u64,
    /// Requests answered with an error status.
    pub(crate) errors: u64,
    /// Unusable verdicts.
    pub(crate) failures: u64,
    /// Verdict latencies per slot of [`VALIDATE_LATENCY_BOUNDS_SECS`] plus the overflow.
    pub(crate) latency: [u64; SLOTS],
    /// Unusable verdicts by reason.
    pub(crate) reasons: BTreeMap<String, u64>,
}

impl Default for Recent {
    fn default() -> Self {
        Self {
            verdicts: 0,
            errors: 0,
            failures: 0,
            latency: [0; SLOTS],
            reasons: BTreeMap::new(),
        }
    }
}

/// Reason counts, most frequent first (ties by name).
pub(crate) fn sorted_reasons(counts: impl Iterator<Item = (String, u64)>) -> Vec<ReasonCount> {
    let mut out: Vec<ReasonCount> = counts
        .map(|(reason, count)| ReasonCount { reason, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    out
}

/// The unix minutes of the hour ending with `now`'s minute.
pub(crate) fn window(now: u64) -> std::ops::RangeInclusive<u64> {
    let last = now / 60;
    last.saturating_sub(MINUTES as u64 - 1)..=last
}

/// The unix minutes of the last `secs` seconds up to `now`: `now`'s minute and those that
/// start after `now - secs` (at least one, at most an hour).
pub(crate) fn recent_minutes(now: u64, secs: u64) -> std::ops::RangeInclusive<u64> {
    let last = now / 60;
    let count = secs.div_ceil(60).clamp(1, MINUTES as u64);
    last.saturating_sub(count - 1)..=last
}

/// The histogram slot of a duration: the first bound it does not exceed, else the overflow.
fn slot_of(secs: f64) -> usize {
    VALIDATE_LATENCY_BOUNDS_SECS
        .iter()
        .position(|bound| secs <= *bound)
        .unwrap_or(VALIDATE_LATENCY_BOUNDS_SECS.len())
}

/// The `q` quantile (0 < q ≤ 1, nearest rank) of a histogram with one count per slot of
/// `bounds` plus the overflow, as its slot's upper bound in milliseconds. `None` without
/// samples. The overflow has no upper bound: it reports the largest bound (read it as "at
/// least that").
pub(crate) fn percentile_ms(counts: &[u64], bounds: &[f64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    // Nearest rank: the smallest sample with at least q of all samples at or below it.
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    let slot = counts
        .iter()
        .position(|n| {
            seen += n;
            seen >= rank
        })
        .unwrap_or(bounds.len());
    let bound = bounds.get(slot).or(bounds.last()).copied()?;
    // Whole nanoseconds, so 2 µs reads 0.002 and not 0.0020000000000000005.
    Some((bound * 1e9).round() / 1e6)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]

    use super::*;

    fn pct(counts: &[u64; SLOTS], q: f64) -> Option<f64> {
        percentile_ms(counts, &VALIDATE_LATENCY_BOUNDS_SECS, q)
    }

    fn hist(samples: &[f64]) -> [u64; SLOTS] {
        let mut h = [0; SLOTS];
        for s in samples {
            h[slot_of(*s)] += 1;
        }
        h
    }

    #[test]
    fn percentiles_of_an_empty_histogram_are_absent() {
        assert_eq!(pct(&[0; SLOTS], 0.5), None);
        assert_eq!(pct(&[0; SLOTS], 0.99), None);
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let h = hist(&[0.000_3]); // in (250 µs, 500 µs]
        for q in [0.01, 0.5, 0.95, 0.99, 1.0] {
            assert_eq!(pct(&h, q), Some(0.5), "q={q}");
        }
    }

    #[test]
    fn bounds_are_inclusive_and_reported_in_milliseconds() {
        assert_eq!(pct(&hist(&[0.000_002]), 0.5), Some(0.002));
        assert_eq!(pct(&hist(&[0.000_002_1]), 0.5), Some(0.005));
        assert_eq!(pct(&hist(&[0.0]), 0.5), Some(0.002));
        assert_eq!(pct(&hist(&[0.1]), 0.5), Some(100.0));
    }

    #[test]
    fn all_in_the_overflow_reports_the_largest_bound() {
        let h = hist(&[11.0, 20.0, 60.0]);
        assert_eq!(h[SLOTS - 1], 3);
        assert_eq!(pct(&h, 0.5), Some(10_000.0));
        assert_eq!(pct(&h, 0.99), Some(10_000.0));
        // The slow bounds beyond the core's: 250 ms is one (the p99 rule's threshold).
        assert_eq!(pct(&hist(&[0.25]), 0.99), Some(250.0));
        assert_eq!(pct(&hist(&[0.26]), 0.99), Some(500.0));
    }

    #[test]
    fn the_server_bounds_extend_the_cores() {
        let core = lifeline_core::LATENCY_BUCKETS_SECS;
        assert_eq!(&VALIDATE_LATENCY_BOUNDS_SECS[..core.len()], &core[..]);
        assert!(VALIDATE_LATENCY_BOUNDS_SECS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn recent_sums_the_last_minutes() {
        let s = Series::default();
        let t0 = 1_700_000_000 / 60 * 60;
        s.verdict(t0, Some("bad_signature"), 0.3);
        s.verdict(t0 + 60, None, 0.000_004);
        s.error(t0 + 61);
        s.verdict(t0 + 300, Some("expired"), 0.000_004);
        let r = s.recent(t0 + 300, 300);
        assert_eq!(
            (r.verdicts, r.errors, r.failures),
            (2, 1, 1),
            "t0 is outside"
        );
        assert_eq!(r.reasons.get("expired"), Some(&1));
        let r = s.recent(t0 + 299, 300);
        assert_eq!((r.verdicts, r.failures), (2, 1));
        assert_eq!(pct(&r.latency, 0.99), Some(500.0));
        assert_eq!(recent_minutes(t0 + 30, 0), t0 / 60..=t0 / 60);
    }

    #[test]
    fn nearest_rank_over_many_samples() {
        // 90 fast (≤ 10 µs), 9 at ≤ 1 ms, 1 slow (≤ 25 ms).
        let mut samples = vec![0.000_008; 90];
        samples.extend([0.000_9; 9]);
        samples.push(0.02);
        let h = hist(&samples);
        assert_eq!(pct(&h, 0.50), Some(0.01));
        assert_eq!(pct(&h, 0.90), Some(0.01));
        assert_eq!(pct(&h, 0.91), Some(1.0));
        assert_eq!(pct(&h, 0.95), Some(1.0));
        assert_eq!(pct(&h, 0.99), Some(1.0));
        assert_eq!(pct(&h, 1.0), Some(25.0));
    }

    #[test]
    fn the_ring_keeps_an_hour_oldest_first_with_zero_minutes() {
        let s = Series::default();
        let t0 = 1_700_000_000 / 60 * 60; // start of a minute
        s.verdict(t0, None, 0.000_004);
        s.verdict(t0 + 59, Some("expired"), 0.000_004);
        s.error(t0 + 30);
        s.verdict(t0 + 120, Some("bad_signature"), 0.02);
        s.verdict(t0 + 121, Some("expired"), 0.02);
        let m = s.minutes(t0 + 150);
        assert_eq!(m.len(), MINUTES);
        assert_eq!(m[MINUTES - 1].start, t0 + 120);
        assert_eq!(m[MINUTES - 3].start, t0);
        assert_eq!(
            (
                m[MINUTES - 3].requests,
                m[MINUTES - 3].errors,
                m[MINUTES - 3].failures
            ),
            (3, 1, 1)
        );
        assert_eq!(m[MINUTES - 3].p50_ms, Some(0.005));
        assert_eq!(m[MINUTES - 2].requests, 0);
        assert_eq!(m[MINUTES - 2].p50_ms, None);
        assert_eq!(m[MINUTES - 1].p99_ms, Some(25.0));
        let reasons = s.reasons(t0 + 150);
        assert_eq!(
            reasons
                .iter()
                .map(|r| (r.reason.as_str(), r.count))
                .collect::<Vec<_>>(),
            [("expired", 2), ("bad_signature", 1)]
        );
        // An hour later the first minute has left the window; its slot is reused cleanly.
        let later = t0 + 60 * 60;
        assert!(s.minutes(later).iter().all(|m| m.start > t0));
        assert_eq!(s.reasons(later).len(), 2, "t0+120 is still inside the hour");
        s.verdict(later, None, 0.000_004);
        let m = s.minutes(later);
        assert_eq!((m[MINUTES - 1].requests, m[MINUTES - 1].failures), (1, 0));
        assert_eq!(s.reasons(later + 120).len(), 0);
    }
}
