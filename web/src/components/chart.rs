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

/// A line chart over the last hour. `unit` labels the y axis; `empty` is what the figure
/// says instead of a drawing when no series has a value above zero (an empty frame or a flat
/// line at 0 reads as broken).
#[component]
pub fn LineChart(
    #[prop(into)] title: String,
    #[prop(into)] unit: String,
    #[prop(into)] series: Signal<Vec<Series>>,
    #[prop(into)] empty: String,
) -> impl IntoView {
    let label = format!("{title} ({unit}), last 60 minutes");
    let y_unit = unit.clone();
    let drawing = move || {
        let series = series.get();
        if y_max(&series) > 0.0 {
            view! { <div class="chart-svg" inner_html=svg(&series, &y_unit, &label)></div> }
                .into_any()
        } else {
            view! { <p class="empty chart-empty" data-testid="chart-empty">{empty.clone()}</p> }
                .into_any()
        }
    };
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
            {drawing}
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

/// The chart's SVG markup: grid, axes, a line per series (earlier series wider, drawn first,
/// so a later line on the same values never hides one: both stay visible), a dot per minute
/// (a busy minute between quiet ones still shows), the legend, and per minute a hover zone
/// whose tooltip reads that minute's value of every series. Built as text: the same drawing
/// from the view macro cost the console several KB.
pub fn svg(series: &[Series], unit: &str, label: &str) -> String {
    use std::fmt::Write;
    let (top, ticks) = y_axis(y_max(series));
    let (left, right, bottom) = (px(-MINUTES), px(0.0), py(0.0, top));
    let mut out = format!(
        "<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\"><g class=\"grid\">",
        n(WIDTH),
        n(HEIGHT),
        format::escape(label)
    );
    for t in ticks {
        let y = n(py(t, top));
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/>\
             <text class=\"tick y\" x=\"{}\" y=\"{y}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
            n(left),
            n(right),
            n(left - 6.0),
            tick_label(t)
        );
    }
    for i in 0..=6 {
        let minutes = 60 - 10 * i;
        let x = n(px(-f64::from(minutes)));
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/>\
             <text class=\"tick x\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{minutes}</text>",
            n(TOP),
            n(bottom),
            n(bottom + 14.0)
        );
    }
    let _ = write!(
        out,
        "</g><line class=\"axis\" x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\"/>\
         <line class=\"axis\" x1=\"{l}\" x2=\"{l}\" y1=\"{}\" y2=\"{b}\"/>\
         <text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">minutes ago</text>\
         <text class=\"axis-label\" transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        n(TOP),
        n((left + right) / 2.0),
        n(HEIGHT - 4.0),
        n((TOP + bottom) / 2.0),
        format::escape(unit),
        l = n(left),
        r = n(right),
        b = n(bottom),
    );
    let in_range = |p: &&(f64, f64)| (-MINUTES..=0.0).contains(&p.0) && p.1.is_finite();
    let count = series.len();
    for (i, s) in series.iter().enumerate() {
        let color = s.css_color();
        let width = 2.0 + 2.0 * (count - 1 - i) as f64;
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(in_range)
            .map(|&(x, y)| (px(x), py(y, top)))
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{},{}", n(x), n(y)))
            .collect();
        let _ = write!(
            out,
            "<g class=\"series\" data-series=\"{}\"><polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{}\" stroke-linejoin=\"round\"/>",
            format::escape(&s.label),
            path.join(" "),
            n(width)
        );
        for (x, y) in points {
            let _ = write!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{color}\"/>",
                n(x),
                n(y),
                n(width / 2.0 + 1.5)
            );
        }
        out.push_str("</g>");
    }
    // Hover zones: one per minute that has a value, its tooltip every series' value then.
    let mut minutes: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().filter(in_range).map(|p| p.0))
        .collect();
    minutes.sort_by(f64::total_cmp);
    minutes.dedup();
    let zone = (right - left) / MINUTES;
    out.push_str("<g class=\"hover\">");
    for m in minutes {
        let values: Vec<String> = series
            .iter()
            .filter_map(|s| {
                let y = s.points.iter().find(|p| p.0 == m)?.1;
                Some(format!("{} {}", s.label, fmt(y)))
            })
            .collect();
        let when = match (-m).round() as u64 {
            0 => "this minute".to_owned(),
            ago => format!("{ago} min ago"),
        };
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-minute=\"{}\"><title>{}: {} ({})</title></rect>",
            n(px(m) - zone / 2.0),
            n(TOP),
            n(zone),
            n(bottom - TOP),
            fmt(m),
            when,
            format::escape(&values.join(", ")),
            format::escape(unit)
        );
    }
    out.push_str("</g>");
    let legend_width = series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .map_or(0.0, |chars| chars as f64 * 7.5 + 40.0);
    if count > 0 {
        let _ = write!(
            out,
            "<g class=\"legend\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/>",
            n(left + 4.0),
            n(TOP + 4.0),
            n(legend_width),
            n(16.0 * count as f64 + 8.0)
        );
        for (i, s) in series.iter().enumerate() {
            let y = n(TOP + 14.0 + 16.0 * i as f64);
            let _ = write!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"{}\"/>\
                 <text class=\"legend\" x=\"{}\" y=\"{y}\" dominant-baseline=\"middle\">{}</text>",
                n(left + 10.0),
                n(left + 26.0),
                s.css_color(),
                n(2.0 + 2.0 * (count - 1 - i) as f64),
                n(left + 32.0),
                format::escape(&s.label)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}
