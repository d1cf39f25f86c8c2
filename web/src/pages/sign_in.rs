//! Sign in with an API token (`lifeline serve` prints the first admin token once; more come
//! from `POST /api/v1/tokens`).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::components::status::Notice;
use crate::session::{Auth, Session};

/// The sign-in form. The token is checked with the server before it is kept.
#[component]
pub fn SignIn() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let secret = token.get_untracked().trim().to_owned();
        if secret.is_empty() {
            error.set(Some("Enter an API token.".to_owned()));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::session_for(&secret).await {
                Ok(info) => auth.sign_in(Session {
                    token: secret,
                    info,
                }),
                Err(ApiError::Unauthorized) => error.set(Some(
                    "That token was not accepted: it is wrong, expired or revoked.".to_owned(),
                )),
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <main id="main" class="sign-in">
            <h1>"Lifeline console"</h1>
            {move || auth.notice.get().map(|n| view! { <Notice kind="warn" text=n/> })}
            <form on:submit=submit>
                <label for="token">"API token"</label>
                <input
                    id="token"
                    name="token"
                    type="password"
                    autocomplete="off"
                    placeholder="ll_…"
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))
                />
                <p class="hint">
                    "The first admin token is printed by " <code>"lifeline serve"</code>
                    " on first start (and kept in " <code>"DATA_DIR/admin-token"</code>
                    "). It stays in this tab only."
                </p>
                {move || error.get().map(|e| view! { <Notice kind="error" text=e/> })}
                <button type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
