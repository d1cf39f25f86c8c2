//! The signing keys: which one signs now, each key's window and how long until it must be
//! rotated; rotate.

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
        {move || match keys.get() {
            None => view! { <Loading what="the keys"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <Empty text="No signing keys."/> }.into_any(),
            Some(Ok(list)) => view! { <KeyTable keys=list now=format::now()/> }.into_any(),
        }}
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

/// Keys with their windows and rotation warnings.
#[component]
pub fn KeyTable(keys: Vec<SigningKeyInfo>, now: u64) -> impl IntoView {
    let rows = keys
        .into_iter()
        .map(|k| {
            let active = k.status == KeyStatus::Active;
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
            } else {
                ("retired: verifies only".to_owned(), "muted")
            };
            view! {
                <tr data-kid=k.kid.clone()>
                    <td>{format::date_time(k.created_at)}</td>
                    <td>{if active { "signs now" } else { "retired" }}</td>
                    <td class="nowrap"><IdCell id=k.kid.clone() what="key id"/></td>
                    <td>{window}</td>
                    <td class=format!("health {class}")>{health}</td>
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
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
