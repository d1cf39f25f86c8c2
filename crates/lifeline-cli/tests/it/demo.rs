//! `lifeline serve --demo`: its fleet of verifiers gives the overview traffic, edge services
//! and, with its burst of forged tokens, incidents; `--demo=data` and a plain `serve` run no
//! fleet.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Serve;

const ADMIN: &str = "ll_demo-test-admin-token-0123456789abcdef";

fn serve(args: &[&str]) -> (Serve, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--data-dir", dir.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (Serve::start(&all, &[("LIFELINE_ADMIN_TOKEN", ADMIN)]), dir)
}

fn overview(server: &Serve) -> Value {
    let (status, o) = server.get("/api/v1/overview", Some(ADMIN));
    assert_eq!(status, 200, "{o}");
    o
}

fn services(o: &Value) -> Vec<String> {
    o["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_demo_fleet_brings_traffic_edge_services_and_incidents_within_a_minute() {
    let _lab = crate::common::beside_others();
    let (server, _dir) = serve(&["--demo", "--evaluate-every", "2"]);
    let started = Instant::now();
    let incidents = loop {
        let (_, incidents) = server.get("/api/v1/incidents?status=open", Some(ADMIN));
        let o = overview(&server);
        let fleet = services(&o);
        let surge = incidents.as_array().is_some_and(|a| {
            a.iter()
                .any(|i| i["subject"] == "service:partner-portal reason:bad_signature")
        });
        if fleet.len() == 3 && surge {
            assert_eq!(fleet, ["edge-eu", "edge-us", "partner-portal"]);
            break incidents;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "after a minute: services {fleet:?}, incidents {incidents}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // Through the real validate endpoint: requests counted, some refused (expired licenses,
    // the forged tokens), at the edge too.
    let o = overview(&server);
    let total = |series: &Value, field: &str| -> u64 {
        series
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[field].as_u64().unwrap_or(0))
            .sum()
    };
    assert!(
        total(&o["validation"], "requests") > 20,
        "{}",
        o["validation"]
    );
    let count = |list: &Value, reason: &str| -> u64 {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["reason"] == reason)
            .map_or(0, |r| r["count"].as_u64().unwrap())
    };
    for list in ["failures_by_reason", "edge_failures_by_reason"] {
        assert!(
            count(&o[list], "bad_signature") >= 20,
            "{list}: {}",
            o[list]
        );
        assert!(count(&o[list], "expired") >= 1, "{list}: {}", o[list]);
    }
    let rules: Vec<&str> = incidents
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"reason_surge"), "{rules:?}");
}

#[test]
fn no_fleet_without_demo_nor_with_demo_data() {
    let _lab = crate::common::beside_others();
    let (plain, _a) = serve(&[]);
    let (data, _b) = serve(&["--demo=data"]);
    std::thread::sleep(Duration::from_secs(6));
    for server in [&plain, &data] {
        let o = overview(server);
        assert!(services(&o).is_empty(), "{o}");
    }
    // --demo=data seeded the data all the same.
    let (_, page) = data.get("/api/v1/licenses?limit=5", Some(ADMIN));
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");
    let (_, page) = plain.get("/api/v1/licenses?limit=5", Some(ADMIN));
    assert!(page["items"].as_array().unwrap().is_empty(), "{page}");
}
