//! Shortened ids with a copy button for the whole: `<IdCell id=…/>` draws them, and one
//! delegated click handler per table ([`copy_on_click`]) copies, so a long table costs one
//! handler, not one per row.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::format;

/// A shortened id (the whole in its tooltip) and a button that copies the whole.
#[component]
pub fn IdCell(#[prop(into)] id: String, #[prop(into)] what: String) -> impl IntoView {
    view! {
        <code class="id" title=id.clone()>{format::short_id(&id)}</code>
        <button type="button" class="copy" data-copy=id.clone() aria-label=format!("Copy the {what} {id}")>"copy"</button>
    }
}

/// Put on a table's `on:click`: a click on a `[data-copy]` button copies its value to the
/// clipboard and says so on the button (`copying…`, then `copied`, or `copy failed` when the
/// browser refuses).
pub fn copy_on_click(ev: leptos::ev::MouseEvent) {
    let Some(button) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("[data-copy]").ok().flatten())
    else {
        return;
    };
    let Some(value) = button.get_attribute("data-copy") else {
        return;
    };
    button.set_text_content(Some("copying…"));
    spawn_local(async move {
        let copied = to_clipboard(&value).await;
        button.set_text_content(Some(if copied { "copied" } else { "copy failed" }));
    });
}

/// Writes `text` to the clipboard; `false` when the browser refuses (or has none).
pub async fn to_clipboard(text: &str) -> bool {
    match web_sys::window().map(|w| w.navigator().clipboard()) {
        Some(clipboard) => wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text))
            .await
            .is_ok(),
        None => false,
    }
}
