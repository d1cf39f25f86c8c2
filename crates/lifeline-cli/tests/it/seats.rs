//! Seats against a real `lifeline serve`: a floating seat whose machine stops heartbeating is
//! reclaimed by the server's own sweep within `heartbeat_s` + 10 %, one that heartbeats is
//! kept; `lifeline seat list|release` show and end seats for operators.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::lifeline_as as lifeline;
use crate::common::{BIN, Serve, agent};

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

/// The admin token of the server whose data directory is `data`, product `app`, and a
/// license for `acme` with the seat `terms`.
fn seated_license(node: &Serve, data: &std::path::Path, terms: Value) -> (String, Value) {
    let admin = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let admin = admin.trim().to_owned();
    let (status, _) = node.post(
        "/api/v1/products",
        &admin,
        &json!({"id": "app", "name": "App"}),
    );
    assert_eq!(status, 201);
    let mut body = json!({"product": "app", "licensee": "acme", "expires_at": 4_102_444_800u64, "entitlements": []});
    for (k, v) in terms.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, license) = node.post("/api/v1/licenses", &admin, &body);
    assert_eq!(status, 201, "{license}");
    (admin, license)
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
    let (admin, license) = seated_license(
        &node,
        &data,
        json!({"seats": 3, "seat_mode": "floating", "heartbeat_s": 20}),
    );
    let admin = admin.as_str();
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
            activated.elapsed() < Duration::from_secs(30),
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
    // More than 20 s of service after its last heartbeat, and within 20 s + 10 % (the
    // server's own times: its last heartbeat and when the sweep took it back).
    assert!(
        reclaimed >= Duration::from_secs(19) && reclaimed <= Duration::from_secs(23),
        "reclaimed after {reclaimed:?}"
    );
    let list = seats(&node, admin, &id);
    let dead_row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "dead")
        .unwrap()
        .clone();
    let after =
        dead_row["ended_at"].as_u64().unwrap() - dead_row["last_heartbeat"].as_u64().unwrap();
    assert!(
        (21..=22).contains(&after),
        "reclaimed {after} s after its last heartbeat: {dead_row}"
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

/// The JSON lines `lifeline check` printed.
fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn check_seat_holds_renews_and_releases_a_seat_and_rides_out_an_outage() {
    let _others = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut node = Serve::start(&["--data-dir", data.to_str().unwrap()], &[]);
    let (admin, license) = seated_license(
        &node,
        &data,
        json!({"seats": 1, "seat_mode": "floating", "heartbeat_s": 10}),
    );
    let id = license["id"].as_str().unwrap().to_owned();
    let file = dir.path().join("license.jwt");
    std::fs::write(&file, license["token"].as_str().unwrap()).unwrap();
    let (_, keys) = node.get("/.well-known/lifeline/keys.json", None);
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, keys.to_string()).unwrap();
    let check = |fingerprint: &str, extra: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "check",
            "--nodes",
            &node.url,
            "--keys",
            keys_file.to_str().unwrap(),
        ])
        .args([
            "--cache",
            dir.path()
                .join(format!("cache-{fingerprint}"))
                .to_str()
                .unwrap(),
        ])
        .args([
            "--seat",
            "--fingerprint",
            fingerprint,
            "--seat-name",
            "build box",
        ])
        .args(["--timeout-ms", "500", "--deadline-ms", "1500"])
        .args(extra)
        .arg(file.to_str().unwrap());
        cmd
    };
    let seat_rows = |node: &Serve| {
        seats(node, &admin, &id)["items"]
            .as_array()
            .unwrap()
            .clone()
    };

    // Three checks holding the seat, then released at the end.
    let out = check("machine-a", &["--count", "3", "--every-ms", "300"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = lines(&out.stdout);
    assert_eq!(seen.len(), 3);
    for line in &seen {
        assert_eq!(line["state"], "valid", "{line}");
        assert_eq!(line["seat"]["state"], "held", "{line}");
    }
    let rows = seat_rows(&node);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["end_cause"].as_str()),
        (Some("released"), Some("released"))
    );
    assert_eq!(rows[0]["name"], "build box");

    // Another machine holds the only seat: refused, exit 1.
    let (status, held) = machine(
        &node,
        "/api/v1/seats",
        &json!({"token": license["token"], "fingerprint": "machine-b"}),
    );
    assert_eq!(status, 201, "{held}");
    let out = check("machine-c", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let seen = lines(&out.stdout);
    assert_eq!(
        seen[0]["seat"],
        json!({"state": "refused", "reason": "seats_exhausted"})
    );
    let seat_b = held["seat_id"].as_str().unwrap();
    let (status, _) = node.post(
        &format!("/api/v1/seats/{seat_b}/revoke"),
        &admin,
        &json!({"reason": "make room"}),
    );
    assert_eq!(status, 200);

    // SIGTERM while holding: released, exit 130.
    let mut child = check("machine-d", &["--count", "1000", "--every-ms", "200"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seat_rows(&node).iter().any(|r| r["status"] == "alive") {
        assert!(Instant::now() < deadline, "no seat held");
        std::thread::sleep(Duration::from_millis(100));
    }
    // It renews its seat (a heartbeat between half and three quarters of the 10 s lease).
    let deadline = Instant::now() + Duration::from_secs(12);
    while !seat_rows(&node)
        .iter()
        .any(|r| r["status"] == "alive" && r["last_heartbeat"].as_u64() > r["first_seen"].as_u64())
    {
        assert!(
            Instant::now() < deadline,
            "no heartbeat: {:?}",
            seat_rows(&node)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let done = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(done.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        seat_rows(&node).iter().all(|r| r["status"] != "alive"),
        "released on SIGTERM: {:?}",
        seat_rows(&node)
    );

    // The node goes down while a machine holds the seat: it keeps running on its seat lease,
    // then on the offline grace (no lockout), and never crashes.
    let child = check("machine-e", &["--count", "1000", "--every-ms", "500"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seat_rows(&node).iter().any(|r| r["status"] == "alive") {
        assert!(Instant::now() < deadline, "no seat held");
        std::thread::sleep(Duration::from_millis(100));
    }
    node.kill();
    // Past the 10 s seat lease: the offline grace carries it.
    std::thread::sleep(Duration::from_secs(13));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let seen = lines(&out.stdout);
    assert!(seen.len() > 10, "{seen:?}");
    assert!(
        seen.iter()
            .all(|l| l["seat"]["state"] == "held" || l["seat"]["state"] == "offline"),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap()["seat"]["state"], "offline", "{seen:?}");
    assert_eq!(seen.last().unwrap()["state"], "offline");
}

#[test]
fn sigkill_during_activations_loses_no_acknowledged_seat_and_counts_no_phantom() {
    let _others = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = crate::common::free_port();
    let args = ["--data-dir", data.to_str().unwrap()];
    let mut node = Serve::start_on(port, &args, &[]);
    let (admin, license) = seated_license(
        &node,
        &data,
        json!({"seats": 1000, "seat_mode": "floating"}),
    );
    let id = license["id"].as_str().unwrap().to_owned();
    // Four machines' worth of activations at a time until the server dies under them.
    let url = node.url.clone();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (url, token, acked) = (url.clone(), license["token"].clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    let fingerprint = format!("machine-{w}-{i}");
                    let body = json!({"token": token, "fingerprint": fingerprint});
                    let Ok(mut r) = agent().post(format!("{url}/api/v1/seats")).send_json(&body)
                    else {
                        return i;
                    };
                    if r.status().as_u16() == 201 {
                        let answer: Value = r.body_mut().read_json().unwrap();
                        acked
                            .lock()
                            .unwrap()
                            .push((fingerprint, answer["seat_id"].as_str().unwrap().to_owned()));
                    }
                }
                10_000
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    node.kill();
    let attempted: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() < 1000,
        "the kill came too late to prove anything"
    );

    let node = Serve::start_on(port, &args, &[]);
    let list = seats(&node, &admin, &id);
    let rows = list["items"].as_array().unwrap();
    let ids: std::collections::HashSet<&str> =
        rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for (fingerprint, seat) in &acknowledged {
        assert!(
            ids.contains(seat.as_str()),
            "acknowledged seat {seat} of {fingerprint} was lost"
        );
    }
    // The count is the rows: nothing counted that is not a seat, and at most one seat per
    // machine that asked (one whose answer was lost may have its seat: asking again reuses it).
    assert_eq!(list["in_use"].as_u64().unwrap() as usize, rows.len());
    assert!(
        rows.len() <= attempted + 4,
        "{} seats for {attempted} attempts",
        rows.len()
    );
    for (fingerprint, seat) in acknowledged.iter().take(20) {
        let (status, again) = machine(
            &node,
            "/api/v1/seats",
            &json!({"token": license["token"], "fingerprint": fingerprint}),
        );
        assert_eq!(
            (status, again["seat_id"].as_str()),
            (200, Some(seat.as_str())),
            "{again}"
        );
    }
    assert_eq!(
        seats(&node, &admin, &id)["in_use"].as_u64().unwrap() as usize,
        rows.len()
    );
}
