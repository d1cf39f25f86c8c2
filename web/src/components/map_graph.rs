//! The dependency map drawn as a graph (SVG, no charting library): components as boxes in
//! one band per kind, "depends on" arrows pointing at what is depended on, health as the
//! box's colour (and its word: colour is never the only signal), single points of failure
//! with a dashed red frame and a "SPOF" tag. Selecting a box (click, Enter or Space) lights
//! up its blast radius: what stops without it in red, what depends on it in amber, the rest
//! dimmed. [`layout`] and [`svg`] (the markup, built as escaped text) are pure, so they are
//! tested without a browser; one delegated handler turns a click or key into a selection.

use leptos::prelude::*;
use lifeline_api::{ComponentKind, DependencyMap, Health, MapComponent};

use crate::format;

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

/// The edges as (dependent, dependency) positions in `map.components` (edges naming an
/// unknown component left out). Vectors and linear searches, not maps: a map has a few
/// hundred components at most, and every map type costs the console's `.wasm` its own code.
fn edge_indices(map: &DependencyMap) -> Vec<(usize, usize)> {
    let index = |id: &str| map.components.iter().position(|c| c.id == id);
    map.edges
        .iter()
        .filter_map(|e| Some((index(&e.from)?, index(&e.to)?)))
        .collect()
}

/// How far down the dependencies go from each component (by position in `map.components`):
/// 0 for one that depends on nothing, else one more than the deepest of what it depends on.
/// A cycle (the server never sends one) stops growing at the number of components.
pub fn depths(map: &DependencyMap) -> Vec<usize> {
    let edges = edge_indices(map);
    let cap = map.components.len();
    let mut depth = vec![0usize; cap];
    for _ in 0..cap {
        let mut changed = false;
        for &(from, to) in &edges {
            let via = depth.get(to).map_or(0, |d| (d + 1).min(cap));
            if let Some(d) = depth.get_mut(from)
                && via > *d
            {
                *d = via;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
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
                .zip(&depth)
                .filter(|(c, _)| c.kind == *kind)
                .map(|(_, d)| *d)
                .max()?;
            Some((*kind, deepest, order))
        })
        .collect();
    kinds.sort_unstable_by_key(|&(_, deepest, order)| (usize::MAX - deepest, order));
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

/// A coordinate as SVG text, one decimal ([`crate::format::fixed`]: no float formatting code
/// in the `.wasm`).
fn n(v: f64) -> String {
    crate::format::fixed(v, 1)
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

/// How a kind is titled (the graph's bands, the tables' headings).
pub const fn kind_title(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Service => "Services embedding a verifier (from telemetry)",
        ComponentKind::Node => "Server nodes",
        ComponentKind::StatusList => "Status list",
        ComponentKind::OverrideBundle => "Override bundle",
        ComponentKind::Webhook => "Webhook endpoints",
        ComponentKind::Store => "Store",
        ComponentKind::SigningKey => "Signing keys",
        ComponentKind::OverrideKey => "Emergency override key",
    }
}

/// How a component relates to the selected one: `none` (nothing selected), `selected`,
/// `breaks` (stops without it), `depends` (in its blast radius) or `other`. The graph's
/// boxes and the tables' rows are marked by it.
pub fn role_of(id: &str, selected: Option<&MapComponent>) -> &'static str {
    match selected {
        None => "none",
        Some(s) if s.id == id => "selected",
        Some(s) if s.breaks.iter().any(|b| b == id) => "breaks",
        Some(s) if s.blast_radius.iter().any(|b| b == id) => "depends",
        Some(_) => "other",
    }
}

/// The SVG's markup for `map` with `selected` lit up. Built as text (one string, set as the
/// figure's content on every selection): the same drawing as elements built by the view
/// macro cost the console's `.wasm` 20 KB gzipped.
pub fn svg(map: &DependencyMap, selected: Option<&str>) -> String {
    use std::fmt::Write;
    let layout = layout(map);
    let at = |id: &str| layout.boxes.iter().find(|p| p.id == id).map(|p| (p.x, p.y));
    let component = |id: &str| map.components.iter().find(|c| c.id == id);
    let current = selected.and_then(component);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {} {}\" role=\"group\" aria-label=\"Dependency graph: arrows point at what a component depends on; select a component to light up its blast radius\">\
         <defs><marker id=\"map-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>",
        n(WIDTH),
        n(layout.height)
    );
    for b in &layout.bands {
        let _ = write!(
            out,
            "<g class=\"band\" data-kind=\"{}\"><rect x=\"2\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/><text class=\"band-title\" x=\"{}\" y=\"{}\">{}</text></g>",
            b.kind.as_str(),
            n(b.y),
            n(WIDTH - 4.0),
            n(b.height),
            n(LEFT),
            n(b.y + 15.0),
            kind_title(b.kind)
        );
    }
    out.push_str("<g class=\"edges\">");
    for e in &map.edges {
        let (Some((fx, fy)), Some((tx, ty))) = (at(&e.from), at(&e.to)) else {
            continue;
        };
        let (x1, y1) = (fx + BOX_W / 2.0, fy + BOX_H);
        let (x2, y2) = (tx + BOX_W / 2.0, ty - 2.0);
        let bend = ((y2 - y1).abs() / 2.0).max(30.0);
        // An arrow that skips bands swings out to the right, around the boxes between.
        let skipped = ((ty - fy) / (BOX_H + LABEL_H + BAND_GAP)).floor().max(0.0) - 1.0;
        let (c1, c2) = if skipped >= 1.0 {
            let side = x1.max(x2) + BOX_W * 0.6 + 18.0 * skipped;
            ((side, y1 + bend / 2.0), (side, y2 - bend / 2.0))
        } else {
            ((x1, y1 + bend), (x2, y2 - bend))
        };
        let lit = current.is_some_and(|s| {
            e.to == s.id || (s.blast_radius.contains(&e.to) && s.blast_radius.contains(&e.from))
        });
        let _ = write!(
            out,
            "<path class=\"{}\" d=\"M{},{} C{},{} {},{} {},{}\" data-from=\"{}\" data-to=\"{}\" marker-end=\"url(#map-arrow)\"><title>{} depends on {} ({})</title></path>",
            if lit { "edge lit" } else { "edge" },
            n(x1),
            n(y1),
            n(c1.0),
            n(c1.1),
            n(c2.0),
            n(c2.1),
            n(x2),
            n(y2),
            format::escape(&e.from),
            format::escape(&e.to),
            format::escape(&e.from),
            format::escape(&e.to),
            format::escape(&e.requirement)
        );
    }
    out.push_str("</g>");
    for p in &layout.boxes {
        let Some(c) = component(&p.id) else {
            continue;
        };
        let spof = c.single_point_of_failure;
        let health_word = match c.health {
            Health::Ok => "● ok",
            Health::Warning => "▲ warning",
            Health::Critical => "✖ critical",
            Health::Unknown => "? unknown",
        };
        let _ = write!(
            out,
            "<g class=\"node health-{} role-{}\" data-component=\"{}\" data-spof=\"{spof}\" role=\"button\" tabindex=\"0\" aria-label=\"{}: {}{}\" aria-pressed=\"{}\">\
             <title>{} ({}) — {}</title>\
             <rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\"/>\
             <text class=\"name\" x=\"{}\" y=\"{}\">{}</text><text class=\"state\" x=\"{}\" y=\"{}\">{health_word}</text>",
            c.health.as_str(),
            role_of(&c.id, current),
            format::escape(&c.id),
            format::escape(&c.name),
            c.health.as_str(),
            if spof {
                ", single point of failure"
            } else {
                ""
            },
            selected == Some(c.id.as_str()),
            format::escape(&c.name),
            format::escape(&c.id),
            format::escape(&c.reason),
            if spof { "box spof" } else { "box" },
            n(p.x),
            n(p.y),
            n(BOX_W),
            n(BOX_H),
            n(p.x + 8.0),
            n(p.y + 18.0),
            format::escape(&short_name(&c.name)),
            n(p.x + 8.0),
            n(p.y + 36.0),
        );
        if spof {
            let _ = write!(
                out,
                "<text class=\"spof-tag\" x=\"{}\" y=\"{}\" text-anchor=\"end\">SPOF</text>",
                n(p.x + BOX_W - 8.0),
                n(p.y + 36.0)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// The component a click or key landed on: the `data-component` of the box around `target`.
fn picked(target: Option<web_sys::EventTarget>) -> Option<String> {
    use wasm_bindgen::JsCast;
    target?
        .dyn_into::<web_sys::Element>()
        .ok()?
        .closest("[data-component]")
        .ok()??
        .get_attribute("data-component")
}

/// Focuses the box of component `id` in the graph.
fn focus_box(id: &str) {
    use wasm_bindgen::JsCast;
    let Some(boxes) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector_all("[data-testid=map-graph] g.node").ok())
    else {
        return;
    };
    for i in 0..boxes.length() {
        let found = boxes
            .item(i)
            .and_then(|n| n.dyn_into::<web_sys::SvgElement>().ok())
            .filter(|e| e.get_attribute("data-component").as_deref() == Some(id));
        if let Some(element) = found {
            let _ = element.focus();
            return;
        }
    }
}

/// The graph. `selected` is shared with the tables and the blast-radius panel.
#[component]
pub fn MapGraph(map: DependencyMap, selected: RwSignal<Option<String>>) -> impl IntoView {
    let map = StoredValue::new(map);
    let markup = move || map.with_value(|m| svg(m, selected.get().as_deref()));
    view! {
        <figure class="map-graph" data-testid="map-graph">
            <div class="map-graph-svg" inner_html=markup
                on:click=move |ev| {
                    if let Some(id) = picked(ev.target()) {
                        selected.set(Some(id));
                    }
                }
                on:keydown=move |ev| {
                    if (ev.key() == "Enter" || ev.key() == " ")
                        && let Some(id) = picked(ev.target())
                    {
                        ev.prevent_default();
                        selected.set(Some(id.clone()));
                        // The drawing is redrawn: keep the keyboard on the same box.
                        request_animation_frame(move || focus_box(&id));
                    }
                }></div>
            <figcaption class="hint">
                "Arrows point at what a component depends on. Colour and word give health; a dashed red frame and "
                <strong>"SPOF"</strong> " mark a single point of failure. Select a component: red stops without it, amber depends on it."
            </figcaption>
        </figure>
    }
}
