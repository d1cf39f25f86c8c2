//! `GET /metrics` (Prometheus text format) and the middleware that counts every request.

use std::fmt::Write as _;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::keys::KEY_MAX_AGE_SECS;
use crate::metrics::family;
use crate::problem::{AppError, StoreFailure};

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
    if response.extensions().get::<StoreFailure>().is_some() {
        state.metrics().store_error();
    }
    state
        .metrics()
        .http_request(route, method, response.status().as_u16());
    response
}

/// `GET /metrics`.
pub(crate) async fn scrape(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let mut out = String::new();
    state.metrics().render(&mut out);
    family(
        &mut out,
        "lifeline_store_write_stall_seconds",
        "gauge",
        "How long this node's writes have been failing beyond two heartbeat intervals (0 when the store takes writes; above 0, /readyz answers 503 store_unwritable).",
    );
    let _ = writeln!(
        out,
        "lifeline_store_write_stall_seconds {}",
        state.store_write_stall()
    );
    // From the store at most every few seconds, however many scrape (figures.rs).
    let figures = state.store_figures().await?;
    let (counts, expiring) = (&figures.counts, &figures.expiring);
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
    for (within, n) in ["7d", "30d"].iter().zip(expiring) {
        let _ = writeln!(out, "lifeline_licenses_expiring{{within=\"{within}\"}} {n}");
    }
    let seats = &figures.seats;
    family(
        &mut out,
        "lifeline_seats_in_use",
        "gauge",
        "Live seats by product (lingering ones included).",
    );
    for (product, used, _) in seats {
        let _ = writeln!(
            out,
            "lifeline_seats_in_use{{product=\"{}\"}} {used}",
            label(product)
        );
    }
    family(
        &mut out,
        "lifeline_seats_sold",
        "gauge",
        "Seats sold by product, on licenses neither revoked nor past their grace.",
    );
    for (product, _, sold) in seats {
        let _ = writeln!(
            out,
            "lifeline_seats_sold{{product=\"{}\"}} {sold}",
            label(product)
        );
    }
    family(
        &mut out,
        "lifeline_incidents_open",
        "gauge",
        "Incidents not resolved (open or acknowledged), by severity.",
    );
    for (severity, n) in ["warning", "critical"].iter().zip(figures.incidents_open) {
        let _ = writeln!(
            out,
            "lifeline_incidents_open{{severity=\"{severity}\"}} {n}"
        );
    }
    family(
        &mut out,
        "lifeline_webhook_backlog",
        "gauge",
        "Webhook messages waiting for delivery (neither delivered nor given up).",
    );
    let _ = writeln!(out, "lifeline_webhook_backlog {}", figures.webhook_backlog);
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
            lifeline_api::KeyStatus::Compromised => "compromised",
        };
        let _ = writeln!(
            out,
            "lifeline_signing_key_expiration_timestamp_seconds{{kid=\"{}\",status=\"{status}\"}} {expires}",
            k.kid
        );
    }
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

/// A label value escaped for the text format (product ids are `a-z 0-9 . _ -` already).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
