//! The audit log, newest first, filterable, with the hash chain's integrity.

use leptos::prelude::*;
use lifeline_api::AuditEvent;

use crate::api::{self, AuditQuery};
use crate::components::status::{Empty, ErrorNotice, Loading, Notice};
use crate::format;
use crate::session::Auth;

/// Events per page.
pub const PAGE_SIZE: u32 = 50;

/// The audit page.
#[component]
pub fn AuditPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let action = RwSignal::new(String::new());
    let subject = RwSignal::new(String::new());
    let subject_draft = RwSignal::new(String::new());
    let before = RwSignal::new(None::<u64>);
    let integrity = LocalResource::new(move || api::audit_integrity(auth));
    let page = LocalResource::new(move || {
        let q = AuditQuery {
            action: action.get(),
            subject: subject.get(),
            limit: PAGE_SIZE,
            before: before.get(),
        };
        async move { api::audit(auth, &q).await }
    });
    view! {
        <h1>"Audit log"</h1>
        {move || match integrity.get() {
            None => view! { <Loading what="the chain check"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(i)) if i.intact => view! {
                <p class="notice ok" role="status" data-testid="chain">
                    "Chain intact: " {i.events} " events, head " <code>{i.head.unwrap_or_default()}</code>
                </p>
            }.into_any(),
            Some(Ok(i)) => view! {
                <Notice kind="error" text=format!("Chain BROKEN after {} events: {}", i.events, i.problem.unwrap_or_default())/>
            }.into_any(),
        }}
        <form class="filters" role="search" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            before.set(None);
            subject.set(subject_draft.get_untracked());
        }>
            <div class="field">
                <label for="audit-action">"Action"</label>
                <select id="audit-action" on:change=move |ev| {
                    before.set(None);
                    action.set(event_target_value(&ev));
                }>
                    <option value="">"any"</option>
                    <option value="license.">"license.*"</option>
                    <option value="key.">"key.*"</option>
                    <option value="token.">"token.*"</option>
                    <option value="product.">"product.*"</option>
                </select>
            </div>
            <div class="field">
                <label for="audit-subject">"Subject (license id, key id, …)"</label>
                <input id="audit-subject" type="search" prop:value=move || subject_draft.get()
                    on:input=move |ev| subject_draft.set(event_target_value(&ev))/>
            </div>
            <button type="submit">"Filter"</button>
        </form>
        {move || match page.get() {
            None => view! { <Loading what="events"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(p)) if p.items.is_empty() => view! { <Empty text="No events match."/> }.into_any(),
            Some(Ok(p)) => {
                let older = p.next_before;
                view! {
                    <AuditTable events=p.items/>
                    <nav class="pager" aria-label="Pages">
                        <button type="button" class="secondary" disabled=move || before.get().is_none()
                            on:click=move |_| before.set(None)>"Newest"</button>
                        <button type="button" class="secondary" disabled=older.is_none()
                            on:click=move |_| before.set(older)>"Older →"</button>
                    </nav>
                }.into_any()
            }
        }}
    }
}

/// Events as a table: when, who, what, on what, and the change.
#[component]
pub fn AuditTable(events: Vec<AuditEvent>) -> impl IntoView {
    let rows = events
        .into_iter()
        .map(|e| {
            let change = format::change_lines(e.before.as_ref(), e.after.as_ref())
                .into_iter()
                .map(|line| view! { <div>{line}</div> })
                .collect_view();
            view! {
                <tr data-seq=e.seq>
                    <td>{e.seq}</td>
                    <td>{format::date_time(e.at)}</td>
                    <td>{e.actor}</td>
                    <td><code>{e.action}</code></td>
                    <td class="mono">{e.subject}</td>
                    <td class="change">{change}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="audit">
                <thead><tr>
                    <th scope="col">"#"</th><th scope="col">"When"</th><th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th><th scope="col">"Subject"</th><th scope="col">"Change"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
