//! The license list as an accessible table.

use leptos::prelude::*;
use lifeline_api::License;

use super::badge::StateBadge;
use super::copy::{IdCell, copy_on_click};
use super::status::Empty;
use crate::format;

/// One row per license, linking to its detail page; an empty list says so: `empty`, or
/// that none matches the filters.
#[component]
pub fn LicenseTable(
    licenses: Vec<License>,
    now: u64,
    #[prop(optional, into)] empty: Option<String>,
) -> impl IntoView {
    if licenses.is_empty() {
        let text = empty.unwrap_or_else(|| "No licenses match these filters.".to_owned());
        return view! { <Empty text=text/> }.into_any();
    }
    let rows = licenses
        .into_iter()
        .map(|l| {
            let href = format!("/licenses/{}", l.id);
            let expires = format!(
                "{} ({})",
                format::date(l.expires_at),
                format::relative(l.expires_at, now)
            );
            view! {
                <tr data-license=l.id.clone()>
                    <td><a href=href>{l.licensee}</a></td>
                    <td>{l.product}</td>
                    <td><StateBadge state=format::license_state(l.state)/></td>
                    <td>{expires}</td>
                    <td class="nowrap"><IdCell id=l.id.clone() what="license id"/></td>
                    <td class="nowrap"><IdCell id=l.kid what="key id"/></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll" tabindex="0">
            <table class="licenses" on:click=copy_on_click>
                <thead>
                    <tr>
                        <th scope="col">"Licensee"</th>
                        <th scope="col">"Product"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"License id"</th>
                        <th scope="col">"Key"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
