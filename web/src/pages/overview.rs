//! What is broken, for whom, since when: licenses by state, what expires soon, and this
//! node's validation traffic over the last hour. Refreshes every 10 seconds.

use std::time::Duration;

use leptos::prelude::*;
use lifeline_api::{MinuteStats, Overview};

use crate::api;
use crate::components::chart::{LineChart, Series};
use crate::components::license_table::LicenseTable;
use crate::components::status::{Empty, ErrorNotice, Loading};
use crate::format;
use crate::session::Auth;

/// How often the overview reloads.
pub const REFRESH: Duration = Duration::from_secs(10);

/// The name of the `performance.mark` set when the overview first shows data (the
/// end-to-end test reads it as the time to first render).
pub const RENDERED_MARK: &str = "lifeline:overview-rendered";

/// The overview page.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let data = LocalResource::new(move || api::overview(auth));
    if let Ok(handle) = set_interval_with_handle(move || data.refetch(), REFRESH) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <h1>"Overview"</h1>
        {move || match data.get() {
            None => view! { <Loading what="the overview"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(o)) => {
                mark_rendered();
                view! { <OverviewView overview=o/> }.into_any()
            }
        }}
    }
}

fn mark_rendered() {
    let performance = web_sys::window().and_then(|w| w.performance());
    if let Some(p) = performance
        && p.get_entries_by_name(RENDERED_MARK).length() == 0
    {
        let _ = p.mark(RENDERED_MARK);
    }
}

/// The overview's figures (no fetching: the component tests mount it with known data).
#[component]
pub fn OverviewView(overview: Overview) -> impl IntoView {
    let Overview {
        now,
        licenses: counts,
        expiring_window_s,
        expiring_soon_total,
        expiring_soon,
        validation,
        failures_by_reason,
        edge,
        edge_failures_by_reason,
        services,
        open_incidents,
        seats,
        seats_nearly_full,
    } = overview;
    let seats_view = if seats.is_empty() {
        view! { <Empty text="No license with seats yet."/> }.into_any()
    } else {
        view! {
            <table class="seat-use">
                <thead><tr><th scope="col">"Product"</th><th scope="col">"In use"</th><th scope="col">"Sold"</th><th scope="col">"Used"</th></tr></thead>
                <tbody>
                    {seats.into_iter().map(|p| view! {
                        <tr data-product=p.product.clone()><th scope="row">{p.product.clone()}</th><td>{p.in_use}</td><td>{p.sold}</td><td>{format::percent(p.in_use, p.sold)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any()
    };
    let nearly_full = if seats_nearly_full.is_empty() {
        view! { <Empty text="No license uses 90 % of its seats or more."/> }.into_any()
    } else {
        view! {
            <table class="seats-nearly-full">
                <thead><tr><th scope="col">"Licensee"</th><th scope="col">"Product"</th><th scope="col">"Seats in use"</th></tr></thead>
                <tbody>
                    {seats_nearly_full.into_iter().map(|l| view! {
                        <tr data-license=l.license_id.clone()>
                            <th scope="row"><a href=format!("/licenses/{}", l.license_id)>{l.licensee}</a></th>
                            <td>{l.product}</td>
                            <td>{format!("{} of {}", l.in_use, l.seats)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any()
    };
    let (edge_rate, _, _) = validation_series(&edge, now);
    let edge_total: u64 = edge.iter().map(|m| m.requests).sum();
    let edge_failures: u64 = edge.iter().map(|m| m.failures).sum();
    let edge_reasons = reason_table(
        edge_failures_by_reason,
        edge_failures,
        "No unusable verdicts reported by verifiers in the last hour.",
    );
    let services_view = if services.is_empty() {
        view! { <Empty text="No verifier has reported telemetry yet (POST /api/v1/telemetry)."/> }
            .into_any()
    } else {
        view! {
            <table class="services">
                <thead><tr><th scope="col">"Service"</th><th scope="col">"Instances"</th><th scope="col">"Last report"</th></tr></thead>
                <tbody>
                    {services.into_iter().map(|s| view! {
                        <tr><th scope="row">{s.service}</th><td>{s.instances}</td><td>{format::relative(s.last_seen, now)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any()
    };
    let (rate, ratio, latency) = validation_series(&validation, now);
    let total: u64 = validation.iter().map(|m| m.requests).sum();
    let errors: u64 = validation.iter().map(|m| m.errors).sum();
    let failures: u64 = validation.iter().map(|m| m.failures).sum();
    let card = |state: &'static str, label: &'static str, n: u64| {
        view! {
            <a class=format!("card state-{state}") href=format!("/licenses?state={state}") data-count=state>
                <span class="count">{n}</span>
                <span class="label">{label}</span>
            </a>
        }
    };
    let reasons = reason_table(
        failures_by_reason,
        failures,
        "No unusable verdicts in the last hour.",
    );
    let expiring = if expiring_soon.is_empty() {
        view! { <Empty text="Nothing expires in this window."/> }.into_any()
    } else {
        view! { <LicenseTable licenses=expiring_soon now=now/> }.into_any()
    };
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    view! {
        <div class="overview" data-ready="overview">
            <p class="updated">"As of " {format::date_time(now)} " · refreshes every 10 s"</p>
            <section aria-labelledby="states-h">
                <h2 id="states-h">"Licenses by state"</h2>
                <div class="cards">
                    {card("valid", "valid", counts.valid)}
                    {card("grace", "in grace", counts.grace)}
                    {card("expired", "expired", counts.expired)}
                    {card("revoked", "revoked", counts.revoked)}
                    <div class="card state-invalid" data-count="incidents">
                        <span class="count">{open_incidents}</span>
                        <span class="label">"open incidents"</span>
                    </div>
                    <a class="card state-override" href="/overrides" data-count="overridden">
                        <span class="count">{counts.overridden}</span>
                        <span class="label">"kept usable by an override"</span>
                    </a>
                </div>
            </section>
            <section aria-labelledby="traffic-h">
                <h2 id="traffic-h">"Validation, last hour (this node)"</h2>
                <dl class="totals">
                    <dt>"Requests"</dt><dd data-testid="requests">{total}</dd>
                    <dt>"Per minute (avg)"</dt><dd>{format::fixed(total as f64 / 60.0, 1)}</dd>
                    <dt>"Error rate"</dt><dd data-testid="error-rate">{format::percent(errors, total)}</dd>
                    <dt>"Unusable verdicts"</dt><dd data-testid="failure-rate">{format::percent(failures, total)}</dd>
                </dl>
                <div class="charts">
                    <LineChart title="Validations per minute" unit="requests" series=Signal::stored(rate)
                        empty=format!("No validations in the last hour: point a client at {origin} (lifeline check --server {origin}, or the JS Client).")/>
                    <LineChart title="Errors and unusable verdicts" unit="% of requests" series=Signal::stored(ratio)
                        empty=if total == 0 { "No validations in the last hour, so no errors." } else { "No errors and no unusable verdicts in the last hour." }/>
                    <LineChart title="Latency" unit="ms" series=Signal::stored(latency)
                        empty="No validations in the last hour, so no latency to show."/>
                </div>
            </section>
            <section aria-labelledby="edge-h">
                <h2 id="edge-h">"At the edge, last hour (verifier telemetry)"</h2>
                <dl class="totals">
                    <dt>"Verdicts"</dt><dd data-testid="edge-verdicts">{edge_total}</dd>
                    <dt>"Unusable"</dt><dd>{format::percent(edge_failures, edge_total)}</dd>
                </dl>
                <div class="charts">
                    <LineChart title="Verdicts at the edge per minute" unit="verdicts" series=Signal::stored(edge_rate)
                        empty=format!("No verdicts from verifiers in the last hour: they post them to {origin}/api/v1/telemetry.")/>
                </div>
                {edge_reasons}
                {services_view}
            </section>
            <section aria-labelledby="reasons-h">
                <h2 id="reasons-h">"Unusable verdicts by reason, last hour"</h2>
                {reasons}
            </section>
            <section aria-labelledby="seats-h">
                <h2 id="seats-h">"Seats by product"</h2>
                {seats_view}
                <h3>"Licenses at 90 % of their seats or more " <a href="/licenses?seats=nearly-full">"(all)"</a></h3>
                {nearly_full}
            </section>
            <section aria-labelledby="expiring-h">
                <h2 id="expiring-h">
                    {format!("Expiring within {}: {expiring_soon_total}", format::duration(expiring_window_s))}
                </h2>
                {expiring}
            </section>
        </div>
    }
}

/// The three charts' series from per-minute stats: (requests and unusable verdicts per
/// minute, error and failure percentages, latency percentiles in ms). x is minutes before `now`.
pub fn validation_series(
    minutes: &[MinuteStats],
    now: u64,
) -> (Vec<Series>, Vec<Series>, Vec<Series>) {
    let x = |m: &MinuteStats| -((now.saturating_sub(m.start)) as f64 / 60.0);
    let line = |label: &str, color, f: &dyn Fn(&MinuteStats) -> Option<f64>| Series {
        label: label.to_owned(),
        color,
        points: minutes
            .iter()
            .filter_map(|m| f(m).map(|y| (x(m), y)))
            .collect(),
    };
    let share = |part: u64, whole: u64| (whole > 0).then(|| part as f64 * 100.0 / whole as f64);
    let rate = vec![
        line("requests", (37, 99, 235), &|m| Some(m.requests as f64)),
        line("unusable", (220, 38, 38), &|m| Some(m.failures as f64)),
    ];
    let ratio = vec![
        line("errors %", (234, 88, 12), &|m| share(m.errors, m.requests)),
        line("unusable %", (220, 38, 38), &|m| {
            share(m.failures, m.requests)
        }),
    ];
    let latency = vec![
        line("p50", (22, 163, 74), &|m| m.p50_ms),
        line("p95", (234, 179, 8), &|m| m.p95_ms),
        line("p99", (220, 38, 38), &|m| m.p99_ms),
    ];
    (rate, ratio, latency)
}

/// Unusable verdicts by reason, as a table with a share column (or a sentence when none).
fn reason_table(rows: Vec<lifeline_api::ReasonCount>, total: u64, empty: &'static str) -> AnyView {
    if rows.is_empty() {
        return view! { <Empty text=empty/> }.into_any();
    }
    let top = rows.first().map_or(1, |r| r.count.max(1));
    view! {
        <table class="reasons">
            <thead><tr><th scope="col">"Reason"</th><th scope="col">"Verdicts"</th><th scope="col">"Share"</th></tr></thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|r| {
                        // Set through the CSSOM (style:width), not a style attribute, which
                        // the console's Content-Security-Policy refuses.
                        let width = format!("{}%", r.count * 100 / top);
                        view! {
                            <tr>
                                <th scope="row"><code>{r.reason}</code></th>
                                <td>{r.count}<span class="bar" style:width=width aria-hidden="true"></span></td>
                                <td>{format::percent(r.count, total)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
