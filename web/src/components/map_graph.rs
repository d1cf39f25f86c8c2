//! The dependency map drawn as a graph (SVG, no charting library): components as boxes in
//! one band per kind, "depends on" arrows pointing at what is depended on, health as the
//! box's colour (and its word: colour is never the only signal), single points of failure
//! with a dashed red frame and a "SPOF" tag. Selecting a box (click, Enter or Space) lights
//! up its blast radius: what stops without it in red, what depends on it in amber, the rest
//! dimmed. [`layout`] is pure, so it is tested without a browser.

use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;
use lifeline_api::{ComponentKind, DependencyMap, Health, MapComponent};

/// The drawing's width (the SVG scales to its container).
pub const WIDTH: f64 = 960.0;
/// A box.
pub const BOX_W: f64 = 168.0;
pub const BOX_H: f64 = 46.0;
const GAP_X: f64 = 14.0;
const BAND_GAP: f64 = 44.0;
const LABEL_H: f64 = 22.0;
const LEFT: f64 = 12.0;
/// Characters of a name shown in a box (the whole name in its tooltip and the tables).
pub const NAME_CHARS: usize = 22;

/// Where one component is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub id: String,
    pub x: f64,
    pub y: f64,
}

/// One band: a kind's title and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub kind: ComponentKind,
    pub y: f64,
    pub height: f64,
}

/// The whole drawing.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub bands: Vec<Band>,
    pub boxes: Vec<Placed>,
    pub height: f64,
}

/// How far down the dependencies go from each component: 0 for one that depends on
/// nothing, else one more than the deepest of what it depends on. A cycle (the server
/// never sends one) is cut rather than followed.
pub fn depths(map: &DependencyMap) -> BTreeMap<String, usize> {
    let mut needs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &map.edges {
        needs
            .entry(e.from.as_str())
            .or_default()
            .push(e.to.as_str());
    }
    fn depth<'a>(
        id: &'a str,
        needs: &BTreeMap<&'a str, Vec<&'a str>>,
        known: &mut BTreeMap<&'a str, usize>,
        path: &mut BTreeSet<&'a str>,
    ) -> usize {
        if let Some(d) = known.get(id) {
            return *d;
        }
        if !path.insert(id) {
            return 0;
        }
        let d = needs.get(id).map_or(0, |tos| {
            tos.iter()
                .map(|to| depth(to, needs, known, path) + 1)
                .max()
                .unwrap_or(0)
        });
        path.remove(id);
        known.insert(id, d);
        d
    }
    let mut known = BTreeMap::new();
    for c in &map.components {
        depth(c.id.as_str(), &needs, &mut known, &mut BTreeSet::new());
    }
    known.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Bands of kinds, the ones that depend most on top (so arrows point down), each kind's
/// boxes in rows that fit the width.
pub fn layout(map: &DependencyMap) -> Layout {
    let depth = depths(map);
    let mut kinds: Vec<(ComponentKind, usize, usize)> = ComponentKind::ALL
        .iter()
        .enumerate()
        .filter_map(|(order, kind)| {
            let deepest = map
                .components
                .iter()
                .filter(|c| c.kind == *kind)
                .map(|c| depth.get(&c.id).copied().unwrap_or(0))
                .max()?;
            Some((*kind, deepest, order))
        })
        .collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let per_row = (((WIDTH - LEFT) + GAP_X) / (BOX_W + GAP_X))
        .floor()
        .max(1.0) as usize;
    let mut y = 8.0;
    let mut bands = Vec::new();
    let mut boxes = Vec::new();
    for (kind, _, _) in kinds {
        let members: Vec<&MapComponent> =
            map.components.iter().filter(|c| c.kind == kind).collect();
        let rows = members.len().div_ceil(per_row);
        let height = LABEL_H + rows as f64 * (BOX_H + 10.0);
        for (i, c) in members.iter().enumerate() {
            let (row, col) = (i / per_row, i % per_row);
            // Each row centred: a chain of single boxes reads as a column down the middle.
            let in_row = (members.len() - row * per_row).min(per_row) as f64;
            let row_w = in_row * BOX_W + (in_row - 1.0) * GAP_X;
            let x0 = ((WIDTH - row_w) / 2.0).max(LEFT);
            boxes.push(Placed {
                id: c.id.clone(),
                x: x0 + col as f64 * (BOX_W + GAP_X),
                y: y + LABEL_H + row as f64 * (BOX_H + 10.0),
            });
        }
        bands.push(Band { kind, y, height });
        y += height + BAND_GAP;
    }
    Layout {
        bands,
        boxes,
        height: (y - BAND_GAP + 8.0).max(60.0),
    }
}

/// A name cut to [`NAME_CHARS`] characters, with an ellipsis when cut.
pub fn short_name(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        name.to_owned()
    } else {
        let cut: String = name.chars().take(NAME_CHARS - 1).collect();
        format!("{cut}…")
    }
}

/// A kind's band title.
pub const fn band_title(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Service => "Services (verifiers)",
        ComponentKind::Node => "Server nodes",
        ComponentKind::StatusList => "Status list",
        ComponentKind::OverrideBundle => "Override bundle",
        ComponentKind::Webhook => "Webhooks",
        ComponentKind::Store => "Store",
        ComponentKind::SigningKey => "Signing keys",
        ComponentKind::OverrideKey => "Emergency override key",
    }
}

/// How a component relates to the selected one.
fn role_of(id: &str, selected: Option<&MapComponent>) -> &'static str {
    match selected {
        None => "none",
        Some(s) if s.id == id => "selected",
        Some(s) if s.breaks.iter().any(|b| b == id) => "breaks",
        Some(s) if s.blast_radius.iter().any(|b| b == id) => "depends",
        Some(_) => "other",
    }
}

/// The graph. `selected` is shared with the tables and the blast-radius panel.
#[component]
pub fn MapGraph(map: DependencyMap, selected: RwSignal<Option<String>>) -> impl IntoView {
    let layout = layout(&map);
    let at: BTreeMap<String, (f64, f64)> = layout
        .boxes
        .iter()
        .map(|p| (p.id.clone(), (p.x, p.y)))
        .collect();
    let by_id: BTreeMap<String, MapComponent> = map
        .components
        .iter()
        .map(|c| (c.id.clone(), c.clone()))
        .collect();
    let by_id = StoredValue::new(by_id);
    let current = move || {
        selected
            .get()
            .and_then(|id| by_id.with_value(|m| m.get(&id).cloned()))
    };
    let bands = layout
        .bands
        .iter()
        .map(|b| {
            view! {
                <g class="band" data-kind=b.kind.as_str()>
                    <rect x="2" y=b.y width=WIDTH - 4.0 height=b.height rx="8"/>
                    <text class="band-title" x=LEFT y=b.y + 15.0>{band_title(b.kind)}</text>
                </g>
            }
        })
        .collect_view();
    let edges = map
        .edges
        .iter()
        .filter_map(|e| {
            let (fx, fy) = *at.get(&e.from)?;
            let (tx, ty) = *at.get(&e.to)?;
            let (x1, y1) = (fx + BOX_W / 2.0, fy + BOX_H);
            let (x2, y2) = (tx + BOX_W / 2.0, ty - 2.0);
            let bend = ((y2 - y1).abs() / 2.0).max(30.0);
            // An arrow that skips bands swings out to the right, around the boxes between.
            let skipped = ((ty - fy) / (BOX_H + LABEL_H + BAND_GAP)).floor().max(0.0) - 1.0;
            let d = if skipped >= 1.0 {
                let side = x1.max(x2) + BOX_W * 0.6 + 18.0 * skipped;
                format!(
                    "M{x1:.1},{y1:.1} C{side:.1},{:.1} {side:.1},{:.1} {x2:.1},{y2:.1}",
                    y1 + bend / 2.0,
                    y2 - bend / 2.0
                )
            } else {
                format!(
                    "M{x1:.1},{y1:.1} C{x1:.1},{:.1} {x2:.1},{:.1} {x2:.1},{y2:.1}",
                    y1 + bend,
                    y2 - bend
                )
            };
            let (from, to) = (e.from.clone(), e.to.clone());
            let class = move || {
                let lit = current().is_some_and(|s| {
                    to == s.id || (s.blast_radius.contains(&to) && s.blast_radius.contains(&from))
                });
                if lit { "edge lit" } else { "edge" }
            };
            Some(view! {
                <path class=class d=d data-from=e.from.clone() data-to=e.to.clone()
                    marker-end="url(#map-arrow)"><title>{format!("{} depends on {} ({})", e.from, e.to, e.requirement)}</title></path>
            })
        })
        .collect_view();
    let boxes = layout
        .boxes
        .iter()
        .filter_map(|p| {
            let c = by_id.with_value(|m| m.get(&p.id).cloned())?;
            let id = c.id.clone();
            let (pick, key_pick, pressed_id, role_id) = (id.clone(), id.clone(), id.clone(), id.clone());
            let class = move || {
                let role = role_of(&role_id, current().as_ref());
                format!("node health-{} role-{role}", c.health.as_str())
            };
            let spof = c.single_point_of_failure;
            let label = format!(
                "{}: {}{}",
                c.name,
                c.health.as_str(),
                if spof { ", single point of failure" } else { "" }
            );
            let health_word = match c.health {
                Health::Ok => "● ok",
                Health::Warning => "▲ warning",
                Health::Critical => "✖ critical",
                Health::Unknown => "? unknown",
            };
            Some(view! {
                <g class=class data-component=id.clone() data-spof=spof.to_string()
                    role="button" tabindex="0" aria-label=label
                    aria-pressed=move || (selected.get().as_deref() == Some(pressed_id.as_str())).to_string()
                    on:click=move |_| selected.set(Some(pick.clone()))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" || ev.key() == " " {
                            ev.prevent_default();
                            selected.set(Some(key_pick.clone()));
                        }
                    }>
                    <title>{format!("{} ({}) — {}", c.name, c.id, c.reason)}</title>
                    <rect class=if spof { "box spof" } else { "box" } x=p.x y=p.y width=BOX_W height=BOX_H rx="6"/>
                    <text class="name" x=p.x + 8.0 y=p.y + 18.0>{short_name(&c.name)}</text>
                    <text class="state" x=p.x + 8.0 y=p.y + 36.0>{health_word}</text>
                    {spof.then(|| view! {
                        <text class="spof-tag" x=p.x + BOX_W - 8.0 y=p.y + 36.0 text-anchor="end">"SPOF"</text>
                    })}
                </g>
            })
        })
        .collect_view();
    view! {
        <figure class="map-graph" data-testid="map-graph">
            <svg viewBox=format!("0 0 {WIDTH} {:.0}", layout.height) role="group"
                aria-label="Dependency graph: arrows point at what a component depends on; select a component to light up its blast radius">
                <defs>
                    <marker id="map-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M0,0 L10,5 L0,10 z"/>
                    </marker>
                </defs>
                {bands}
                <g class="edges">{edges}</g>
                {boxes}
            </svg>
            <figcaption class="hint">
                "Arrows point at what a component depends on. Colour and word give health; a dashed red frame and "
                <strong>"SPOF"</strong> " mark a single point of failure. Select a component: red stops without it, amber depends on it."
            </figcaption>
        </figure>
    }
}
