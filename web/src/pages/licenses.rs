//! Licenses: search, filter and page through them; issue a new one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lifeline_api::{IssueLicense, Role};

use crate::api::{self, LicenseQuery};
use crate::components::license_table::LicenseTable;
use crate::components::status::{ErrorNotice, Loading, Notice};
use crate::format;
use crate::router::use_location;
use crate::session::Auth;

/// Rows per page.
pub const PAGE_SIZE: u32 = 25;

/// The license list with its filters, pager and issue form.
#[component]
pub fn LicensesPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let initial_state = use_location()
        .query("state")
        .and_then(|s| format::parse_license_state(&s));
    let search = RwSignal::new(String::new());
    let state = RwSignal::new(initial_state);
    let product = RwSignal::new(None::<String>);
    let nearly_full = RwSignal::new(
        use_location()
            .query("seats")
            .is_some_and(|v| v == "nearly-full"),
    );
    // Cursors of the pages before this one; `cursor` is this page's.
    let history = RwSignal::new(Vec::<Option<String>>::new());
    let cursor = RwSignal::new(None::<String>);
    let query = Memo::new(move |_| LicenseQuery {
        search: search.get(),
        state: state.get(),
        product: product.get(),
        limit: PAGE_SIZE,
        cursor: cursor.get(),
        seats_used_at_least: nearly_full.get().then_some(90),
    });
    let page = LocalResource::new(move || {
        let q = query.get();
        async move { api::licenses(auth, &q).await }
    });
    let products = LocalResource::new(move || api::products(auth));
    let reset_paging = move || {
        history.set(Vec::new());
        cursor.set(None);
    };
    let draft = RwSignal::new(String::new());
    let on_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        reset_paging();
        search.set(draft.get_untracked());
    };
    let issued = move |id: String| {
        // Show the new license where the user is looking: filter the table to it.
        draft.set(id.clone());
        reset_paging();
        search.set(id);
        page.refetch();
    };
    let product_options = move || {
        products
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|p| view! { <option value=p.id.clone()>{format!("{} ({})", p.name, p.id)}</option> })
            .collect_view()
    };
    view! {
        <h1>"Licenses"</h1>
        <Show when=move || auth.can(Role::Operator)>
            <IssueForm on_issued=Callback::new(issued)/>
        </Show>
        <form class="filters" role="search" on:submit=on_search>
            <div class="field">
                <label for="q">"Search id or licensee"</label>
                <input id="q" type="search" prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="state-filter">"State"</label>
                <select id="state-filter" on:change=move |ev| {
                    reset_paging();
                    state.set(format::parse_license_state(&event_target_value(&ev)));
                }>
                    <option value="" selected=move || state.get().is_none()>"any"</option>
                    {["valid", "grace", "expired", "revoked"].map(|s| view! {
                        <option value=s selected=move || state.get().map(format::license_state) == Some(s)>{s}</option>
                    })}
                </select>
            </div>
            <div class="field">
                <label for="product-filter">"Product"</label>
                <select id="product-filter" on:change=move |ev| {
                    reset_paging();
                    let v = event_target_value(&ev);
                    product.set((!v.is_empty()).then_some(v));
                }>
                    <option value="">"any"</option>
                    {product_options}
                </select>
            </div>
            <div class="field">
                <label for="seats-filter">"Seats"</label>
                <select id="seats-filter" on:change=move |ev| {
                    reset_paging();
                    nearly_full.set(event_target_value(&ev) == "nearly-full");
                }>
                    <option value="" selected=move || !nearly_full.get()>"any"</option>
                    <option value="nearly-full" selected=move || nearly_full.get()>"≥ 90 % in use"</option>
                </select>
            </div>
            <button type="submit">"Search"</button>
        </form>
        {move || match page.get() {
            None => view! { <Loading what="licenses"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(p)) => {
                let next = p.next_cursor.clone();
                let has_prev = !history.with(Vec::is_empty);
                let filtered = !search.with(String::is_empty)
                    || state.with(Option::is_some)
                    || product.with(Option::is_some)
                    || nearly_full.get();
                let empty = if filtered {
                    "No licenses match these filters."
                } else {
                    "No licenses yet: issue one above (or many with `lifeline provision`)."
                };
                view! {
                    <LicenseTable licenses=p.items now=format::now() empty=empty/>
                    <nav class="pager" aria-label="Pages">
                        <button type="button" class="secondary" disabled=!has_prev on:click=move |_| {
                            let prev = history.try_update(Vec::pop).flatten().flatten();
                            cursor.set(prev);
                        }>"← Previous"</button>
                        <span>{move || format!("Page {}", history.with(Vec::len) + 1)}</span>
                        <button type="button" class="secondary" disabled=next.is_none() on:click=move |_| {
                            history.update(|h| h.push(cursor.get_untracked()));
                            cursor.set(next.clone());
                        }>"Next →"</button>
                    </nav>
                }
                .into_any()
            }
        }}
    }
}

/// Issues a license; `on_issued` gets the new id.
#[component]
fn IssueForm(on_issued: Callback<String>) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let products = LocalResource::new(move || api::products(auth));
    let open = RwSignal::new(false);
    let product = RwSignal::new(String::new());
    let licensee = RwSignal::new(String::new());
    let entitlements = RwSignal::new(String::new());
    let expires = RwSignal::new(format::date(format::now() + 365 * 86_400));
    let grace_days = RwSignal::new("7".to_owned());
    let seats = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = match issue_request(
            &product.get_untracked(),
            &licensee.get_untracked(),
            &entitlements.get_untracked(),
            &expires.get_untracked(),
            &grace_days.get_untracked(),
            &seats.get_untracked(),
        ) {
            Ok(r) => r,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match api::issue(auth, &request).await {
                Ok(license) => {
                    done.set(Some(license.id.clone()));
                    licensee.set(String::new());
                    on_issued.run(license.id);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    let options = move || {
        let list = products.get().and_then(Result::ok).unwrap_or_default();
        if product.with_untracked(String::is_empty)
            && let Some(first) = list.first()
        {
            product.set(first.id.clone());
        }
        list.into_iter()
            .map(|p| view! { <option value=p.id.clone() selected=move || product.get() == p.id>{p.name.clone()}</option> })
            .collect_view()
    };
    view! {
        <section class="issue">
            <button type="button" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                {move || if open.get() { "Close the issue form" } else { "Issue a license" }}
            </button>
            {move || done.get().map(|id| view! {
                <p class="notice info" role="status">"Issued " <a href=format!("/licenses/{id}")>{id.clone()}</a> "."</p>
            })}
            <Show when=move || open.get()>
                <form class="issue-form" on:submit=submit>
                    <div class="field">
                        <label for="issue-product">"Product"</label>
                        <select id="issue-product" required=true on:change=move |ev| product.set(event_target_value(&ev))>
                            {options}
                        </select>
                    </div>
                    <div class="field">
                        <label for="issue-licensee">"Licensee"</label>
                        <input id="issue-licensee" required=true prop:value=move || licensee.get()
                            on:input=move |ev| licensee.set(event_target_value(&ev))/>
                    </div>
                    <div class="field">
                        <label for="issue-entitlements">"Entitlements (comma-separated)"</label>
                        <input id="issue-entitlements" prop:value=move || entitlements.get()
                            on:input=move |ev| entitlements.set(event_target_value(&ev))/>
                    </div>
                    <div class="field">
                        <label for="issue-expires">"Valid until (UTC, end of day)"</label>
                        <input id="issue-expires" type="date" required=true prop:value=move || expires.get()
                            on:input=move |ev| expires.set(event_target_value(&ev))/>
                    </div>
                    <div class="field">
                        <label for="issue-grace">"Grace period (days)"</label>
                        <input id="issue-grace" type="number" min="0" max="365" prop:value=move || grace_days.get()
                            on:input=move |ev| grace_days.set(event_target_value(&ev))/>
                    </div>
                    <div class="field">
                        <label for="issue-seats">"Seats (empty: unlimited)"</label>
                        <input id="issue-seats" type="number" min="1" prop:value=move || seats.get()
                            on:input=move |ev| seats.set(event_target_value(&ev))/>
                    </div>
                    {move || error.get().map(|e| view! { <Notice kind="error" text=e/> })}
                    <button type="submit" disabled=move || busy.get()>
                        {move || if busy.get() { "Issuing…" } else { "Issue" }}
                    </button>
                </form>
            </Show>
        </section>
    }
}

/// Checks the issue form's fields and builds the request, or says what to fix.
pub fn issue_request(
    product: &str,
    licensee: &str,
    entitlements: &str,
    expires: &str,
    grace_days: &str,
    seats: &str,
) -> Result<IssueLicense, String> {
    if product.trim().is_empty() {
        return Err("Choose a product.".to_owned());
    }
    if licensee.trim().is_empty() {
        return Err("Name the licensee.".to_owned());
    }
    let expires_at = format::parse_date_end_of_day(expires)
        .ok_or_else(|| "Give the expiry as a date (YYYY-MM-DD).".to_owned())?;
    let grace_days: u64 = match grace_days.trim() {
        "" => 0,
        text => text
            .parse()
            .ok()
            .filter(|d| *d <= 365)
            .ok_or_else(|| "The grace period is 0 to 365 days.".to_owned())?,
    };
    let seats = match seats.trim() {
        "" => None,
        text => Some(
            text.parse::<u32>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| "Seats must be a whole number from 1.".to_owned())?,
        ),
    };
    Ok(IssueLicense {
        product: product.trim().to_owned(),
        licensee: licensee.trim().to_owned(),
        entitlements: entitlements
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        expires_at,
        grace_s: grace_days * 86_400,
        seats,
        seat_mode: None,
        heartbeat_s: None,
        overage: None,
        linger_s: None,
        borrow_max_s: None,
        offline_grace_s: None,
        metadata: serde_json::Map::new(),
    })
}
