//! Seats against a real `lifeline serve`: a floating seat whose machine stops heartbeating is
//! reclaimed by the server's own sweep within `heartbeat_s` + 10 %, one that heartbeats is
//! kept; `lifeline seat list|release` show and end seats for operators.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{BIN, Serve, agent};

fn lifeline(token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("LIFELINE_TOKEN", token)
        .output()
        .unwrap()
}

/// POST without an API token (a machine's own seat request): status and body.
fn machine(node: &Serve, path: &str, body: &Value) -> (u16, Value) {
    let mut r = agent()
        .post(format!("{}{path}", node.url))
        .send_json(body)
        .unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_json().unwrap_or(Value::Null),
    )
}

fn seats(node: &Serve, admin: &str, license: &str) -> Value {
    let (status, list) = node.get(&format!("/api/v1/licenses/{license}/seats"), Some(admin));
    assert_eq!(status, 200, "{list}");
    list
}

#[test]
fn a_dead_machines_floating_seat_is_reclaimed_within_heartbeat_s_plus_a_tenth() {
    let _others = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"seat_sweep_every_s": 1, "heartbeat_every_s": 1, "node_unreachable_after_s": 3}"#,
    )
    .unwrap();
    let data = dir.path().join("data");
    let node = Serve::start(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ],
        &[],
    );
    let admin = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let admin = admin.trim();
    let (status, _) = node.post(
        "/api/v1/products",
        admin,
        &json!({"id": "app", "name": "App"}),
    );
    assert_eq!(status, 201);
    let (status, license) = node.post(
        "/api/v1/licenses",
        admin,
        &json!({"product": "app", "licensee": "acme", "expires_at": 4_102_444_800u64,
            "entitlements": [], "seats": 3, "seat_mode": "floating", "heartbeat_s": 30}),
    );
    assert_eq!(status, 201, "{license}");
    let id = license["id"].as_str().unwrap().to_owned();
    let holder = |fp: &str| json!({"token": license["token"], "fingerprint": fp, "name": fp});
    let (status, dead) = machine(&node, "/api/v1/seats", &holder("dead"));
    assert_eq!(status, 201, "{dead}");
    let activated = Instant::now();
    let (status, alive) = machine(&node, "/api/v1/seats", &holder("alive"));
    assert_eq!(status, 201, "{alive}");
    let alive_seat = alive["seat_id"].as_str().unwrap().to_owned();
    // The live machine heartbeats every 10 s; the dead one never again.
    let reclaimed = loop {
        let list = seats(&node, admin, &id);
        let dead_row = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "dead")
            .unwrap()
            .clone();
        if dead_row["status"] == "reclaimed" {
            break activated.elapsed();
        }
        assert!(
            activated.elapsed() < Duration::from_secs(40),
            "not reclaimed within 40 s: {list}"
        );
        if activated.elapsed().as_secs() % 10 == 9 {
            let (status, beat) = machine(
                &node,
                &format!("/api/v1/seats/{alive_seat}/heartbeat"),
                &json!({"token": license["token"], "fingerprint": "alive"}),
            );
            assert_eq!(
                (status, beat["state"].as_str()),
                (200, Some("held")),
                "{beat}"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    // More than 30 s of service after its last heartbeat, and within 30 s + 10 %.
    assert!(
        reclaimed >= Duration::from_secs(29) && reclaimed <= Duration::from_secs(33),
        "reclaimed after {reclaimed:?}"
    );
    let list = seats(&node, admin, &id);
    let alive_row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == alive_seat.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        alive_row["status"], "alive",
        "the heartbeating seat stays: {list}"
    );
    assert_eq!(list["in_use"], 1);

    // `lifeline seat list|release` (operator token from the environment).
    let url = node.url.clone();
    let out = lifeline(admin, &["seat", "list", &id, "--server", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 of 3 seats in use (floating mode"),
        "{text}"
    );
    assert!(
        text.contains(&alive_seat) && text.contains("reclaimed"),
        "{text}"
    );
    let out = lifeline(admin, &["seat", "list", &id, "--server", &url, "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let out = lifeline(
        admin,
        &[
            "seat",
            "release",
            &alive_seat,
            "--reason",
            "laptop stolen",
            "--server",
            &url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("released {alive_seat}")));
    // Again: the server says it already ended (exit 2, its answer on stderr).
    let out = lifeline(
        admin,
        &[
            "seat",
            "release",
            &alive_seat,
            "--reason",
            "again",
            "--server",
            &url,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("409"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty());
    // A viewer may not list seats.
    let (status, viewer) = node.post(
        "/api/v1/tokens",
        admin,
        &json!({"name": "v", "role": "viewer"}),
    );
    assert_eq!(status, 201);
    let out = lifeline(
        viewer["token"].as_str().unwrap(),
        &["seat", "list", &id, "--server", &url],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );
}
