//! The alert rules and the metrics as Prometheus's own tool reads them (Debian's
//! `prometheus` package, installed by `.ci/setup`): the rules load, each alert fires on its
//! input series and not on a near miss (`lifeline-alerts.test.yml`), and a node's `/metrics`,
//! after traffic of every kind, passes `promtool check metrics` without a complaint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::{Serve, agent};

const ADMIN: &str = "ll_monitoring-test-admin-token-0123456789abcdef";

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lifeline-server/deploy")
}

fn promtool(args: &[&str], stdin: Option<&[u8]>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(deploy())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run .ci/setup (Debian's prometheus package)");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_alert_rules_load_and_each_fires_only_when_it_should() {
    let (ok, out) = promtool(&["check", "rules", "lifeline-alerts.yml"], None);
    assert!(ok && out.contains("SUCCESS: 12 rules found"), "{out}");
    let (ok, out) = promtool(&["test", "rules", "lifeline-alerts.test.yml"], None);
    assert!(ok && out.contains("SUCCESS"), "{out}");
}

#[test]
fn a_nodes_metrics_pass_promtool_check_metrics() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let node = Serve::start(
        &["--data-dir", dir.path().to_str().unwrap()],
        &[("LIFELINE_ADMIN_TOKEN", ADMIN)],
    );
    // Traffic of every kind the metrics count: products, licenses with seats, validations
    // valid and refused, a seat activated and refused, telemetry from an edge.
    assert_eq!(
        node.post(
            "/api/v1/products",
            ADMIN,
            &json!({"id": "app", "name": "App"})
        )
        .0,
        201
    );
    let (status, license) = node.post(
        "/api/v1/licenses",
        ADMIN,
        &json!({"product": "app", "licensee": "acme", "expires_at": 4_102_444_800u64, "seats": 1}),
    );
    assert_eq!(status, 201, "{license}");
    let token = license["token"].as_str().unwrap();
    for t in [token, "not-a-token"] {
        let answer = agent()
            .post(format!("{}/api/v1/validate", node.url))
            .header("content-type", "application/json")
            .send(json!({ "token": t }).to_string())
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    for machine in ["m1", "m2"] {
        let answer = agent()
            .post(format!("{}/api/v1/seats", node.url))
            .header("content-type", "application/json")
            .send(json!({ "token": token, "fingerprint": machine }).to_string())
            .unwrap();
        assert!(answer.status() == 200 || answer.status() == 201);
    }
    let report = json!({
        "service": "edge-1", "windowStartMs": 0, "windowEndMs": 1000, "count": 2,
        "byState": {"valid": 1, "invalid": 1}, "byReason": {"bad_signature": 1},
        "latency": {"boundsSecs": [0.001], "counts": [2, 0], "sumSecs": 0.0005}
    });
    let _ = node.post("/api/v1/telemetry", ADMIN, &report);
    let mut metrics = agent().get(format!("{}/metrics", node.url)).call().unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.body_mut().read_to_string().unwrap();
    for family in [
        "lifeline_validations_total",
        "lifeline_licenses",
        "lifeline_seats_in_use",
        "lifeline_seat_requests_total",
        "lifeline_signing_key_expiration_timestamp_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{text}"
        );
    }
    let (ok, out) = promtool(&["check", "metrics"], Some(text.as_bytes()));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics complains:\n{out}"
    );
}
