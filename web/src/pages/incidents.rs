//! Incidents the rules opened: the list (open, acknowledged, resolved; by rule and since
//! when) and one incident's page (what fired, its evidence, who is affected, its timeline),
//! where an operator acknowledges it and adds notes.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lifeline_api::{INCIDENT_RULES, Incident, IncidentDetail, IncidentStatus, Role};
use serde_json::Value;

use crate::api::{self, ApiError, IncidentQuery};
use crate::components::health::SeverityBadge;
use crate::components::status::{Empty, ErrorNotice, Loading, Notice};
use crate::format;
use crate::session::Auth;

/// The API's name of an incident status.
pub const fn status_name(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Open => "open",
        IncidentStatus::Acknowledged => "acknowledged",
        IncidentStatus::Resolved => "resolved",
    }
}

fn parse_status(name: &str) -> Option<IncidentStatus> {
    [
        IncidentStatus::Open,
        IncidentStatus::Acknowledged,
        IncidentStatus::Resolved,
    ]
    .into_iter()
    .find(|s| status_name(*s) == name)
}

/// The incidents page (`/incidents`).
#[component]
pub fn IncidentsPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let status = RwSignal::new(None::<IncidentStatus>);
    let rule = RwSignal::new(String::new());
    let since_days = RwSignal::new(0u64);
    let list = LocalResource::new(move || {
        let q = IncidentQuery {
            status: status.get(),
            rule: rule.get(),
            since: match since_days.get() {
                0 => None,
                days => Some(format::now().saturating_sub(days * 86_400)),
            },
            limit: 200,
        };
        async move { api::incidents(auth, &q).await }
    });
    view! {
        <h1>"Incidents"</h1>
        <p class="hint">
            "The rules engine opens an incident when a rule fires (failure ratios, latency, an unreachable node, "
            "a signing key near expiry, publication failures, reason surges, degraded verdicts) and resolves it when the condition clears."
        </p>
        <form class="filters" on:submit=|ev| ev.prevent_default()>
            <div class="field">
                <label for="incident-status">"Status"</label>
                <select id="incident-status" on:change=move |ev| status.set(parse_status(&event_target_value(&ev)))>
                    <option value="">"any"</option>
                    <option value="open">"open"</option>
                    <option value="acknowledged">"acknowledged"</option>
                    <option value="resolved">"resolved"</option>
                </select>
            </div>
            <div class="field">
                <label for="incident-rule">"Rule"</label>
                <select id="incident-rule" on:change=move |ev| rule.set(event_target_value(&ev))>
                    <option value="">"any"</option>
                    {INCIDENT_RULES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="incident-since">"Opened"</label>
                <select id="incident-since" on:change=move |ev| {
                    since_days.set(event_target_value(&ev).parse().unwrap_or(0));
                }>
                    <option value="0">"any time"</option>
                    <option value="1">"in the last 24 hours"</option>
                    <option value="7">"in the last 7 days"</option>
                    <option value="30">"in the last 30 days"</option>
                </select>
            </div>
        </form>
        {move || match list.get() {
            None => view! { <Loading what="the incidents"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(items)) => {
                let filtered = status.with(Option::is_some) || !rule.with(String::is_empty) || since_days.get() != 0;
                let empty = if filtered {
                    "No incidents match these filters."
                } else {
                    "No incidents yet: none of the rules has fired on this server."
                };
                view! { <IncidentTable items=items now=format::now() empty=empty/> }.into_any()
            }
        }}
    }
}

/// Incidents, newest first: each row links to its page.
#[component]
pub fn IncidentTable(
    items: Vec<Incident>,
    now: u64,
    #[prop(optional, into)] empty: Option<String>,
) -> impl IntoView {
    if items.is_empty() {
        let text = empty.unwrap_or_else(|| "No incidents match these filters.".to_owned());
        return view! { <Empty text=text/> }.into_any();
    }
    let rows = items
        .into_iter()
        .map(|i| {
            let status = status_name(i.status);
            view! {
                <tr data-incident=i.id.clone() data-status=status>
                    <td><SeverityBadge severity=i.severity/></td>
                    <td><a href=format!("/incidents/{}", i.id)>{i.title.clone()}</a>
                        <div class="hint mono">{i.rule.clone()} " · " {i.subject.clone()}</div></td>
                    <td class=format!("incident-status {status}")>{status}</td>
                    <td>{format::when(i.opened_at, now)}</td>
                    <td>{i.resolved_at.map(|t| format::when(t, now)).unwrap_or_else(|| "—".to_owned())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="incidents">
                <thead><tr>
                    <th scope="col">"Severity"</th><th scope="col">"Incident"</th><th scope="col">"Status"</th>
                    <th scope="col">"Opened"</th><th scope="col">"Resolved"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// One incident's page (`/incidents/:id`).
#[component]
pub fn IncidentDetailPage(id: String) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let id = StoredValue::new(id);
    let id = move || id.get_value();
    let detail = LocalResource::new(move || {
        let id = id();
        async move { api::incident(auth, &id).await }
    });
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let act =
        move |call: std::pin::Pin<Box<dyn Future<Output = Result<IncidentDetail, ApiError>>>>| {
            busy.set(true);
            spawn_local(async move {
                match call.await {
                    Ok(_) => {
                        error.set(None);
                        detail.refetch();
                    }
                    Err(e) => error.set(Some(e)),
                }
                busy.set(false);
            });
        };
    let on_acknowledge = Callback::new(move |()| {
        let id = id();
        act(Box::pin(async move {
            api::acknowledge_incident(auth, &id).await
        }));
    });
    let on_note = Callback::new(move |(text, resolve): (String, bool)| {
        let id = id();
        act(Box::pin(async move {
            api::note_incident(auth, &id, &text, resolve).await
        }));
    });
    view! {
        <p><a href="/incidents">"← Incidents"</a></p>
        {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
        {move || match detail.get() {
            None => view! { <Loading what="the incident"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(d)) => view! {
                <IncidentView detail=d now=format::now() can_act=auth.can(Role::Operator)
                    busy=busy on_acknowledge=on_acknowledge on_note=on_note/>
            }.into_any(),
        }}
    }
}

/// An incident: what fired, who is affected, the evidence, the timeline; acknowledge, add a
/// note, or resolve it saying why (in the note) when `can_act` (operator and above).
#[component]
pub fn IncidentView(
    detail: IncidentDetail,
    now: u64,
    can_act: bool,
    #[prop(into)] busy: Signal<bool>,
    on_acknowledge: Callback<()>,
    on_note: Callback<(String, bool)>,
) -> impl IntoView {
    let IncidentDetail {
        incident: i,
        timeline,
    } = detail;
    let status = status_name(i.status);
    let note = RwSignal::new(String::new());
    let acknowledged = i.acknowledged_at.map(|t| {
        format!(
            "{} by {}",
            format::date_time(t),
            i.acknowledged_by.clone().unwrap_or_default()
        )
    });
    let events = timeline
        .into_iter()
        .map(|e| {
            view! {
                <li class=format!("event {}", e.kind) data-kind=e.kind.clone()>
                    <span class="when">{format::date_time(e.at)}</span> " "
                    <strong>{e.kind.clone()}</strong> " · " <span class="hint">{e.actor.clone()}</span>
                    <div class="text">{e.text.clone()}</div>
                </li>
            }
        })
        .collect_view();
    let can_acknowledge = can_act && i.status == IncidentStatus::Open;
    let can_resolve = can_act && i.status != IncidentStatus::Resolved;
    let submit = move |resolve: bool| {
        let text = note.get_untracked();
        if !text.trim().is_empty() {
            on_note.run((text.trim().to_owned(), resolve));
            note.set(String::new());
        }
    };
    view! {
        <article class="incident" data-incident=i.id.clone() data-status=status>
            <h1>{i.title.clone()}</h1>
            <p><SeverityBadge severity=i.severity/> " "
                <span class=format!("incident-status {status}") data-testid="incident-status">{status}</span></p>
            <dl class="record">
                <dt>"Rule"</dt><dd class="mono">{i.rule.clone()}</dd>
                <dt>"Subject"</dt><dd class="mono">{i.subject.clone()}</dd>
                <dt>"Opened"</dt><dd>{format::when(i.opened_at, now)}</dd>
                <dt>"Acknowledged"</dt><dd data-testid="acknowledged">{acknowledged.unwrap_or_else(|| "not yet".to_owned())}</dd>
                <dt>"Resolved"</dt><dd>{i.resolved_at.map_or_else(|| "not yet".to_owned(), format::date_time)}</dd>
            </dl>
            <Show when=move || can_acknowledge>
                <div class="actions">
                    <button type="button" data-testid="acknowledge" disabled=move || busy.get()
                        on:click=move |_| on_acknowledge.run(())>"Acknowledge"</button>
                </div>
            </Show>
            <section aria-labelledby="affected-h">
                <h2 id="affected-h">"Affected"</h2>
                <JsonFields value=i.affected.clone() empty="Nothing named as affected."/>
            </section>
            <section aria-labelledby="evidence-h">
                <h2 id="evidence-h">"Evidence"</h2>
                <JsonFields value=i.evidence.clone() empty="No evidence recorded."/>
            </section>
            <section aria-labelledby="timeline-h">
                <h2 id="timeline-h">"Timeline"</h2>
                <ol class="timeline">{events}</ol>
                <Show when=move || can_act>
                    <form class="note-form" on:submit=move |ev| {
                        ev.prevent_default();
                        submit(false);
                    }>
                        <label for="incident-note">"Add a note to the timeline"</label>
                        <textarea id="incident-note" rows="3" maxlength="4096"
                            prop:value=move || note.get()
                            on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                        <button type="submit" data-testid="add-note"
                            disabled=move || busy.get() || note.get().trim().is_empty()>"Add note"</button>
                        <Show when=move || can_resolve>
                            " "
                            <button type="button" class="secondary" data-testid="resolve"
                                title="Resolve it; the note says why (a rule's incident opens again if its condition still holds)"
                                disabled=move || busy.get() || note.get().trim().is_empty()
                                on:click=move |_| submit(true)>"Add note and resolve"</button>
                        </Show>
                    </form>
                </Show>
                <Show when=move || !can_act>
                    <Notice kind="info" text="Acknowledging, notes and resolving need the operator role."/>
                </Show>
            </section>
        </article>
    }
}

/// A JSON object's members as a definition list (arrays joined, nested objects as JSON).
#[component]
pub fn JsonFields(value: Value, #[prop(into)] empty: String) -> impl IntoView {
    let members: Vec<(String, String)> = value
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), json_text(v))).collect())
        .unwrap_or_default();
    if members.is_empty() {
        return view! { <Empty text=empty/> }.into_any();
    }
    view! {
        <dl class="record">
            {members.into_iter().map(|(k, v)| view! {
                <dt>{k.clone()}</dt><dd class="mono" data-field=k>{v}</dd>
            }).collect_view()}
        </dl>
    }
    .into_any()
}

/// A JSON value for people: strings bare, arrays joined with commas, the rest as JSON.
pub fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "—".to_owned(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}
