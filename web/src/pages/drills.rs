//! Drills: failures rehearsed on purpose (the **Run** button here, `lifeline drill run NAME
//! --report-to URL`, or on a schedule with `lifeline serve --drills FILE.json`) and what they
//! showed. The list page has the latest result per drill (which drills pass right now) with a
//! Run button each (operators), the run in progress with its steps, and the reports, filtered
//! by drill; a report's page has the fault, what detected it and when, what the verifiers
//! saw, each expectation with what was observed, and the notes.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use lifeline_api::{DrillRun, DrillRunStatus, Role, StoredDrillReport};

use crate::api;
use crate::components::status::{Empty, ErrorNotice, Loading, Notice};
use crate::format;
use crate::router::use_location;
use crate::session::Auth;

/// The drills `lifeline drill list` names: the filter's choices and the rows of the "last
/// run" table, so a drill never run shows too.
pub const DRILLS: [&str; 16] = lifeline_api::DRILL_NAMES;

/// Reports read for the "last run" table (the server lists at most 200).
pub const SUMMARY_LIMIT: u32 = 200;

/// Reports listed below it.
pub const LIST_LIMIT: u32 = 50;

/// How often the page re-reads the server's drill runs while one runs.
pub const RUN_POLL: Duration = Duration::from_secs(1);

/// A measured time: `831 ms`, `1.9 s`, `2 min 5 s`.
pub fn elapsed(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{} s", format::fixed(ms as f64 / 1000.0, 1)),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// The latest report of each drill, by name (`reports` newest first, as the server lists).
pub fn latest_by_name(reports: &[StoredDrillReport]) -> BTreeMap<String, StoredDrillReport> {
    let mut latest = BTreeMap::new();
    for r in reports {
        latest
            .entry(r.report.name.clone())
            .or_insert_with(|| r.clone());
    }
    latest
}

/// This console's origin (`http://127.0.0.1:8080`): the server that stores reports.
fn origin() -> String {
    let location = js_sys::Reflect::get(&js_sys::global(), &"location".into()).ok();
    location
        .and_then(|l| js_sys::Reflect::get(&l, &"origin".into()).ok())
        .and_then(|o| o.as_string())
        .unwrap_or_else(|| "URL".to_owned())
}

/// The drills page (`/drills`, `/drills?name=NAME`).
#[component]
pub fn DrillsPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let initial = use_location().query("name").unwrap_or_default();
    let name = RwSignal::new(initial);
    let latest = LocalResource::new(move || api::drills(auth, None, SUMMARY_LIMIT));
    let list = LocalResource::new(move || {
        let name = name.get();
        async move { api::drills(auth, Some(&name), LIST_LIMIT).await }
    });
    let server = origin();
    let pick = Callback::new(move |drill: String| name.set(drill));
    let runs = LocalResource::new(move || api::drill_runs(auth));
    let refused = RwSignal::new(None::<api::ApiError>);
    let running = Memo::new(move |_| {
        runs.get()
            .and_then(Result::ok)
            .and_then(|runs| {
                runs.into_iter()
                    .find(|r| r.status == DrillRunStatus::Running)
            })
            .map(|r| r.name)
    });
    // While a drill runs, follow it; when it ends, its report joins the tables.
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if running.get_untracked().is_some() {
                runs.refetch();
            }
        },
        RUN_POLL,
    ) {
        on_cleanup(move || handle.clear());
    }
    let was_running = StoredValue::new(false);
    Effect::new(move |_| {
        let now = running.get().is_some();
        if was_running.get_value() && !now {
            latest.refetch();
            list.refetch();
        }
        was_running.set_value(now);
    });
    let run = Callback::new(move |drill: String| {
        spawn_local(async move {
            match api::start_drill(auth, &drill).await {
                Ok(_) => refused.set(None),
                Err(e) => refused.set(Some(e)),
            }
            runs.refetch();
        });
    });
    let can_run = auth.can(Role::Operator);
    // Drills reported that this console does not know yet are choices too.
    let extra_names = move || {
        latest
            .get()
            .and_then(Result::ok)
            .map(|reports| {
                latest_by_name(&reports)
                    .into_keys()
                    .filter(|n| !DRILLS.contains(&n.as_str()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|n| {
                let value = n.clone();
                let label = n.clone();
                view! { <option value=n selected=move || name.get() == value>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <h1>"Drills"</h1>
        <p class="hint">
            "A drill starts a local lab of server nodes and verifiers, injects one failure on purpose "
            "(an expired signing key, nodes down, a corrupted license file, a skewed clock, …), and checks "
            "that it was detected, that nobody was locked out and that everything recovered."
        </p>
        <div class="actions">
            <button type="button" class="secondary" on:click=move |_| {
                latest.refetch();
                list.refetch();
                runs.refetch();
            }>"Refresh"</button>
        </div>
        {move || refused.get().map(|e| view! { <ErrorNotice error=e/> })}
        {move || runs.get().and_then(Result::ok).and_then(|r| r.into_iter().next()).map(|r| view! {
            <DrillRunPanel run=r now=format::now()/>
        })}
        <section aria-labelledby="last-run-h">
            <h2 id="last-run-h">"Last run of each drill"</h2>
            {move || match latest.get() {
                None => view! { <Loading what="the latest results"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
                Some(Ok(reports)) => {
                    let on_run = can_run.then_some(run);
                    view! {
                        <DrillSummary reports=reports now=format::now() on_pick=pick
                            on_run=on_run running=running.get()/>
                    }.into_any()
                }
            }}
        </section>
        <section aria-labelledby="reports-h">
            <h2 id="reports-h">"Reports"</h2>
            <form class="filters" on:submit=|ev| ev.prevent_default()>
                <div class="field">
                    <label for="drill-name">"Drill"</label>
                    <select id="drill-name" on:change=move |ev| name.set(event_target_value(&ev))>
                        <option value="" selected=move || name.get().is_empty()>"any"</option>
                        {DRILLS.map(|d| view! {
                            <option value=d selected=move || name.get() == d>{d}</option>
                        })}
                        {extra_names}
                    </select>
                </div>
            </form>
            {move || match list.get() {
                None => view! { <Loading what="the drill reports"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
                Some(Ok(items)) => view! {
                    <DrillTable items=items now=format::now() drill=name.get() server=server.clone()/>
                }.into_any(),
            }}
        </section>
    }
}

/// `passed` or `failed`, with a symbol: the colour is never the only signal.
#[component]
pub fn DrillResult(passed: bool) -> impl IntoView {
    let (name, symbol) = if passed {
        ("passed", "✔")
    } else {
        ("failed", "✖")
    };
    view! {
        <span class=format!("badge drill-{name}") data-result=name>
            <span aria-hidden="true">{symbol} " "</span>
            {name}
        </span>
    }
}

/// How to get reports here: what a reader sees before the first drill ran.
#[component]
pub fn DrillsHowTo(
    #[prop(into)] server: String,
    #[prop(optional, into)] drill: String,
) -> impl IntoView {
    let name = if drill.is_empty() {
        "NAME".to_owned()
    } else {
        drill.clone()
    };
    let headline = if drill.is_empty() {
        "No drill has reported here yet.".to_owned()
    } else {
        format!("No report of the drill {drill} yet.")
    };
    view! {
        <div class="how-to" data-testid="drills-how-to">
            <p class="empty">{headline}</p>
            <p>"Press " <strong>"Run"</strong> " next to a drill above (operator role), or run one from a shell \
                against a local lab and store its report on this server (with an admin token):"</p>
            <pre class="mono" tabindex="0"><code>{format!(
                "lifeline drill list\nLIFELINE_ADMIN_TOKEN=… lifeline drill run {name} --report-to {server}"
            )}</code></pre>
            <p>
                "Scheduled drills are configured with " <code>"lifeline serve --drills FILE.json"</code>
                "; their reports land here too."
            </p>
        </div>
    }
}

/// The latest result of every drill: a known drill with no report shows as never run (with
/// no report at all, every row does; the report list below says how to run one); each row
/// offers its reports (`on_pick`) and links its latest report.
#[component]
pub fn DrillSummary(
    reports: Vec<StoredDrillReport>,
    now: u64,
    on_pick: Callback<String>,
    /// Offers a Run button per drill (an operator's console).
    #[prop(optional_no_strip)]
    on_run: Option<Callback<String>>,
    /// The drill running on the server now, if one is: every Run button waits for it.
    #[prop(optional_no_strip)]
    running: Option<String>,
) -> impl IntoView {
    let run_cell = move |name: &str| {
        on_run.map(|on_run| {
            let drill = name.to_owned();
            let (disabled, title) = match &running {
                Some(r) if r == name => (true, format!("{name} is running now")),
                Some(r) => (true, format!("One drill at a time: {r} is running")),
                None => (false, format!("Run {name} now in a lab of its own")),
            };
            view! {
                <td><button type="button" class="secondary run" data-run=name.to_owned()
                    aria-label=format!("Run {name}") title=title disabled=disabled
                    on:click=move |_| on_run.run(drill.clone())>"Run"</button></td>
            }
        })
    };
    let mut latest = latest_by_name(&reports);
    let passing = latest.values().filter(|r| r.report.passed).count();
    let failing = latest.len() - passing;
    let mut names: Vec<String> = DRILLS.iter().map(|d| (*d).to_owned()).collect();
    names.extend(
        latest
            .keys()
            .filter(|n| !DRILLS.contains(&n.as_str()))
            .cloned(),
    );
    let never = names.iter().filter(|n| !latest.contains_key(*n)).count();
    let rows = names
        .into_iter()
        .map(|name| {
            let pick = name.clone();
            match latest.remove(&name) {
                Some(r) => view! {
                    <tr data-drill=name.clone() data-result={if r.report.passed { "passed" } else { "failed" }}>
                        <th scope="row"><button type="button" class="link mono" title="Show this drill's reports"
                            on:click=move |_| on_pick.run(pick.clone())>{name.clone()}</button></th>
                        <td><DrillResult passed=r.report.passed/></td>
                        <td><a href=format!("/drills/{}", r.id)>{format::relative(r.report.started_at, now)}</a></td>
                        <td>{r.report.times.detect_ms.map_or_else(|| "not detected".to_owned(), elapsed)}</td>
                        <td>{r.report.times.recover_ms.map_or_else(|| "did not recover".to_owned(), elapsed)}</td>
                        <td>{r.report.verifiers.lockouts}</td>
                        {run_cell(&name)}
                    </tr>
                }
                .into_any(),
                None => view! {
                    <tr data-drill=name.clone() data-result="never" class="never">
                        <th scope="row" class="mono">{name.clone()}</th>
                        <td colspan="5" class="hint">"no report yet"</td>
                        {run_cell(&name)}
                    </tr>
                }
                .into_any(),
            }
        })
        .collect_view();
    let tally = if reports.is_empty() {
        format!("No drill has reported here yet: {never} drills never run.")
    } else {
        format!(
            "{passing} passing, {failing} failing, {never} never run (from the {} newest reports)",
            reports.len()
        )
    };
    view! {
        <p data-testid="drill-tally" class={if failing > 0 { "tally failing" } else { "tally" }}>{tally}</p>
        <div class="table-scroll" tabindex="0">
            <table class="drill-summary">
                <thead><tr>
                    <th scope="col">"Drill"</th><th scope="col">"Last result"</th><th scope="col">"Ran"</th>
                    <th scope="col">"Time to detect"</th><th scope="col">"Time to recover"</th><th scope="col">"Lockouts"</th>
                    {on_run.map(|_| view! { <th scope="col"><span class="sr-only">"Run"</span></th> })}
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// The latest drill run on the server: while it runs, its steps as they happen; when done,
/// its result and a link to its report (or why it could not run).
#[component]
pub fn DrillRunPanel(run: DrillRun, now: u64) -> impl IntoView {
    let (state, headline) = match run.status {
        DrillRunStatus::Running => ("running", format!("Running {} …", run.name)),
        DrillRunStatus::Passed => ("passed", format!("{} passed", run.name)),
        DrillRunStatus::Failed => ("failed", format!("{} failed", run.name)),
        DrillRunStatus::Error => ("error", format!("{} could not run", run.name)),
    };
    let when = match run.finished_at {
        Some(end) => format!(
            "started by {}, {}, took {}",
            run.started_by,
            format::relative(run.started_at, now),
            elapsed(end.saturating_sub(run.started_at).saturating_mul(1000))
        ),
        None => format!(
            "started by {}, {} ago",
            run.started_by,
            elapsed(now.saturating_sub(run.started_at).saturating_mul(1000))
        ),
    };
    let steps = run
        .steps
        .iter()
        .map(|s| view! { <li>{s.clone()}</li> })
        .collect_view();
    let outcome = match (&run.report_id, &run.error) {
        (Some(id), _) => Some(view! { <p><a data-testid="run-report" href=format!("/drills/{id}")>"Open the report"</a></p> }.into_any()),
        (None, Some(why)) => Some(view! { <p class="error">{why.clone()}</p> }.into_any()),
        (None, None) => None,
    };
    view! {
        <section class=format!("drill-run {state}") data-testid="drill-run" data-status=state
            aria-labelledby="drill-run-h" role="status" aria-live="polite">
            <h2 id="drill-run-h">{headline}</h2>
            <p class="hint">{when}</p>
            {(run.status == DrillRunStatus::Running).then(|| view! {
                <progress aria-label="Drill in progress"></progress>
            })}
            <ol class="steps mono" tabindex="0" aria-label="Steps of the run">{steps}</ol>
            {outcome}
        </section>
    }
}

/// Reports, newest first: each row links to the report. Empty, it says how to run a drill
/// (`drill`: the filter in force, `server`: where to report).
#[component]
pub fn DrillTable(
    items: Vec<StoredDrillReport>,
    now: u64,
    #[prop(optional, into)] drill: String,
    #[prop(into)] server: String,
) -> impl IntoView {
    if items.is_empty() {
        return view! { <DrillsHowTo server=server drill=drill/> }.into_any();
    }
    let rows = items
        .into_iter()
        .map(|s| {
            let r = &s.report;
            let result = if r.passed { "passed" } else { "failed" };
            view! {
                <tr data-report=s.id.clone() data-drill=r.name.clone() data-result=result>
                    <td><a class="mono" href=format!("/drills/{}", s.id)>{r.name.clone()}</a></td>
                    <td><DrillResult passed=r.passed/></td>
                    <td title=format::date_time(r.started_at)>{format::relative(r.started_at, now)}</td>
                    <td data-field="detect">{r.times.detect_ms.map_or_else(|| "not detected".to_owned(), elapsed)}</td>
                    <td data-field="recover">{r.times.recover_ms.map_or_else(|| "did not recover".to_owned(), elapsed)}</td>
                    <td data-field="lockouts" class={if r.verifiers.lockouts > 0 { "lockouts" } else { "" }}>
                        {r.verifiers.lockouts}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="drills">
                <thead><tr>
                    <th scope="col">"Drill"</th><th scope="col">"Result"</th><th scope="col">"Ran"</th>
                    <th scope="col">"Time to detect"</th><th scope="col">"Time to recover"</th><th scope="col">"Lockouts"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// One report's page (`/drills/:id`).
#[component]
pub fn DrillDetailPage(id: String) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let report = LocalResource::new(move || {
        let id = id.clone();
        async move { api::drill(auth, &id).await }
    });
    view! {
        <p><a href="/drills">"← Drills"</a></p>
        {move || match report.get() {
            None => view! { <Loading what="the drill report"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(r)) => view! { <DrillReportView stored=r now=format::now()/> }.into_any(),
        }}
    }
}

/// Counts by name as a table (`what`: the column's title).
#[component]
fn Counts(
    counts: BTreeMap<String, u64>,
    #[prop(into)] what: String,
    #[prop(into)] empty: String,
) -> impl IntoView {
    if counts.is_empty() {
        return view! { <Empty text=empty/> }.into_any();
    }
    let class = format!("counts {}", what.to_lowercase());
    let rows = counts
        .into_iter()
        .map(|(k, n)| view! { <tr data-key=k.clone()><td class="mono">{k.clone()}</td><td>{n}</td></tr> })
        .collect_view();
    view! {
        <table class=class>
            <thead><tr><th scope="col">{what}</th><th scope="col">"Verdicts"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// A drill report: fault, detection, times, what verifiers saw, each expectation with what
/// was observed, notes.
#[component]
pub fn DrillReportView(stored: StoredDrillReport, now: u64) -> impl IntoView {
    let StoredDrillReport {
        id,
        received_at,
        received_from,
        report: r,
    } = stored;
    let result = if r.passed { "passed" } else { "failed" };
    let unmet = r.expectations.iter().filter(|e| !e.met).count();
    let verdict_line = if r.passed {
        view! { <Notice kind="ok" text=format!("Every expectation held ({}).", r.expectations.len())/> }
    } else {
        view! { <Notice kind="error" text=format!("{unmet} of {} expectations failed.", r.expectations.len())/> }
    };
    let v = r.verifiers;
    let expectations = r
        .expectations
        .into_iter()
        .map(|e| {
            let met = if e.met { "met" } else { "failed" };
            view! {
                <li class=format!("expectation {met}") data-met=e.met.to_string()>
                    <span class="mark" aria-hidden="true">{if e.met { "✔" } else { "✖" }}</span>
                    <div>
                        <strong class="status">{met}</strong> " · " <span class="expected">{e.expected.clone()}</span>
                        <div class="observed hint">"Observed: " {e.observed.clone()}</div>
                    </div>
                </li>
            }
        })
        .collect_view();
    let notes = if r.notes.is_empty() {
        view! { <Empty text="No notes."/> }.into_any()
    } else {
        view! { <ul class="notes">{r.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul> }
            .into_any()
    };
    let name = r.name.clone();
    view! {
        <article class="drill" data-report=id.clone() data-drill=r.name.clone() data-result=result>
            <h1><span class="mono">{r.name.clone()}</span> " " <DrillResult passed=r.passed/></h1>
            {verdict_line}
            <dl class="record">
                <dt>"Fault"</dt><dd data-field="fault">{r.fault.clone()}</dd>
                <dt>"Detected by"</dt><dd data-field="detected-by">
                    {r.detected_by.clone().unwrap_or_else(|| "not detected by the servers".to_owned())}</dd>
                <dt>"Time to detect"</dt><dd data-field="detect">
                    {r.times.detect_ms.map_or_else(|| "not detected".to_owned(), elapsed)}</dd>
                <dt>"Time to recover"</dt><dd data-field="recover">
                    {r.times.recover_ms.map_or_else(|| "did not recover within the drill".to_owned(), elapsed)}</dd>
                <dt>"Whole drill"</dt><dd data-field="total">{elapsed(r.times.total_ms)}</dd>
                <dt>"Ran"</dt><dd>{format::when(r.started_at, now)}</dd>
                <dt>"Reported"</dt><dd>{format!("{} by {received_from}", format::date_time(received_at))}</dd>
                <dt>"Report"</dt><dd class="mono">{id.clone()}</dd>
            </dl>
            <p><a href=format!("/drills?name={name}")>"All reports of this drill"</a></p>
            <section aria-labelledby="expectations-h">
                <h2 id="expectations-h">"Expectations"</h2>
                <ul class="expectations">{expectations}</ul>
            </section>
            <section aria-labelledby="verifiers-h">
                <h2 id="verifiers-h">"What the verifiers saw"</h2>
                <dl class="totals" data-testid="verifier-totals">
                    <dt>"Checks"</dt><dd data-field="checks">{v.checks}</dd>
                    <dt>"Usable"</dt><dd data-field="usable">{v.usable}</dd>
                    <dt>"Lockouts"</dt><dd data-field="lockouts" class={if v.lockouts > 0 { "lockouts" } else { "" }}>{v.lockouts}</dd>
                </dl>
                <p class="hint">"A lockout is a check that refused a license which should have been usable."</p>
                <div class="counts-grid">
                    <Counts counts=v.states what="State" empty="No verdicts."/>
                    <Counts counts=v.reasons what="Reason" empty="No verdict carried a reason."/>
                </div>
            </section>
            <section aria-labelledby="notes-h">
                <h2 id="notes-h">"Notes"</h2>
                {notes}
            </section>
        </article>
    }
}
