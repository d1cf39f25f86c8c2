//! A license's state as a coloured, labelled badge (the colour is never the only signal).

use leptos::prelude::*;

/// `state` is a server state (`valid`, `grace`, `expired`, `revoked`) or a verdict state
/// (`valid`, `grace`, `invalid`).
#[component]
pub fn StateBadge(#[prop(into)] state: String) -> impl IntoView {
    let symbol = match state.as_str() {
        "valid" => "●",
        "grace" => "◐",
        _ => "○",
    };
    view! {
        <span class=format!("badge state-{state}") data-state=state.clone()>
            <span aria-hidden="true">{symbol} " "</span>
            {state.clone()}
        </span>
    }
}
