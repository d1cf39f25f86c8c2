//! Prometheus metrics: validation outcomes and latency, HTTP requests by route and status,
//! license counts by state, signing-key expiry, store errors, failed authentications.
//! Labels never carry a license id or licensee: cardinality stays bounded. Validations also
//! feed the per-minute series of the overview (`series.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::series::VALIDATE_LATENCY_BOUNDS_SECS;

/// In-process counters.
#[derive(Debug, Default)]
pub struct Metrics {
    validations: Mutex<BTreeMap<(&'static str, String), u64>>,
    latency: Mutex<(Vec<u64>, f64, u64)>,
    http: Mutex<BTreeMap<(String, String, u16), u64>>,
    series: crate::series::Series,
    edge: crate::telemetry::Edge,
    publish_failures: Mutex<BTreeMap<&'static str, u64>>,
    publish_series: crate::series::Series,
    store_errors: AtomicU64,
    /// Seat requests by (request, result).
    seat_requests: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Seats ended, by cause.
    seat_ends: Mutex<BTreeMap<&'static str, u64>>,
    /// Outage seconds this node's sweeps recorded (never counted against a seat).
    seat_paused_secs: AtomicU64,
    /// Activations refused for want of a seat, by license.
    seat_denials: crate::seats::activity::Activity,
    /// New seats, by licensee.
    seat_activations: crate::seats::activity::Activity,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Records one `validate` verdict (`result`: its state), answered at `now` (unix
    /// seconds) in `secs`. The `validate` route calls it; drills and tests may add synthetic
    /// traffic through it.
    pub fn validation(
        &self,
        now: u64,
        result: &'static str,
        reason: Option<&'static str>,
        secs: f64,
    ) {
        *lock(&self.validations)
            .entry((result, reason.unwrap_or("").to_owned()))
            .or_default() += 1;
        let unusable = (result == "invalid").then_some(reason.unwrap_or("unknown"));
        self.series.verdict(now, unusable, secs);
        let mut h = lock(&self.latency);
        if h.0.is_empty() {
            h.0 = vec![0; VALIDATE_LATENCY_BOUNDS_SECS.len()];
        }
        for (bound, n) in VALIDATE_LATENCY_BOUNDS_SECS.iter().zip(h.0.iter_mut()) {
            if secs <= *bound {
                *n += 1;
            }
        }
        h.1 += secs;
        h.2 += 1;
    }

    /// Records one `validate` request answered with an error status instead of a verdict.
    pub(crate) fn validation_error(&self, now: u64) {
        self.series.error(now);
    }

    /// The per-minute series of `validate` traffic.
    pub(crate) fn series(&self) -> &crate::series::Series {
        &self.series
    }

    /// The field verifiers' telemetry received by this node.
    pub(crate) fn edge(&self) -> &crate::telemetry::Edge {
        &self.edge
    }

    /// Records a failure to publish signed state at `now`: `what` is `status_list`,
    /// `override_bundle` or `lease` (a 5xx answer where a signed document was due, or a
    /// signing error). The `publication_failures` rule watches these.
    pub fn publish_failure(&self, now: u64, what: &'static str) {
        *lock(&self.publish_failures).entry(what).or_default() += 1;
        self.publish_series.verdict(now, Some(what), 0.0);
    }

    /// Publication failures by what failed over the last `secs` seconds up to `now`.
    pub(crate) fn recent_publish_failures(&self, now: u64, secs: u64) -> BTreeMap<String, u64> {
        self.publish_series.recent(now, secs).reasons
    }

    /// Counts one request answered, by its route pattern (never the raw path).
    pub(crate) fn http_request(&self, route: String, method: String, status: u16) {
        *lock(&self.http).entry((route, method, status)).or_default() += 1;
    }

    /// Counts one seat request (`activate`, `heartbeat`, `release`, `borrow`) by its result
    /// (`granted`, `renewed`, `released`, or the refusal code).
    pub(crate) fn seat_request(&self, request: &'static str, result: &'static str) {
        *lock(&self.seat_requests)
            .entry((request, result))
            .or_default() += 1;
    }

    /// Counts an activation refused for want of a seat on `license` at `now`.
    pub(crate) fn seat_denied(&self, license: &str, now: u64) {
        self.seat_denials.add(license, now);
    }

    /// Counts a new seat of `licensee` at `now`.
    pub(crate) fn seat_activated(&self, licensee: &str, now: u64) {
        self.seat_activations.add(licensee, now);
    }

    /// Refused activations by license: (in the last `secs`, in the rest of the hour).
    pub(crate) fn recent_seat_denials(&self, now: u64, secs: u64) -> BTreeMap<String, (u64, u64)> {
        self.seat_denials.recent(now, secs)
    }

    /// New seats by licensee: (in the last `secs`, in the rest of the hour).
    pub(crate) fn recent_seat_activations(
        &self,
        now: u64,
        secs: u64,
    ) -> BTreeMap<String, (u64, u64)> {
        self.seat_activations.recent(now, secs)
    }

    /// Counts seats ended (`released`, `expired`, `admin`).
    pub(crate) fn seat_ended(&self, cause: &'static str, n: u64) {
        *lock(&self.seat_ends).entry(cause).or_default() += n;
    }

    /// Adds outage seconds a sweep recorded.
    pub(crate) fn seat_reclaim_paused(&self, secs: u64) {
        self.seat_paused_secs.fetch_add(secs, Ordering::Relaxed);
    }

    /// Counts a request or a background pass that failed because the store did.
    pub(crate) fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes this node's counters in the Prometheus text format.
    pub(crate) fn render(&self, out: &mut String) {
        family(
            out,
            "lifeline_validations_total",
            "counter",
            "Validation answers by result and reason.",
        );
        for ((result, reason), n) in lock(&self.validations).iter() {
            let _ = writeln!(
                out,
                "lifeline_validations_total{{result=\"{result}\",reason=\"{reason}\"}} {n}"
            );
        }
        let h = lock(&self.latency);
        family(
            out,
            "lifeline_validation_duration_seconds",
            "histogram",
            "Time to answer a validation.",
        );
        for (i, bound) in VALIDATE_LATENCY_BOUNDS_SECS.iter().enumerate() {
            let _ = writeln!(
                out,
                "lifeline_validation_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                h.0.get(i).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(
            out,
            "lifeline_validation_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            h.2
        );
        let _ = writeln!(out, "lifeline_validation_duration_seconds_sum {}", h.1);
        let _ = writeln!(out, "lifeline_validation_duration_seconds_count {}", h.2);
        drop(h);
        family(
            out,
            "lifeline_http_requests_total",
            "counter",
            "HTTP requests by route, method and status.",
        );
        for ((route, method, status), n) in lock(&self.http).iter() {
            let _ = writeln!(
                out,
                "lifeline_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        family(
            out,
            "lifeline_publish_failures_total",
            "counter",
            "Failures to publish signed state (status list, override bundle, lease).",
        );
        let failures = lock(&self.publish_failures);
        for what in ["status_list", "override_bundle", "lease"] {
            let n = failures.get(what).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "lifeline_publish_failures_total{{what=\"{what}\"}} {n}"
            );
        }
        drop(failures);
        family(
            out,
            "lifeline_edge_verdicts_total",
            "counter",
            "Field verifiers' verdicts reported through telemetry, by service and state.",
        );
        for (service, state, n) in self.edge.totals() {
            let _ = writeln!(
                out,
                "lifeline_edge_verdicts_total{{service=\"{service}\",state=\"{state}\"}} {n}"
            );
        }
        family(
            out,
            "lifeline_edge_reasons_total",
            "counter",
            "Field verifiers' verdicts reported through telemetry, by service and reason code.",
        );
        for (service, reason, n) in self.edge.reason_totals() {
            let _ = writeln!(
                out,
                "lifeline_edge_reasons_total{{service=\"{service}\",reason=\"{reason}\"}} {n}"
            );
        }
        family(
            out,
            "lifeline_seat_requests_total",
            "counter",
            "Machines' seat requests by request (activate, heartbeat, release, borrow) and result (granted, renewed, released, or the refusal code).",
        );
        for ((request, result), n) in lock(&self.seat_requests).iter() {
            let _ = writeln!(
                out,
                "lifeline_seat_requests_total{{request=\"{request}\",result=\"{result}\"}} {n}"
            );
        }
        family(
            out,
            "lifeline_seat_ends_total",
            "counter",
            "Seats ended by cause: released (by the machine), expired (reclaimed: no heartbeat for heartbeat_s of service time), admin.",
        );
        let ends = lock(&self.seat_ends);
        for cause in ["released", "expired", "admin"] {
            let n = ends.get(cause).copied().unwrap_or(0);
            let _ = writeln!(out, "lifeline_seat_ends_total{{cause=\"{cause}\"}} {n}");
        }
        drop(ends);
        family(
            out,
            "lifeline_seat_reclaim_paused_seconds_total",
            "counter",
            "Outage seconds this node's seat sweeps recorded: time that never counts against a seat.",
        );
        let _ = writeln!(
            out,
            "lifeline_seat_reclaim_paused_seconds_total {}",
            self.seat_paused_secs.load(Ordering::Relaxed)
        );
        family(
            out,
            "lifeline_store_errors_total",
            "counter",
            "Requests and background passes that failed because the store did.",
        );
        let _ = writeln!(
            out,
            "lifeline_store_errors_total {}",
            self.store_errors.load(Ordering::Relaxed)
        );
    }
}

/// Writes the `# HELP` and `# TYPE` lines that open a metric family.
pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}
