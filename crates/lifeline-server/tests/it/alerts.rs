//! The Prometheus alert rules in `deploy/lifeline-alerts.yml` keep the thresholds of
//! `RulesConfig::default()` and name only metrics the server exports.

use lifeline_server::{RULES, RulesConfig};

use crate::{Db, server};

/// One alert of the file: its expression, `for`, severity and the rule it mirrors.
#[derive(Debug, Default)]
struct Alert {
    name: String,
    expr: String,
    for_: Option<String>,
    severity: String,
    rule: String,
}

/// The alerts of a rules file, read with the small YAML subset it uses (`- alert:` items,
/// `key: value` pairs, `expr: |` blocks indented deeper than their key).
fn alerts(text: &str) -> Vec<Alert> {
    let mut out: Vec<Alert> = Vec::new();
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some(key_indent) = block {
            if indent > key_indent || trimmed.is_empty() {
                let alert = out.last_mut().unwrap();
                alert.expr.push_str(trimmed);
                alert.expr.push('\n');
                continue;
            }
            block = None;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("- alert: ") {
            out.push(Alert {
                name: name.to_owned(),
                ..Alert::default()
            });
            continue;
        }
        let Some(alert) = out.last_mut() else {
            continue;
        };
        match trimmed.split_once(": ").or_else(|| trimmed.split_once(':')) {
            Some(("expr", "|")) => block = Some(indent),
            Some(("expr", value)) => alert.expr = value.to_owned(),
            Some(("for", value)) => alert.for_ = Some(value.to_owned()),
            Some(("severity", value)) => alert.severity = value.to_owned(),
            Some(("rule", value)) => alert.rule = value.to_owned(),
            _ => {}
        }
    }
    out
}

/// Whether `expr` contains `wanted` as a whole figure (`> 0.2` is not in `> 0.25`).
fn has(expr: &str, wanted: &str) -> bool {
    expr.match_indices(wanted).any(|(at, _)| {
        !expr[at + wanted.len()..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
    })
}

#[tokio::test]
async fn alert_rules_keep_the_default_thresholds_and_real_metric_names() {
    let text = include_str!("../../deploy/lifeline-alerts.yml");
    let alerts = alerts(text);
    let c = RulesConfig::default();
    for rule in RULES {
        assert!(
            alerts.iter().any(|a| a.rule == rule),
            "no alert mirrors the rule {rule}"
        );
    }
    let window = format!("[{}m]", c.window_s / 60);
    let watched = format!("reason=~\"{}\"", c.surge_reasons.join("|"));
    for a in &alerts {
        let mut wanted: Vec<String> = match a.rule.as_str() {
            "validation_failure_ratio" | "edge_failure_ratio" => vec![
                format!(") > {}", c.failure_ratio),
                format!(">= {}", c.min_requests),
                window.clone(),
            ],
            "validation_latency_p99" => vec![
                format!(") > {}", c.p99_latency_ms / 1000.0),
                format!(">= {}", c.min_requests),
                window.clone(),
            ],
            "node_unreachable" => vec![],
            // Readiness, not an incident rule: the node's write stall, as /readyz sees it.
            "store_unavailable" => vec!["lifeline_store_write_stall_seconds > 0".to_owned()],
            "signing_key_expiry" if a.severity == "warning" => {
                vec![format!("< {} * 86400", c.key_expiry_warning_days)]
            }
            "signing_key_expiry" => vec!["<= 0".to_owned()],
            "publication_failures" => vec![format!(">= {}", c.publish_failures), window.clone()],
            "reason_surge" => vec![
                format!(") > {}", c.surge_share),
                format!(">= {}", c.surge_min),
                watched.clone(),
                window.clone(),
            ],
            "degraded_verdicts" => vec![
                format!(") > {}", c.degraded_share),
                format!(">= {}", c.degraded_min),
                window.clone(),
            ],
            "seat_exhaustion" => vec![format!(">= {}", c.seat_denials_min), window.clone()],
            "activation_surge" => vec![
                format!(">= {}", c.activation_surge_min),
                format!("> {} *", c.activation_surge_factor),
                window.clone(),
            ],
            other => panic!("{}: unknown rule {other:?}", a.name),
        };
        if a.rule == "node_unreachable" {
            assert_eq!(
                a.for_.as_deref(),
                Some(format!("{}s", c.node_unreachable_after_s).as_str()),
                "{}",
                a.name
            );
        }
        wanted.retain(|w| !has(&a.expr, w));
        assert!(
            wanted.is_empty(),
            "{}: the expression lacks {wanted:?}:\n{}",
            a.name,
            a.expr
        );
        assert!(
            ["warning", "critical"].contains(&a.severity.as_str()),
            "{}",
            a.name
        );
    }
    // Every lifeline_* metric an expression names is one the server exports.
    let s = server(Db::Sqlite).await;
    let exported = crate::incidents::metrics_text(&s).await;
    for a in &alerts {
        for name in a
            .expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("lifeline_"))
        {
            assert!(
                exported.contains(&format!("# TYPE {name} "))
                    || exported.contains(&format!("\n{name}{{"))
                    || exported.contains(&format!("\n{name} ")),
                "{}: {name} is not exported",
                a.name
            );
        }
    }
}

#[test]
fn the_yaml_subset_reader_reads_blocks_and_pairs() {
    let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          x > 1\n          and y\n        for: 30s\n        labels:\n          severity: warning\n          rule: r\n      - alert: B\n        expr: z == 0\n";
    let a = alerts(text);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].expr, "x > 1\nand y\n");
    assert_eq!(
        (
            a[0].for_.as_deref(),
            a[0].severity.as_str(),
            a[0].rule.as_str()
        ),
        (Some("30s"), "warning", "r")
    );
    assert_eq!(a[1].expr, "z == 0");
    assert!(has("x) > 0.2\n", ") > 0.2"));
    assert!(!has("x) > 0.25\n", ") > 0.2"));
    assert!(!has(">= 200", ">= 20"));
}
