//! Time-series line charts drawn as inline SVG by Leptos itself (no canvas, no charting
//! crate: the drawing is a few lines and a charting library cost the console ~tens of KB),
//! with the same figures in a table for screen readers.

use leptos::prelude::*;

use crate::format;

/// One line: `points` are (minutes relative to now, value), oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// RGB colour.
    pub color: (u8, u8, u8),
    /// (x, y) points, x ascending.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// The colour as CSS (`rgb(r,g,b)`).
    fn css_color(&self) -> String {
        let (r, g, b) = self.color;
        format!("rgb({r},{g},{b})")
    }
}

/// The largest y of all series, or 0.
pub fn y_max(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max)
}

/// The y axis for values up to `max`: its top and its ticks (0 first, the top last), a
/// "round" step (1, 2, 2.5 or 5 times a power of ten) and at most six ticks, the top above
/// `max` so the highest point never touches the frame. Empty or non-finite data: 0..1.
pub fn y_axis(max: f64) -> (f64, Vec<f64>) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    // (The factor absorbs rounding: 0.3 / 0.1 is 2.9999999999999996.)
    let intervals = (max / step * (1.0 + 1e-9)).floor() + 1.0;
    let ticks = (0..=intervals as u32)
        .map(|i| f64::from(i) * step)
        .collect();
    (intervals * step, ticks)
}

/// A tick's label: whole numbers without decimals, others with at most two.
pub fn tick_label(v: f64) -> String {
    let text = format::fixed(v, 2);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

// The drawing in SVG user units; the SVG scales to its box's width.
const WIDTH: f64 = 440.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 36.0;
/// The x axis: the last 60 minutes.
const MINUTES: f64 = 60.0;

fn px(x: f64) -> f64 {
    LEFT + (x + MINUTES) / MINUTES * (WIDTH - LEFT - RIGHT)
}

fn py(y: f64, top: f64) -> f64 {
    TOP + (1.0 - y / top) * (HEIGHT - TOP - BOTTOM)
}

fn n(v: f64) -> String {
    format::fixed(v, 1)
}

/// A line chart over the last hour. `unit` labels the y axis.
#[component]
pub fn LineChart(
    #[prop(into)] title: String,
    #[prop(into)] unit: String,
    #[prop(into)] series: Signal<Vec<Series>>,
) -> impl IntoView {
    let y_unit = unit.clone();
    let plot = move || plot(&series.get(), &y_unit);
    let summary = move || {
        series
            .get()
            .into_iter()
            .map(|s| {
                let last = s.points.last().map_or(0.0, |p| p.1);
                let max = y_max(std::slice::from_ref(&s));
                view! { <tr><th scope="row">{s.label}</th><td>{fmt(last)}</td><td>{fmt(max)}</td></tr> }
            })
            .collect_view()
    };
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {} {}", n(WIDTH), n(HEIGHT)) role="img" aria-label=format!("{title} ({unit}), last 60 minutes")>
                {plot}
            </svg>
            <table class="sr-only">
                <caption>{format!("{title} ({unit})")}</caption>
                <thead><tr><th scope="col">"Series"</th><th scope="col">"Latest minute"</th><th scope="col">"Max"</th></tr></thead>
                <tbody>{summary}</tbody>
            </table>
        </figure>
    }
}

fn fmt(v: f64) -> String {
    format::fixed(v, if v.fract() == 0.0 { 0 } else { 2 })
}

/// The grid, axes, lines (with a dot per minute: a busy minute between quiet ones still
/// shows) and the legend.
fn plot(series: &[Series], unit: &str) -> impl IntoView + use<> {
    let (top, ticks) = y_axis(y_max(series));
    let (left, right, bottom) = (px(-MINUTES), px(0.0), py(0.0, top));
    let y_grid = ticks
        .into_iter()
        .map(|t| {
            let y = n(py(t, top));
            view! {
                <line class="grid" x1=n(left) x2=n(right) y1=y.clone() y2=y.clone()/>
                <text class="tick y" x=n(left - 6.0) y=y text-anchor="end" dominant-baseline="middle">{tick_label(t)}</text>
            }
        })
        .collect_view();
    let x_grid = (0..=6)
        .map(|i| {
            let minutes = 60 - 10 * i;
            let x = n(px(-f64::from(minutes)));
            view! {
                <line class="grid" x1=x.clone() x2=x.clone() y1=n(TOP) y2=n(bottom)/>
                <text class="tick x" x=x y=n(bottom + 14.0) text-anchor="middle">{minutes.to_string()}</text>
            }
        })
        .collect_view();
    let in_range = |p: &&(f64, f64)| (-MINUTES..=0.0).contains(&p.0) && p.1.is_finite();
    let lines = series
        .iter()
        .map(|s| {
            let color = s.css_color();
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(in_range)
                .map(|&(x, y)| (px(x), py(y, top)))
                .collect();
            let path = points
                .iter()
                .map(|&(x, y)| format!("{},{}", n(x), n(y)))
                .collect::<Vec<_>>()
                .join(" ");
            let dots = points
                .into_iter()
                .map(|(x, y)| view! { <circle cx=n(x) cy=n(y) r="3" fill=color.clone()/> })
                .collect_view();
            view! {
                <g class="series" data-series=s.label.clone()>
                    <polyline points=path fill="none" stroke=color.clone() stroke-width="2"/>
                    {dots}
                </g>
            }
        })
        .collect_view();
    let legend_width = series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .map_or(0.0, |chars| chars as f64 * 7.5 + 40.0);
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = TOP + 14.0 + 16.0 * i as f64;
            let color = s.css_color();
            view! {
                <line x1=n(left + 10.0) x2=n(left + 26.0) y1=n(y) y2=n(y) stroke=color stroke-width="2"/>
                <text class="legend" x=n(left + 32.0) y=n(y) dominant-baseline="middle">{s.label.clone()}</text>
            }
        })
        .collect_view();
    let legend_height = 16.0 * series.len() as f64 + 8.0;
    view! {
        <g class="grid">{y_grid}{x_grid}</g>
        <line class="axis" x1=n(left) x2=n(right) y1=n(bottom) y2=n(bottom)/>
        <line class="axis" x1=n(left) x2=n(left) y1=n(TOP) y2=n(bottom)/>
        <text class="axis-label" x=n((left + right) / 2.0) y=n(HEIGHT - 4.0) text-anchor="middle">"minutes ago"</text>
        <text class="axis-label" transform=format!("translate(14 {}) rotate(-90)", n((TOP + bottom) / 2.0)) text-anchor="middle">{unit.to_owned()}</text>
        {lines}
        {(!series.is_empty()).then(|| view! {
            <g class="legend">
                <rect x=n(left + 4.0) y=n(TOP + 4.0) width=n(legend_width) height=n(legend_height) rx="3"/>
                {legend}
            </g>
        })}
    }
}
