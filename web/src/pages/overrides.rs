//! Temporary overrides: the responder's lever to keep authentic licenses usable during an
//! incident. List, create (active at once up to 72 h, else waiting for a second admin),
//! approve, revoke.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lifeline_api::{
    CreateOverride, OverrideEffect, OverrideRecord, OverrideScope, OverrideStatus, Role,
};

use crate::api::{self, ApiError};
use crate::components::confirm::ConfirmDialog;
use crate::components::status::{Empty, ErrorNotice, Loading, Notice};
use crate::format;
use crate::session::Auth;

/// Overrides longer than this need a second admin's approval (the server's rule).
pub const MAX_UNAPPROVED_HOURS: u64 = 72;

/// The overrides page.
#[component]
pub fn OverridesPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let status = RwSignal::new(None::<OverrideStatus>);
    let list = LocalResource::new(move || {
        let s = status.get();
        async move { api::overrides(auth, s).await }
    });
    let revoking = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let revoke_open = RwSignal::new(false);
    Effect::new(move || revoke_open.set(revoking.get().is_some()));
    let on_revoke = Callback::new(move |reason: String| {
        let Some(id) = revoking.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match api::revoke_override(auth, &id, &reason).await {
                Ok(_) => {
                    error.set(None);
                    revoking.set(None);
                    list.refetch();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    });
    let on_approve = Callback::new(move |id: String| {
        spawn_local(async move {
            match api::approve_override(auth, &id).await {
                Ok(_) => {
                    error.set(None);
                    list.refetch();
                }
                Err(e) => error.set(Some(e)),
            }
        });
    });
    let on_revoke_ask = Callback::new(move |id: String| revoking.set(Some(id)));
    view! {
        <h1>"Overrides"</h1>
        <p class="hint">
            "An override keeps authentic licenses usable while an incident is fixed: after an expiry or a signing-key window closed by mistake. "
            "It never rescues a forged token, a revoked key or a revoked license, and ends at its expiry. Verifiers get it in "
            <code>"validate"</code> " answers and the signed bundle at " <a href="/api/v1/overrides/bundle">"/api/v1/overrides/bundle"</a>
            ". With the server down: " <code>"lifeline override mint --key EMERGENCY.jwk …"</code> "."
        </p>
        <Show when=move || auth.can(Role::Operator)>
            <CreateOverrideForm on_created=Callback::new(move |()| list.refetch())/>
        </Show>
        <div class="filters">
            <div class="field">
                <label for="override-status">"Status"</label>
                <select id="override-status" on:change=move |ev| {
                    status.set(parse_status(&event_target_value(&ev)));
                }>
                    <option value="">"any"</option>
                    <option value="active">"active"</option>
                    <option value="pending_approval">"pending approval"</option>
                    <option value="expired">"expired"</option>
                    <option value="revoked">"revoked"</option>
                </select>
            </div>
        </div>
        {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
        {move || match list.get() {
            None => view! { <Loading what="overrides"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(items)) => view! {
                <OverrideTable
                    items=items
                    now=format::now()
                    can_revoke=auth.can(Role::Operator)
                    can_approve=auth.can(Role::Admin)
                    on_revoke=on_revoke_ask
                    on_approve=on_approve
                />
            }.into_any(),
        }}
        <ConfirmDialog
            open=revoke_open
            title="Revoke this override"
            message="It leaves the bundle and validate answers at once (other nodes within seconds). A token already handed out stays valid offline until it ends."
            confirm_label="Revoke"
            busy=busy
            on_confirm=on_revoke
        />
    }
}

fn parse_status(text: &str) -> Option<OverrideStatus> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

/// `license acme-1`, `everything`, …
pub fn describe_scope(scope: &OverrideScope) -> String {
    match scope {
        OverrideScope::License(id) => format!("license {id}"),
        OverrideScope::Licensee(l) => format!("licensee {l}"),
        OverrideScope::Product(p) => format!("product {p}"),
        OverrideScope::All => "every license".to_owned(),
    }
}

/// `treat as valid`, `+ sso, audit`, `grace + 2 days`.
pub fn describe_effect(effect: &OverrideEffect) -> String {
    match effect {
        OverrideEffect::Valid => "treat as valid".to_owned(),
        OverrideEffect::Entitlements { add } => format!("+ {}", add.join(", ")),
        OverrideEffect::ExtendGrace { secs } => format!("grace + {}", format::duration(*secs)),
    }
}

fn status_name(status: OverrideStatus) -> &'static str {
    match status {
        OverrideStatus::Active => "active",
        OverrideStatus::PendingApproval => "pending approval",
        OverrideStatus::Expired => "expired",
        OverrideStatus::Revoked => "revoked",
    }
}

/// Overrides as a table, with the actions the role allows.
#[component]
pub fn OverrideTable(
    items: Vec<OverrideRecord>,
    now: u64,
    can_revoke: bool,
    can_approve: bool,
    on_revoke: Callback<String>,
    on_approve: Callback<String>,
) -> impl IntoView {
    if items.is_empty() {
        return view! { <Empty text="No overrides."/> }.into_any();
    }
    let rows = items
        .into_iter()
        .map(|o| {
            let id = o.id.clone();
            let live = matches!(o.status, OverrideStatus::Active | OverrideStatus::PendingApproval);
            let approve = (can_approve && o.status == OverrideStatus::PendingApproval).then(|| {
                let id = id.clone();
                view! { <button type="button" on:click=move |_| on_approve.run(id.clone())>"Approve"</button> }
            });
            let revoke = (can_revoke && live).then(|| {
                let id = id.clone();
                view! { <button type="button" class="danger" on:click=move |_| on_revoke.run(id.clone())>"Revoke…"</button> }
            });
            let status_class = match o.status {
                OverrideStatus::Active => "state-valid",
                OverrideStatus::PendingApproval => "state-grace",
                _ => "state-revoked",
            };
            view! {
                <tr data-override=o.id.clone() data-status=status_name(o.status)>
                    <td class="mono">{o.id.clone()}</td>
                    <td>{describe_scope(&o.scope)}</td>
                    <td>{describe_effect(&o.effect)}</td>
                    <td><span class=format!("badge {status_class}")>{status_name(o.status)}</span></td>
                    <td>{format::when(o.expires_at, now)}</td>
                    <td>{o.reason.clone()} <br/> <small>{format!("incident {}", o.incident)}</small></td>
                    <td>{o.created_by.clone()}{o.approved_by.clone().map(|a| format!("; approved by {a}"))}</td>
                    <td class="actions">{approve}{revoke}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="overrides">
                <thead><tr>
                    <th scope="col">"Override"</th><th scope="col">"Covers"</th><th scope="col">"Effect"</th>
                    <th scope="col">"Status"</th><th scope="col">"Ends"</th><th scope="col">"Why"</th>
                    <th scope="col">"By"</th><th scope="col">"Actions"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The create form's fields, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverrideForm {
    /// `all`, `license`, `licensee` or `product`.
    pub scope_kind: String,
    /// The license id, licensee or product.
    pub scope_value: String,
    /// `valid`, `entitlements` or `extend_grace`.
    pub effect_kind: String,
    /// Entitlements (comma-separated) or extra grace hours.
    pub effect_value: String,
    /// Duration in hours.
    pub hours: String,
    /// Why.
    pub reason: String,
    /// The incident reference.
    pub incident: String,
}

/// Checks the create form's fields and builds the request, or says what to fix.
pub fn override_request(form: &OverrideForm, now: u64) -> Result<CreateOverride, String> {
    let OverrideForm {
        scope_kind,
        scope_value,
        effect_kind,
        effect_value,
        hours,
        reason,
        incident,
    } = form;
    let value = scope_value.trim().to_owned();
    let scope = match scope_kind.as_str() {
        "all" => OverrideScope::All,
        _ if value.is_empty() => return Err("Name what the override covers.".to_owned()),
        "license" => OverrideScope::License(value),
        "licensee" => OverrideScope::Licensee(value),
        "product" => OverrideScope::Product(value),
        _ => return Err("Choose what the override covers.".to_owned()),
    };
    let effect = match effect_kind.as_str() {
        "valid" => OverrideEffect::Valid,
        "entitlements" => {
            let add: Vec<String> = effect_value
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
            if add.is_empty() {
                return Err("List the entitlements to grant.".to_owned());
            }
            OverrideEffect::Entitlements { add }
        }
        "extend_grace" => match effect_value.trim().parse::<u64>() {
            Ok(h) if h > 0 => OverrideEffect::ExtendGrace { secs: h * 3600 },
            _ => return Err("Give the extra grace in whole hours.".to_owned()),
        },
        _ => return Err("Choose what the override does.".to_owned()),
    };
    let hours = match hours.trim().parse::<u64>() {
        Ok(h) if (1..=720).contains(&h) => h,
        _ => return Err("The override lasts 1 to 720 hours.".to_owned()),
    };
    if reason.trim().is_empty() || incident.trim().is_empty() {
        return Err("Give a reason and the incident reference.".to_owned());
    }
    Ok(CreateOverride {
        scope,
        effect,
        expires_at: now + hours * 3600,
        reason: reason.trim().to_owned(),
        incident: incident.trim().to_owned(),
    })
}

#[component]
fn CreateOverrideForm(on_created: Callback<()>) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let scope_kind = RwSignal::new("license".to_owned());
    let scope_value = RwSignal::new(String::new());
    let effect_kind = RwSignal::new("valid".to_owned());
    let effect_value = RwSignal::new(String::new());
    let hours = RwSignal::new("24".to_owned());
    let reason = RwSignal::new(String::new());
    let incident = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // What the form can offer to pick from (free text stays possible): the products, the
    // licenses of the first page (their ids and licensees) and the open incidents.
    let products = LocalResource::new(move || api::products(auth));
    let licenses = LocalResource::new(move || async move {
        let q = api::LicenseQuery {
            limit: 200,
            ..api::LicenseQuery::default()
        };
        api::licenses(auth, &q).await
    });
    let open_incidents = LocalResource::new(move || async move {
        let q = api::IncidentQuery {
            status: Some(lifeline_api::IncidentStatus::Open),
            limit: 50,
            ..api::IncidentQuery::default()
        };
        api::incidents(auth, &q).await
    });
    let choices = move || -> Vec<(String, String)> {
        match scope_kind.get().as_str() {
            "product" => products
                .get()
                .and_then(Result::ok)
                .map(|ps| ps.into_iter().map(|p| (p.id, p.name)).collect())
                .unwrap_or_default(),
            kind => {
                let page = licenses
                    .get()
                    .and_then(Result::ok)
                    .map(|p| p.items)
                    .unwrap_or_default();
                let mut out: Vec<(String, String)> = if kind == "licensee" {
                    page.into_iter()
                        .map(|l| (l.licensee, String::new()))
                        .collect()
                } else {
                    page.into_iter()
                        .map(|l| (l.id, format!("{} · {}", l.licensee, l.product)))
                        .collect()
                };
                out.sort();
                out.dedup();
                out
            }
        }
    };
    let which_hint = move || match scope_kind.get().as_str() {
        "product" => "A product id: pick one or type it.",
        "licensee" => "A licensee's name, exactly as on its licenses: pick one or type it.",
        _ => "A license id: pick one by its licensee, or paste the id.",
    };
    let long = move || {
        hours.with(|h| {
            h.trim()
                .parse::<u64>()
                .is_ok_and(|h| h > MAX_UNAPPROVED_HOURS)
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = OverrideForm {
            scope_kind: scope_kind.get_untracked(),
            scope_value: scope_value.get_untracked(),
            effect_kind: effect_kind.get_untracked(),
            effect_value: effect_value.get_untracked(),
            hours: hours.get_untracked(),
            reason: reason.get_untracked(),
            incident: incident.get_untracked(),
        };
        let request = match override_request(&form, format::now()) {
            Ok(r) => r,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match api::create_override(auth, &request).await {
                Ok(o) => {
                    done.set(Some(match o.status {
                        OverrideStatus::PendingApproval => {
                            format!("Override {} waits for a second admin's approval.", o.id)
                        }
                        _ => format!("Override {} is active.", o.id),
                    }));
                    on_created.run(());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="issue-form" on:submit=submit aria-label="Create an override">
            <div class="field">
                <label for="ovr-scope">"Covers"</label>
                <select id="ovr-scope" on:change=move |ev| scope_kind.set(event_target_value(&ev))>
                    <option value="license">"one license (id)"</option>
                    <option value="licensee">"one licensee"</option>
                    <option value="product">"one product (id)"</option>
                    <option value="all">"every license"</option>
                </select>
            </div>
            <Show when=move || scope_kind.get() != "all">
                <div class="field">
                    <label for="ovr-scope-value">"Which"</label>
                    <input id="ovr-scope-value" list="ovr-scope-choices" aria-describedby="ovr-scope-hint"
                        prop:value=move || scope_value.get()
                        on:input=move |ev| scope_value.set(event_target_value(&ev))/>
                    <datalist id="ovr-scope-choices">
                        {move || choices().into_iter().map(|(value, label)| view! { <option value=value label=label/> }).collect_view()}
                    </datalist>
                    <p id="ovr-scope-hint" class="hint">{which_hint}</p>
                </div>
            </Show>
            <div class="field">
                <label for="ovr-effect">"Effect"</label>
                <select id="ovr-effect" on:change=move |ev| effect_kind.set(event_target_value(&ev))>
                    <option value="valid">"treat as valid"</option>
                    <option value="entitlements">"grant entitlements"</option>
                    <option value="extend_grace">"extend grace"</option>
                </select>
            </div>
            <Show when=move || effect_kind.get() != "valid">
                <div class="field">
                    <label for="ovr-effect-value">
                        {move || if effect_kind.get() == "entitlements" { "Entitlements (comma-separated)" } else { "Extra grace (hours)" }}
                    </label>
                    <input id="ovr-effect-value" prop:value=move || effect_value.get()
                        on:input=move |ev| effect_value.set(event_target_value(&ev))/>
                </div>
            </Show>
            <div class="field">
                <label for="ovr-hours">"Lasts (hours)"</label>
                <input id="ovr-hours" type="number" min="1" max="720" prop:value=move || hours.get()
                    on:input=move |ev| hours.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="ovr-reason">"Reason"</label>
                <input id="ovr-reason" prop:value=move || reason.get()
                    on:input=move |ev| reason.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="ovr-incident">"Incident"</label>
                <input id="ovr-incident" list="ovr-incident-choices" aria-describedby="ovr-incident-hint"
                    placeholder="INC-1234" prop:value=move || incident.get()
                    on:input=move |ev| incident.set(event_target_value(&ev))/>
                <datalist id="ovr-incident-choices">
                    {move || open_incidents.get().and_then(Result::ok).unwrap_or_default().into_iter()
                        .map(|i| view! { <option value=i.id.clone() label=i.title/> }).collect_view()}
                </datalist>
                <p id="ovr-incident-hint" class="hint">"An open incident (pick one) or your own tracker's reference."</p>
            </div>
            <Show when=long>
                <Notice kind="warn" text="Longer than 72 hours: it waits for a second admin's approval."/>
            </Show>
            {move || error.get().map(|e| view! { <Notice kind="error" text=e/> })}
            {move || done.get().map(|d| view! { <Notice kind="info" text=d/> })}
            <button type="submit" disabled=move || busy.get()>"Create override"</button>
        </form>
    }
}
