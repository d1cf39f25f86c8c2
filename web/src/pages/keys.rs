//! The signing keys: which one signs now, each key's window and how long until it must be
//! rotated; rotate; and, the day a key leaks, mark it compromised (typed confirmation).

use leptos::prelude::*;
use leptos::task::spawn_local;
use lifeline_api::{KeyStatus, Role, SigningKeyInfo};

use crate::api::{self, ApiError};
use crate::components::confirm::ConfirmDialog;
use crate::components::copy::{IdCell, copy_on_click};
use crate::components::status::{Empty, ErrorNotice, Loading};
use crate::format;
use crate::session::Auth;

/// Rotate-by warnings start this long before a key's rotation is due.
pub const WARN_BEFORE_SECS: u64 = 30 * 86_400;

/// The keys page.
#[component]
pub fn KeysPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let keys = LocalResource::new(move || api::keys(auth));
    let rotating = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    // The key being marked compromised (its dialog is open while Some).
    let leaking = RwSignal::new(None::<String>);
    let leak_open = RwSignal::new(false);
    let incident = RwSignal::new(String::new());
    let typed = RwSignal::new(String::new());
    let recovered = RwSignal::new(None::<serde_json::Value>);
    let ask_compromise = Callback::new(move |kid: String| {
        incident.set(String::new());
        typed.set(String::new());
        leaking.set(Some(kid));
        leak_open.set(true);
    });
    let confirmed = Signal::derive(move || {
        leaking.with(|k| k.as_deref() == Some(typed.get().trim()))
            && !incident.with(|i| i.trim().is_empty())
    });
    let on_compromise = Callback::new(move |reason: String| {
        let Some(kid) = leaking.get_untracked() else {
            return;
        };
        let incident_ref = incident.get_untracked().trim().to_owned();
        busy.set(true);
        spawn_local(async move {
            match api::compromise_key(auth, &kid, &reason, &incident_ref).await {
                Ok(report) => {
                    error.set(None);
                    recovered.set(Some(report));
                    leak_open.set(false);
                    keys.refetch();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    });
    let on_rotate = Callback::new(move |_reason: String| {
        busy.set(true);
        spawn_local(async move {
            match api::rotate(auth).await {
                Ok(_) => {
                    error.set(None);
                    rotating.set(false);
                    keys.refetch();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    });
    view! {
        <h1>"Signing keys"</h1>
        <p class="hint">"Verifiers fetch the public keys from " <a href="/.well-known/lifeline/keys.json">"/.well-known/lifeline/keys.json"</a>
            ". A retired key signs nothing new and still verifies what it signed."</p>
        <Show when=move || auth.can(Role::Admin)>
            <button type="button" on:click=move |_| rotating.set(true)>"Rotate the signing key…"</button>
        </Show>
        {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
        {move || recovered.get().map(|r| view! { <Recovered report=r/> })}
        {move || match keys.get() {
            None => view! { <Loading what="the keys"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <Empty text="No signing keys."/> }.into_any(),
            Some(Ok(list)) => {
                let on_compromise = auth.can(Role::Admin).then_some(ask_compromise);
                view! { <KeyTable keys=list now=format::now() on_compromise=on_compromise/> }.into_any()
            }
        }}
        <ConfirmDialog
            open=leak_open
            title="Mark the key compromised"
            message="For a key whose private half leaked. Lifeline rotates to a fresh key if this one signs now, re-signs every license it signed (clients pick up the new token at their next check), publishes its issued list (verifiers that fetch it keep accepting your licenses and refuse every forged one), marks the key, opens an incident and fires key.compromised. It cannot be undone."
            confirm_label="Mark compromised and recover"
            busy=busy
            ready_when=confirmed
            on_confirm=on_compromise
        >
            <label for="compromise-incident">"Your incident reference"</label>
            <input id="compromise-incident" type="text" placeholder="INC-2041"
                prop:value=move || incident.get()
                on:input=move |ev| incident.set(event_target_value(&ev))/>
            <label for="compromise-kid">
                {move || format!("Type the key id to confirm: {}", leaking.get().unwrap_or_default())}
            </label>
            <input id="compromise-kid" type="text" autocomplete="off" spellcheck="false"
                prop:value=move || typed.get()
                on:input=move |ev| typed.set(event_target_value(&ev))/>
        </ConfirmDialog>
        <ConfirmDialog
            open=rotating
            title="Rotate the signing key"
            message="A new key starts signing now; the current key is retired and keeps verifying the licenses it signed."
            confirm_label="Rotate"
            busy=busy
            on_confirm=on_rotate
        />
    }
}

/// What the recovery did, after a key was marked compromised (the server's
/// `CompromiseReport`).
#[component]
fn Recovered(report: serde_json::Value) -> impl IntoView {
    let text = |name: &str| {
        report
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let number = |name: &str| {
        report
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let incident = report
        .get("incident_id")
        .and_then(|v| v.as_str())
        .map(|id| view! { " " <a href=format!("/incidents/{id}")>"Open the incident"</a> "." });
    view! {
        <p class="notice ok" role="status" data-testid="recovered">
            {format!(
                "Key {} is marked compromised. {} re-signed with {}; its issued list names {} tokens ({}). Clients pick up their new license at their next check.",
                format::short_id(&text("kid")),
                format::count(number("re_signed"), "license"),
                format::short_id(&text("active_kid")),
                number("listed_tokens"),
                text("issued_list_url"),
            )}
            {incident}
        </p>
    }
}

/// Keys with their windows and rotation warnings; with `on_compromise` (admins), a button
/// per key not yet compromised to mark it.
#[component]
pub fn KeyTable(
    keys: Vec<SigningKeyInfo>,
    now: u64,
    #[prop(optional_no_strip)] on_compromise: Option<Callback<String>>,
) -> impl IntoView {
    let rows = keys
        .into_iter()
        .map(|k| {
            let active = k.status == KeyStatus::Active;
            let compromised = k.status == KeyStatus::Compromised;
            let window = format!(
                "{} → {}",
                format::date_time(k.not_before),
                k.not_after
                    .map_or_else(|| "open".to_owned(), format::date_time)
            );
            let (health, class) = if let Some(due) = k.rotate_by.filter(|_| active) {
                if due <= now {
                    (
                        format!("rotation overdue since {}", format::relative(due, now)),
                        "error",
                    )
                } else if due - now <= WARN_BEFORE_SECS {
                    (
                        format!(
                            "rotate {} (by {})",
                            format::relative(due, now),
                            format::date(due)
                        ),
                        "warn",
                    )
                } else {
                    (
                        format!(
                            "rotate by {} ({})",
                            format::date(due),
                            format::relative(due, now)
                        ),
                        "ok",
                    )
                }
            } else if active {
                ("no rotation date".to_owned(), "muted")
            } else if compromised {
                (
                    match k.issued_list_licenses {
                        Some(n) => format!(
                            "only the {n} tokens on its issued list verify; forged ones are refused"
                        ),
                        None => "no issued list: every token it signed is refused".to_owned(),
                    },
                    "error",
                )
            } else {
                ("retired: verifies only".to_owned(), "muted")
            };
            let status = if compromised {
                format!(
                    "compromised {}{}",
                    k.compromised_at
                        .map(|t| format::when(t, now))
                        .unwrap_or_default(),
                    k.compromise_incident
                        .as_deref()
                        .map(|i| format!(" ({i})"))
                        .unwrap_or_default()
                )
            } else if active {
                "signs now".to_owned()
            } else {
                "retired".to_owned()
            };
            let action = (!compromised).then_some(on_compromise).flatten().map(|cb| {
                let kid = k.kid.clone();
                view! {
                    <button type="button" class="danger" data-testid="compromise"
                        on:click=move |_| cb.run(kid.clone())>"Mark compromised…"</button>
                }
            });
            view! {
                <tr data-kid=k.kid.clone()>
                    <td>{format::date_time(k.created_at)}</td>
                    <td title=k.compromise_reason.clone().unwrap_or_default()>{status}</td>
                    <td class="nowrap"><IdCell id=k.kid.clone() what="key id"/></td>
                    <td>{window}</td>
                    <td class=format!("health {class}")>{health}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="keys" on:click=copy_on_click>
                <thead><tr>
                    <th scope="col">"Created"</th><th scope="col">"Status"</th><th scope="col">"Key id"</th>
                    <th scope="col">"Signing window"</th><th scope="col">"Rotation"</th>
                    <th scope="col">"Action"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
