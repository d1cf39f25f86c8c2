//! Prometheus metrics: validation outcomes and latency, HTTP requests by route and status,
//! license counts by state, signing-key expiry, store errors, failed authentications.
//! Labels never carry a license id or licensee: cardinality stays bounded. Validations also
//! feed the per-minute series of the overview (`series.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::series::VALIDATE_LATENCY_BOUNDS_SECS;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{AppError, AppState};

/// Signing keys are expected to be rotated within this long; a key's expiration timestamp is
/// its `not_after`, or its creation plus this.
pub const KEY_MAX_AGE_SECS: u64 = 365 * 86_400;

/// Store operations that failed since start.
pub(crate) static STORE_ERRORS: AtomicU64 = AtomicU64::new(0);

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

    fn render(&self, out: &mut String) {
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
    }
}

/// Writes the `# HELP` and `# TYPE` lines that open a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Middleware: counts every request by its route pattern (never the raw path).
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    if response.status().is_server_error() {
        let what = match route.as_str() {
            "/api/v1/status-list" => Some("status_list"),
            "/api/v1/overrides/bundle" => Some("override_bundle"),
            _ => None,
        };
        if let Some(what) = what {
            state.metrics().publish_failure(crate::clock::now(), what);
        }
    }
    *lock(&state.metrics().http)
        .entry((route, method, response.status().as_u16()))
        .or_default() += 1;
    response
}

/// `GET /metrics`.
pub(crate) async fn scrape(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let mut out = String::new();
    state.metrics().render(&mut out);
    let (counts, expiring) = crate::licenses::census(
        state.store(),
        crate::clock::now(),
        &[7 * 86_400, 30 * 86_400],
    )
    .await?;
    family(&mut out, "lifeline_licenses", "gauge", "Licenses by state.");
    for (state_name, n) in [
        ("valid", counts.valid),
        ("grace", counts.grace),
        ("expired", counts.expired),
        ("revoked", counts.revoked),
    ] {
        let _ = writeln!(out, "lifeline_licenses{{state=\"{state_name}\"}} {n}");
    }
    family(
        &mut out,
        "lifeline_licenses_expiring",
        "gauge",
        "Valid licenses expiring within a window.",
    );
    for (within, n) in ["7d", "30d"].iter().zip(&expiring) {
        let _ = writeln!(out, "lifeline_licenses_expiring{{within=\"{within}\"}} {n}");
    }
    let ring = state.keys().await?;
    family(
        &mut out,
        "lifeline_signing_key_expiration_timestamp_seconds",
        "gauge",
        &format!(
            "When each signing key stops signing (not_after, or creation + {KEY_MAX_AGE_SECS} s for the active key)."
        ),
    );
    for k in &ring.infos {
        let expires = k
            .not_after
            .unwrap_or(k.created_at.saturating_add(KEY_MAX_AGE_SECS));
        let status = match k.status {
            lifeline_api::KeyStatus::Active => "active",
            lifeline_api::KeyStatus::Retired => "retired",
        };
        let _ = writeln!(
            out,
            "lifeline_signing_key_expiration_timestamp_seconds{{kid=\"{}\",status=\"{status}\"}} {expires}",
            k.kid
        );
    }
    family(
        &mut out,
        "lifeline_store_errors_total",
        "counter",
        "Store operations that failed.",
    );
    let _ = writeln!(
        out,
        "lifeline_store_errors_total {}",
        STORE_ERRORS.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "lifeline_auth_failures_total",
        "counter",
        "Requests refused for a missing, unknown, expired or revoked token.",
    );
    let _ = writeln!(
        out,
        "lifeline_auth_failures_total {}",
        state.failed_auth_count()
    );
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    ))
}
