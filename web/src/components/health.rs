//! A component's health and an incident's severity as labelled badges (text, symbol and
//! colour: the colour is never the only signal).

use leptos::prelude::*;
use lifeline_api::{Health, Severity};

/// `ok`, `warning`, `critical` or `unknown`.
#[component]
pub fn HealthBadge(health: Health) -> impl IntoView {
    let name = health.as_str();
    let symbol = match health {
        Health::Ok => "●",
        Health::Warning => "▲",
        Health::Critical => "✖",
        Health::Unknown => "?",
    };
    view! {
        <span class=format!("badge health-{name}") data-health=name>
            <span aria-hidden="true">{symbol} " "</span>
            {name}
        </span>
    }
}

/// `warning` or `critical`.
#[component]
pub fn SeverityBadge(severity: Severity) -> impl IntoView {
    let (name, symbol) = match severity {
        Severity::Warning => ("warning", "▲"),
        Severity::Critical => ("critical", "✖"),
    };
    view! {
        <span class=format!("badge severity-{name}") data-severity=name>
            <span aria-hidden="true">{symbol} " "</span>
            {name}
        </span>
    }
}
