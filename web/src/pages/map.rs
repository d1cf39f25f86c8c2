//! The dependency map: a graph of every licensing part (boxes by kind, "depends on" arrows,
//! health as colour, single points of failure marked; `components/map_graph.rs`), the same
//! parts below as tables by kind with health and owner (for detail and screen readers), and,
//! for a selected component, what stops if it is lost and everything that depends on it.

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;

use crate::format;
use lifeline_api::{ComponentKind, DependencyMap, MapComponent};

use crate::api;
use crate::components::health::HealthBadge;
use crate::components::map_graph::{MapGraph, kind_title, role_of};
use crate::components::status::{ErrorNotice, Loading, Notice};
use crate::session::Auth;

/// The owner the server shows when the owners file names nobody.
pub const UNASSIGNED: &str = "unassigned";

/// The map page (`/map`).
#[component]
pub fn MapPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let data = LocalResource::new(move || api::dependency_map(auth));
    view! {
        <h1>"Dependency map"</h1>
        <p class="hint">
            "Who owns each licensing part, how it is doing, and what depends on it. Owners come from "
            <code>"lifeline serve --owners FILE.json"</code> "; a store replica is declared with "
            <code>"--store-replica URL"</code> ". Select a component to see its blast radius."
        </p>
        <div class="actions">
            <button type="button" class="secondary" on:click=move |_| data.refetch()>"Refresh"</button>
        </div>
        {move || match data.get() {
            None => view! { <Loading what="the map"/> }.into_any(),
            Some(Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
            Some(Ok(map)) => view! { <MapView map=map/> }.into_any(),
        }}
    }
}

/// The map (no fetching: the component tests mount it with known data).
#[component]
pub fn MapView(map: DependencyMap) -> impl IntoView {
    let selected = RwSignal::new(None::<String>);
    let graph = view! { <MapGraph map=map.clone() selected=selected/> };
    let by_id: Arc<BTreeMap<String, MapComponent>> = Arc::new(
        map.components
            .iter()
            .map(|c| (c.id.clone(), c.clone()))
            .collect(),
    );
    let name_of = {
        let by_id = by_id.clone();
        move |id: &str| {
            by_id
                .get(id)
                .map_or_else(|| id.to_owned(), |c| c.name.clone())
        }
    };
    let spofs = if map.single_points_of_failure.is_empty() {
        view! { <Notice kind="ok" text="No single point of failure: every component has an alternative."/> }
            .into_any()
    } else {
        let items = map
            .single_points_of_failure
            .iter()
            .map(|id| {
                let name = name_of(id);
                let id = id.clone();
                let pick = id.clone();
                view! {
                    <li data-spof=id>
                        <button type="button" class="link" on:click=move |_| selected.set(Some(pick.clone()))>{name}</button>
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="notice warn spofs" role="status">
                <strong>{format!("{} of failure", format::count(map.single_points_of_failure.len() as u64, "single point"))}</strong>
                " — losing one of these alone stops something else:"
                <ul>{items}</ul>
            </div>
        }
        .into_any()
    };
    let groups = ComponentKind::ALL
        .iter()
        .filter_map(|kind| {
            let members: Vec<MapComponent> = map
                .components
                .iter()
                .filter(|c| c.kind == *kind)
                .cloned()
                .collect();
            if members.is_empty() {
                return None;
            }
            let rows = members
                .into_iter()
                .map(|c| component_row(c, selected, by_id.clone()))
                .collect_view();
            Some(view! {
                <section class="map-group" data-kind=kind.as_str()>
                    <h2>{kind_title(*kind)}</h2>
                    <div class="table-scroll" tabindex="0">
                        <table class="map">
                            <thead><tr>
                                <th scope="col">"Component"</th><th scope="col">"Health"</th>
                                <th scope="col">"Owner"</th><th scope="col">"Why"</th>
                                <th scope="col">"Depended on by"</th>
                            </tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                </section>
            })
        })
        .collect_view();
    let detail = {
        let by_id = by_id.clone();
        move || {
            selected
                .get()
                .and_then(|id| by_id.get(&id).cloned())
                .map(|c| view! { <BlastRadius component=c names=by_id.clone()/> })
        }
    };
    view! {
        <div class="dependency-map" data-ready="map">
            {spofs}
            <div class="map-layout">
                <div class="map-groups">
                    {graph}
                    <h2 class="map-tables-h">"Every component, by kind"</h2>
                    {groups}
                </div>
                <aside class="map-detail" aria-live="polite">
                    {move || {
                        let d = detail();
                        if d.is_none() {
                            Some(view! { <p class="empty">"Select a component to see what depends on it."</p> }.into_any())
                        } else {
                            d.map(IntoAny::into_any)
                        }
                    }}
                </aside>
            </div>
        </div>
    }
}

/// One row: highlighted when the selected component's loss stops it (`breaks`) or when it
/// depends on the selected component (`depends`).
fn component_row(
    c: MapComponent,
    selected: RwSignal<Option<String>>,
    by_id: Arc<BTreeMap<String, MapComponent>>,
) -> impl IntoView {
    let id = c.id.clone();
    let row_id = id.clone();
    let class = move || {
        let mut class = String::from("component");
        if c.single_point_of_failure {
            class.push_str(" spof");
        }
        let selected = selected.get().and_then(|sel| by_id.get(&sel).cloned());
        if let role @ ("selected" | "breaks" | "depends") = role_of(&row_id, selected.as_ref()) {
            class.push(' ');
            class.push_str(role);
        }
        class
    };
    let pick = id.clone();
    let pressed_id = id.clone();
    let spof = c
        .single_point_of_failure
        .then(|| view! { <span class="badge spof-badge">"single point of failure"</span> });
    let missing = c
        .missing
        .then(|| view! { <span class="badge missing-badge">"missing"</span> });
    let dependents = c.blast_radius.len();
    view! {
        <tr class=class data-component=id.clone() data-spof=c.single_point_of_failure.to_string()>
            <td>
                <button type="button" class="link" aria-pressed=move || (selected.get().as_deref() == Some(pressed_id.as_str())).to_string()
                    on:click=move |_| selected.set(Some(pick.clone()))>{c.name.clone()}</button>
                <div class="hint mono">{id.clone()}</div>
                {spof} {missing}
            </td>
            <td><HealthBadge health=c.health/></td>
            <td class=if c.owner == UNASSIGNED { "owner unassigned" } else { "owner" }>{c.owner.clone()}</td>
            <td>{c.reason.clone()}</td>
            <td data-testid="dependents">{if dependents == 0 { "nothing".to_owned() } else { format::count(dependents as u64, "component") }}</td>
        </tr>
    }
}

/// What losing `component` does: the components that stop (no alternative left) and every
/// component depending on it, with the licenses affected when known.
#[component]
pub fn BlastRadius(
    component: MapComponent,
    names: Arc<BTreeMap<String, MapComponent>>,
) -> impl IntoView {
    let list = |ids: &[String]| {
        ids.iter()
            .map(|id| {
                let name = names.get(id).map_or_else(|| id.clone(), |c| c.name.clone());
                view! { <li data-id=id.clone()>{name} " " <span class="hint mono">{id.clone()}</span></li> }
            })
            .collect_view()
    };
    let breaks = if component.breaks.is_empty() {
        view! { <p class="empty" data-testid="breaks-none">"Nothing stops: every dependent has an alternative."</p> }.into_any()
    } else {
        view! { <ul class="breaks" data-testid="breaks">{list(&component.breaks)}</ul> }.into_any()
    };
    let radius = if component.blast_radius.is_empty() {
        view! { <p class="empty">"Nothing depends on it."</p> }.into_any()
    } else {
        view! { <ul class="radius" data-testid="radius">{list(&component.blast_radius)}</ul> }
            .into_any()
    };
    let licenses = match (component.licenses_affected, component.products_affected) {
        (Some(l), Some(p)) => format!(
            "{} of {}",
            format::count(l, "usable license"),
            format::count(p, "product")
        ),
        (Some(l), None) => format::count(l, "usable license"),
        _ => "not known".to_owned(),
    };
    view! {
        <section class="blast" data-selected=component.id.clone() aria-labelledby="blast-h">
            <h2 id="blast-h">{format!("If {} is lost", component.name)}</h2>
            <p><HealthBadge health=component.health/> " " {component.reason.clone()}</p>
            <p>"Owner: " <strong>{component.owner.clone()}</strong></p>
            <h3>"Stops (no alternative left)"</h3>
            {breaks}
            <h3>"Blast radius: everything depending on it"</h3>
            {radius}
            <p data-testid="licenses-affected">"Licenses affected: " {licenses}</p>
        </section>
    }
}
