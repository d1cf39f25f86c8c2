//! Time-series charts drawn by `plotters` on a `<canvas>` (its HTML5 canvas backend), with
//! the same figures in a table for screen readers.

use leptos::html;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;

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

/// The largest y of all series, or 0.
pub fn y_max(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max)
}

/// A line chart over the last hour. `unit` labels the y axis.
#[component]
pub fn LineChart(
    #[prop(into)] title: String,
    #[prop(into)] unit: String,
    #[prop(into)] series: Signal<Vec<Series>>,
) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let error = RwSignal::new(None::<String>);
    let y_unit = unit.clone();
    Effect::new(move || {
        let data = series.get();
        if let Some(el) = canvas.get() {
            error.set(draw(el, &data, &y_unit).err());
        }
    });
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
            <canvas node_ref=canvas height="220" role="img" aria-label=format!("{title} ({unit}), last 60 minutes")></canvas>
            {move || error.get().map(|e| view! { <p class="notice error">"Chart: " {e}</p> })}
            <table class="sr-only">
                <caption>{format!("{title} ({unit})")}</caption>
                <thead><tr><th scope="col">"Series"</th><th scope="col">"Latest minute"</th><th scope="col">"Max"</th></tr></thead>
                <tbody>{summary}</tbody>
            </table>
        </figure>
    }
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn draw(canvas: web_sys::HtmlCanvasElement, series: &[Series], unit: &str) -> Result<(), String> {
    // Draw at the displayed width so text stays crisp at 390 px and at 1280 px.
    let width = canvas.client_width();
    if width > 0 {
        canvas.set_width(width.unsigned_abs());
    }
    let backend =
        CanvasBackend::with_canvas_object(canvas).ok_or("the browser gave no 2D canvas")?;
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let top = match y_max(series) {
        m if m > 0.0 => m * 1.15,
        _ => 1.0,
    };
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(52)
        .build_cartesian_2d(-60f64..0f64, 0f64..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("minutes ago")
        .y_desc(unit)
        .x_labels(7)
        .y_labels(5)
        .x_label_formatter(&|x| format!("{:.0}", x.abs()))
        .light_line_style(RGBColor(236, 239, 243))
        .draw()
        .map_err(|e| e.to_string())?;
    for s in series {
        let color = RGBColor(s.color.0, s.color.1, s.color.2);
        // Dots as well as lines: a minute with traffic between quiet ones still shows.
        chart
            .draw_series(s.points.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 205, 212))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
