//! One license: the server's record, the verdict this browser computes from its token, the
//! token itself, its seats (operators: release one), its audit history; revoke and extend.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lifeline_api::{ExtendLicense, License, Role, Seat};

use crate::api::{self, ApiError, AuditQuery};
use crate::components::badge::StateBadge;
use crate::components::confirm::ConfirmDialog;
use crate::components::copy::to_clipboard;
use crate::components::seats::SeatTable;
use crate::components::status::{Empty, ErrorNotice, Loading, Notice};
use crate::components::verdict::{VerdictView, disagreement, edge_verdict};
use crate::format;
use crate::pages::audit::AuditTable;
use crate::session::Auth;

/// The detail page of `/licenses/:id`.
#[component]
pub fn LicenseDetailPage(id: String) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let id = StoredValue::new(id);
    let id = move || id.get_value();
    let license = LocalResource::new(move || {
        let id = id();
        async move { api::license(auth, &id).await }
    });
    let jwks = LocalResource::new(api::public_key_set);
    let history = LocalResource::new(move || {
        let q = AuditQuery {
            subject: id(),
            limit: 50,
            ..AuditQuery::default()
        };
        async move { api::audit(auth, &q).await }
    });
    let changed = move || {
        license.refetch();
        jwks.refetch();
        history.refetch();
    };
    view! {
        <p><a href="/licenses">"← Licenses"</a></p>
        {move || match license.get() {
            None => view! { <Loading what="the license"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(l)) => view! {
                <LicenseView license=l.clone() on_changed=Callback::new(move |()| changed())/>
                <section aria-labelledby="edge-h">
                    <h2 id="edge-h">"Offline check"</h2>
                    {move || match jwks.get() {
                        None => view! { <Loading what="the public key set"/> }.into_any(),
                        Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
                        Some(Ok(keys)) => {
                            let now = format::now();
                            let differs = edge_verdict(&l.token, &keys, Some(&l.product), now)
                                .ok()
                                .and_then(|v| disagreement(l.state, l.revoked_at, &v, now));
                            view! {
                                {differs.map(|text| view! { <p class="notice warn" role="status" data-testid="verdicts-differ">{text}</p> })}
                                <VerdictView token=l.token.clone() jwks=keys audience=l.product.clone() now=now/>
                            }.into_any()
                        }
                    }}
                </section>
            }.into_any(),
        }}
        <Show when=move || auth.can(Role::Operator)>
            <SeatsSection id=id()/>
        </Show>
        <section aria-labelledby="history-h">
            <h2 id="history-h">"History"</h2>
            {move || match history.get() {
                None => view! { <Loading what="the history"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
                Some(Ok(page)) if page.items.is_empty() => view! { <Empty text="No audit events name this license."/> }.into_any(),
                Some(Ok(page)) => view! { <AuditTable events=page.items/> }.into_any(),
            }}
        </section>
    }
}

/// The record, the token with a copy button, and the actions the role allows.
#[component]
pub fn LicenseView(license: License, on_changed: Callback<()>) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let now = format::now();
    let l = license;
    let revoking = RwSignal::new(false);
    let extending = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let copied = RwSignal::new(None::<bool>);
    let new_expiry = RwSignal::new(format::date(l.expires_at.max(now) + 365 * 86_400));
    let id = l.id.clone();
    let act = move |call: std::pin::Pin<Box<dyn Future<Output = Result<License, ApiError>>>>,
                    dialog: RwSignal<bool>| {
        busy.set(true);
        spawn_local(async move {
            match call.await {
                Ok(_) => {
                    error.set(None);
                    dialog.set(false);
                    on_changed.run(());
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let revoke_id = id.clone();
    let on_revoke = Callback::new(move |reason: String| {
        let id = revoke_id.clone();
        act(
            Box::pin(async move { api::revoke(auth, &id, &reason).await }),
            revoking,
        );
    });
    let extend_id = id.clone();
    let current_expiry = l.expires_at;
    let on_extend = Callback::new(move |reason: String| {
        let Some(expires_at) = format::parse_date_end_of_day(&new_expiry.get_untracked())
            .filter(|t| *t > current_expiry)
        else {
            error.set(Some(ApiError::Decode(
                "the new expiry must be a date after the current one".to_owned(),
            )));
            return;
        };
        let id = extend_id.clone();
        let body = ExtendLicense { expires_at, reason };
        act(
            Box::pin(async move { api::extend(auth, &id, &body).await }),
            extending,
        );
    });
    let token = l.token.clone();
    let copy = move |_| {
        let token = token.clone();
        spawn_local(async move {
            copied.set(Some(to_clipboard(&token).await));
        });
    };
    let revoked = l.revoked_at.is_some();
    let record = vec![
        ("Licensee", l.licensee.clone()),
        ("Product", l.product.clone()),
        (
            "Entitlements",
            if l.entitlements.is_empty() {
                "–".to_owned()
            } else {
                l.entitlements.join(", ")
            },
        ),
        ("Issued", format::date_time(l.issued_at)),
        ("Expires", format::when(l.expires_at, now)),
        ("Grace period", format::grace(l.grace_s)),
        (
            "Seats",
            l.seats
                .map_or_else(|| "unlimited".to_owned(), |s| s.to_string()),
        ),
        ("Signing key", l.kid.clone()),
        (
            "Revoked",
            l.revoked_at.map_or_else(
                || "no".to_owned(),
                |t| {
                    format!(
                        "{} — {}",
                        format::date_time(t),
                        l.revoke_reason.clone().unwrap_or_default()
                    )
                },
            ),
        ),
    ];
    let server_says = server_verdict(&l, now);
    let why_disabled = revoked
        .then_some("A revoked license can be neither revoked again nor extended: issue a new one.");
    view! {
        <h1>{l.licensee.clone()} <span class="subtitle">{l.product.clone()}</span></h1>
        <p class="hint">"License " <code class="mono">{l.id.clone()}</code></p>
        <section aria-labelledby="server-h">
            <h2 id="server-h">"Server verdict"</h2>
            <p>
                <span data-testid="server-state"><StateBadge state=format::license_state(l.state)/></span>
                " " {server_says}
            </p>
        </section>
        {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
        <Show when=move || auth.can(Role::Operator)>
            <div class="actions">
                <button type="button" class="danger" disabled=revoked title=why_disabled
                    aria-describedby=why_disabled.map(|_| "why-disabled") on:click=move |_| revoking.set(true)>"Revoke…"</button>
                <button type="button" disabled=revoked title=why_disabled
                    aria-describedby=why_disabled.map(|_| "why-disabled") on:click=move |_| extending.set(true)>"Extend…"</button>
                {why_disabled.map(|text| view! { <p id="why-disabled" class="hint" data-testid="why-disabled">{text}</p> })}
            </div>
        </Show>
        <dl class="record">
            {record.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
        </dl>
        <section aria-labelledby="token-h">
            <h2 id="token-h">"Token"</h2>
            <label for="token-text" class="sr-only">"License token"</label>
            <textarea id="token-text" class="token mono" readonly=true rows="4">{l.token.clone()}</textarea>
            <button type="button" class="secondary" on:click=copy>"Copy token"</button>
            {move || copied.get().map(|ok| if ok {
                view! { <Notice kind="info" text="Copied to the clipboard."/> }
            } else {
                view! { <Notice kind="warn" text="The browser refused the clipboard: select the token and copy it."/> }
            })}
        </section>
        <ConfirmDialog
            open=revoking
            title="Revoke this license"
            message=format!("{} will stop working at its next online check (and at once for edge verifiers that read the status list).", l.licensee)
            confirm_label="Revoke"
            busy=busy
            on_confirm=on_revoke
        />
        <ConfirmDialog
            open=extending
            title="Extend this license"
            message="The license is re-signed with the same id and a later expiry; hand the new token to the licensee."
            confirm_label="Extend"
            busy=busy
            on_confirm=on_extend
        >
            <label for="extend-date">"New expiry (UTC, end of day)"</label>
            <input id="extend-date" type="date" prop:value=move || new_expiry.get()
                on:input=move |ev| new_expiry.set(event_target_value(&ev))/>
        </ConfirmDialog>
    }
}

/// The server's verdict in words: what its state means for the licensee now.
fn server_verdict(l: &License, now: u64) -> String {
    use lifeline_api::LicenseState;
    match l.state {
        LicenseState::Valid => format!(
            "Online checks accept it; it expires {}.",
            format::when(l.expires_at, now)
        ),
        LicenseState::Grace => format!(
            "Expired {}; online checks accept it during its grace period, until {}.",
            format::relative(l.expires_at, now),
            format::when(l.expires_at.saturating_add(l.grace_s), now)
        ),
        LicenseState::Expired => format!(
            "Expired {}: online checks refuse it.",
            format::when(l.expires_at, now)
        ),
        LicenseState::Revoked => format!(
            "Revoked {}: online checks refuse it{}.",
            l.revoked_at
                .map_or_else(String::new, |t| format::when(t, now)),
            l.revoke_reason
                .as_deref()
                .filter(|r| !r.is_empty())
                .map(|r| format!(" (reason: {r})"))
                .unwrap_or_default()
        ),
    }
}

/// The license's seats (operators), with a release per held seat (a reason, audited).
#[component]
fn SeatsSection(id: String) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let id = StoredValue::new(id);
    let seats = LocalResource::new(move || {
        let id = id.get_value();
        async move { api::license_seats(auth, &id).await }
    });
    let releasing = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let picked = RwSignal::new(None::<Seat>);
    let error = RwSignal::new(None::<ApiError>);
    let on_pick = Callback::new(move |seat: Seat| {
        picked.set(Some(seat));
        releasing.set(true);
    });
    let on_release = Callback::new(move |reason: String| {
        let Some(seat) = picked.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match api::release_seat(auth, &seat.id, &reason).await {
                Ok(_) => {
                    error.set(None);
                    releasing.set(false);
                    seats.refetch();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    });
    view! {
        <section aria-labelledby="seats-h">
            <h2 id="seats-h">"Seats"</h2>
            {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
            {move || match seats.get() {
                None => view! { <Loading what="the seats"/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
                Some(Ok(list)) => view! { <SeatTable seats=list now=format::now() on_release=on_pick/> }.into_any(),
            }}
            <ConfirmDialog
                open=releasing
                title="Release this seat"
                message="The machine loses its seat now (no linger) and must activate again to run."
                confirm_label="Release"
                busy=busy
                on_confirm=on_release
            />
        </section>
    }
}
