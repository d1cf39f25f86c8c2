//! A confirmation dialog for actions that change a license or a key: it names the action,
//! asks for a reason (kept in the audit log), and closes on Escape or Cancel.

use leptos::html;
use leptos::prelude::*;

/// Shown while `open` is true. `on_confirm` receives the trimmed reason; the confirm button
/// stays disabled until a reason is given, while `busy`, and while `ready_when` (if given)
/// is false. `children` adds fields (e.g. a new expiry date, a typed confirmation) above the
/// reason.
#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    #[prop(into)] title: String,
    #[prop(into)] message: String,
    #[prop(into)] confirm_label: String,
    #[prop(into)] busy: Signal<bool>,
    on_confirm: Callback<String>,
    #[prop(optional, into)] ready_when: Option<Signal<bool>>,
    #[prop(optional)] children: Option<ChildrenFn>,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let reason_input = NodeRef::<html::Textarea>::new();
    let title_id = format!("dialog-{}", title.to_lowercase().replace(' ', "-"));
    Effect::new(move || {
        if open.get() {
            reason.set(String::new());
            if let Some(el) = reason_input.get() {
                let _ = el.focus();
            }
        }
    });
    let ready = move || {
        !reason.with(|r| r.trim().is_empty())
            && !busy.get()
            && ready_when.is_none_or(|extra| extra.get())
    };
    let confirm = move || {
        if ready() {
            on_confirm.run(reason.get_untracked().trim().to_owned());
        }
    };
    view! {
        <Show when=move || open.get()>
            <div class="backdrop">
                <div
                    class="dialog"
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby=title_id.clone()
                    on:keydown=move |ev: web_sys::KeyboardEvent| {
                        if ev.key() == "Escape" {
                            open.set(false);
                        }
                    }
                >
                    <h2 id=title_id.clone()>{title.clone()}</h2>
                    <p>{message.clone()}</p>
                    {children.clone().map(|c| c())}
                    <label for="confirm-reason">"Reason (kept in the audit log)"</label>
                    <textarea
                        id="confirm-reason"
                        node_ref=reason_input
                        rows="2"
                        required=true
                        prop:value=move || reason.get()
                        on:input=move |ev| reason.set(event_target_value(&ev))
                    ></textarea>
                    <div class="actions">
                        <button type="button" class="secondary" on:click=move |_| open.set(false)>
                            "Cancel"
                        </button>
                        <button
                            type="button"
                            class="danger"
                            data-testid="confirm"
                            disabled=move || !ready()
                            title=move || (!ready()).then_some("Fill in every field first (the reason goes into the audit log).")
                            on:click=move |_| confirm()
                        >
                            {confirm_label.clone()}
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
