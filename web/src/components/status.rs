//! Loading, empty and error states, the same everywhere.

use leptos::prelude::*;

use crate::api::ApiError;

/// "Loading …" with a live region, so screen readers hear when data arrives.
#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <p class="loading" role="status" aria-live="polite">"Loading " {what} "…"</p> }
}

/// A notice: `kind` is `info`, `warn` or `error` (errors are announced immediately).
#[component]
pub fn Notice(#[prop(into)] kind: String, #[prop(into)] text: String) -> impl IntoView {
    let role = if kind == "error" { "alert" } else { "status" };
    view! { <p class=format!("notice {kind}") role=role>{text}</p> }
}

/// What went wrong with an API call, and what to try.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    let hint = match &error {
        ApiError::Network(_) => " Check that the server is running; this page retries on refresh.",
        ApiError::Problem(p) if p.status == 403 && p.code == "forbidden" => {
            " Your token's role does not allow this."
        }
        _ => "",
    };
    view! { <Notice kind="error" text=format!("{error}{hint}")/> }
}

/// Nothing to show, said plainly.
#[component]
pub fn Empty(#[prop(into)] text: String) -> impl IntoView {
    view! { <p class="empty">{text}</p> }
}
