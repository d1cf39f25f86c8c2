//! `lifeline drill`: every drill runs for real (its own lab of `lifeline serve` processes on
//! 127.0.0.1, its own verifiers) and must pass its expectations; the report's JSON shape;
//! reports stored on a server (`--report-to`, scheduled with `serve --drills`); bad input.
//! Drills are timing-sensitive, so they run one at a time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{BIN, Serve};

const ADMIN: &str = "ll_drill-test-admin-token-0123456789abcdef";

const ALL: [&str; 16] = lifeline_api::DRILL_NAMES;

fn lifeline(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Runs a drill with `--json`: its report, checked for shape; panics with the report unless
/// it passed.
fn drill(name: &str) -> Value {
    let _alone = crate::common::alone();
    let out = lifeline(&["drill", "run", name, "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{name}: not one JSON object ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["name"], name);
    assert!(report["fault"].as_str().is_some_and(|f| !f.is_empty()));
    assert!(report["times"]["total_ms"].as_u64().unwrap() > 0);
    assert!(
        report["verifiers"]["checks"].as_u64().unwrap() > 0,
        "{report}"
    );
    let expectations = report["expectations"].as_array().unwrap();
    assert!(!expectations.is_empty());
    let all_met = expectations.iter().all(|e| e["met"] == true);
    assert_eq!(report["passed"], all_met, "passed is every expectation met");
    assert_eq!(
        out.status.code(),
        Some(if all_met { 0 } else { 1 }),
        "exit code follows the result"
    );
    assert!(all_met, "{name} failed: {report:#}");
    report
}

#[test]
fn drill_list_prints_every_drill_one_a_line_name_first() {
    let out = lifeline(&["drill", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ALL);
    for line in text.lines() {
        let name = line.split_whitespace().next().unwrap();
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "kebab-case: {name}"
        );
        assert!(line.len() > name.len() + 10, "a description: {line}");
    }
}

#[test]
fn an_unknown_drill_is_a_usage_error() {
    let out = lifeline(&["drill", "run", "meteor-strike"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("meteor-strike") && err.contains("drill list"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn report_to_needs_the_admin_token() {
    let out = Command::new(BIN)
        .args([
            "drill",
            "run",
            "clock-set-back",
            "--report-to",
            "http://127.0.0.1:9",
        ])
        .env_remove("LIFELINE_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIFELINE_ADMIN_TOKEN"));
}

#[test]
fn drill_expired_signing_key() {
    let r = drill("expired-signing-key");
    assert_eq!(r["detected_by"], "incident signing_key_expiry");
}

#[test]
fn drill_key_rotated_mid_traffic() {
    drill("key-rotated-mid-traffic");
}

#[test]
fn drill_one_node_down() {
    let r = drill("one-node-down");
    assert!(r["times"]["detect_ms"].as_u64().is_some());
    assert!(r["times"]["recover_ms"].as_u64().is_some());
}

#[test]
fn drill_all_nodes_down() {
    let r = drill("all-nodes-down");
    assert!(r["verifiers"]["states"]["offline"].as_u64().unwrap() > 0);
    assert_eq!(r["verifiers"]["lockouts"], 0);
}

#[test]
fn drill_seat_race() {
    let r = drill("seat-race");
    assert_eq!(
        r["expectations"][0]["observed"]
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("5")
    );
}

#[test]
fn drill_crashed_clients() {
    let r = drill("crashed-clients");
    assert!(r["times"]["recover_ms"].as_u64().is_some(), "{r}");
    assert_eq!(r["verifiers"]["lockouts"], 0);
}

#[test]
fn drill_heartbeat_outage() {
    let r = drill("heartbeat-outage");
    assert!(
        r["verifiers"]["states"]["offline"].as_u64().unwrap() > 0,
        "{r}"
    );
    assert_eq!(r["verifiers"]["lockouts"], 0);
}

#[test]
fn drill_node_hanging() {
    drill("node-hanging");
}

#[test]
fn drill_corrupted_license_file() {
    drill("corrupted-license-file");
}

#[test]
fn drill_corrupted_lease_cache() {
    drill("corrupted-lease-cache");
}

#[test]
fn drill_clock_skewed_ahead() {
    drill("clock-skewed-ahead");
}

#[test]
fn drill_clock_set_back() {
    let r = drill("clock-set-back");
    assert_eq!(r["verifiers"]["reasons"]["clock_rollback"], 1);
}

#[test]
fn drill_replayed_old_lease() {
    drill("replayed-old-lease");
}

#[test]
fn drill_revoked_during_outage() {
    let r = drill("revoked-during-outage");
    assert!(r["verifiers"]["reasons"]["revoked"].as_u64().unwrap() > 0);
}

#[test]
fn drill_store_unavailable() {
    let r = drill("store-unavailable");
    assert_eq!(r["detected_by"], "readyz: store_unwritable");
}

#[test]
fn drill_signing_key_leaked() {
    let r = drill("signing-key-leaked");
    assert_eq!(r["verifiers"]["lockouts"], 0);
    let observed = |i: usize| {
        r["expectations"][i]["observed"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        observed(2).contains("2000 of 2000 old tokens accepted; 0 of 6 forged"),
        "{r:#}"
    );
    // With the npm package built (`make test` builds it first), JS Clients run beside the
    // CLI ones; without it the report says why.
    let package = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../dist/npm/node/lifeline_wasm.js");
    let skipped = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().starts_with("JS clients not run"));
    if package.is_file() {
        assert!(!skipped, "{r:#}");
        assert!(observed(3).contains("16 of 16"), "{r:#}");
    } else {
        assert!(skipped, "{r:#}");
    }
}

fn serve(extra: &[&str]) -> (Serve, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--data-dir", dir.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    (Serve::start(&args, &[("LIFELINE_ADMIN_TOKEN", ADMIN)]), dir)
}

fn reports(server: &Serve) -> Vec<Value> {
    let (status, list) = server.get("/api/v1/drills", Some(ADMIN));
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

#[test]
fn report_to_stores_the_report_on_the_server() {
    let (server, _dir) = serve(&[]);
    let _alone = crate::common::alone();
    let out = Command::new(BIN)
        .args([
            "drill",
            "run",
            "clock-set-back",
            "--json",
            "--report-to",
            &server.url,
        ])
        .env("LIFELINE_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stored = reports(&server);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["report"], printed,
        "the report stored is the one printed"
    );
}

#[test]
fn serve_runs_scheduled_drills_and_stores_their_reports() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = dir.path().join("drills.json");
    std::fs::write(
        &schedule,
        r#"{"drills": [{"name": "clock-set-back", "every_s": 3600, "first_after_s": 0}]}"#,
    )
    .unwrap();
    let _alone = crate::common::alone();
    let (server, _data) = serve(&["--drills", schedule.to_str().unwrap()]);
    let start = Instant::now();
    let stored = loop {
        let stored = reports(&server);
        if !stored.is_empty() {
            break stored;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no scheduled drill report within 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(stored[0]["report"]["name"], "clock-set-back");
    assert_eq!(stored[0]["report"]["passed"], true, "{:#}", stored[0]);
}

#[test]
fn a_bad_drill_schedule_stops_the_server_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    for (body, expect) in [
        (
            r#"{"drills": [{"name": "meteor-strike", "every_s": 3600}]}"#,
            "meteor-strike",
        ),
        (
            r#"{"drills": [{"name": "one-node-down", "every_s": 5}]}"#,
            "every_s",
        ),
        (
            r#"{"drills": [{"name": "one-node-down"}]}"#,
            "not a drill schedule",
        ),
        ("nonsense", "not a drill schedule"),
    ] {
        let path = dir.path().join("drills.json");
        std::fs::write(&path, body).unwrap();
        let out = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--drills",
                path.to_str().unwrap(),
            ])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("LIFELINE_ADMIN_TOKEN", ADMIN)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{body}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{body}: {err}");
    }
}

/// Polls a drill run until it is no longer running.
fn run_to_end(server: &Serve, id: &str, token: &str) -> Value {
    let start = Instant::now();
    loop {
        let (status, run) = server.get(&format!("/api/v1/drill-runs/{id}"), Some(token));
        assert_eq!(status, 200, "{run}");
        if run["status"] != "running" {
            return run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the run did not end within 90 s: {run:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_drill_started_over_the_api_runs_one_at_a_time_shows_its_steps_and_stores_its_report() {
    let (server, _dir) = serve(&[]);
    let _alone = crate::common::alone();
    let make = |role: &str| {
        let (status, t) = server.post(
            "/api/v1/tokens",
            ADMIN,
            &json!({ "name": role, "role": role, "principal": format!("{role} person") }),
        );
        assert_eq!(status, 201, "{t}");
        t["token"].as_str().unwrap().to_owned()
    };
    let (operator, viewer) = (make("operator"), make("viewer"));
    let start = |token: &str, name: &str| {
        server.post("/api/v1/drill-runs", token, &json!({ "name": name }))
    };

    // A viewer may watch, not start.
    let (status, refused) = start(&viewer, "clock-set-back");
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("forbidden")),
        "{refused}"
    );
    let (status, refused) = start(&operator, "meteor-strike");
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("unknown_drill"))
    );
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("one-node-down")
    );

    let (status, run) = start(&operator, "clock-set-back");
    assert_eq!(status, 202, "{run}");
    assert_eq!(
        (run["status"].as_str(), run["name"].as_str()),
        (Some("running"), Some("clock-set-back"))
    );
    let id = run["id"].as_str().unwrap().to_owned();
    // One at a time: a second is refused at once, naming the running one, not queued.
    let (status, busy) = start(&operator, "one-node-down");
    assert_eq!(
        (status, busy["code"].as_str()),
        (409, Some("drill_running")),
        "{busy}"
    );
    assert!(busy["detail"].as_str().unwrap().contains("clock-set-back"));

    let done = run_to_end(&server, &id, &viewer);
    assert_eq!(done["status"], "passed", "{done:#}");
    let steps: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        steps.iter().any(|s| s.starts_with("lab ready")),
        "{steps:?}"
    );
    assert!(steps.iter().any(|s| s.starts_with("[ok] ")), "{steps:?}");
    assert_eq!(steps.last(), Some(&"done: every expectation met"));
    assert!(done["finished_at"].as_u64().unwrap() >= done["started_at"].as_u64().unwrap());

    // Its report is stored like any other, from the operator who started it.
    let report_id = done["report_id"].as_str().unwrap();
    let (status, stored) = server.get(&format!("/api/v1/drills/{report_id}"), Some(&viewer));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["report"]["name"], "clock-set-back");
    assert_eq!(stored["report"]["passed"], true);
    assert!(
        stored["received_from"]
            .as_str()
            .unwrap()
            .contains("operator"),
        "{stored}"
    );
    let (_, audit) = server.get("/api/v1/audit?action=drill.", Some(ADMIN));
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"drill.started") && actions.contains(&"drill.reported"),
        "{actions:?}"
    );

    // The node is free again; the list has the run, newest first.
    let (status, list) = server.get("/api/v1/drill-runs", Some(&viewer));
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], id.as_str());
    let (status, missing) = server.get("/api/v1/drill-runs/no-such-run", Some(&viewer));
    assert_eq!((status, missing["code"].as_str()), (404, Some("not_found")));
}

#[test]
fn a_lab_node_stops_when_the_lab_that_started_it_is_gone() {
    // A drill's nodes run `serve --exit-with-stdin` with their stdin a pipe the drill holds:
    // the drill killed (after a timeout, say), the pipe closes and the node stops.
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::free_port();
    let mut node = Command::new(BIN)
        .args([
            "serve",
            "--exit-with-stdin",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("LIFELINE_ADMIN_TOKEN", ADMIN)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let start = Instant::now();
    while crate::common::agent()
        .get(&url)
        .call()
        .map_or(0, |r| r.status().as_u16())
        != 200
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the node did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        node.try_wait().unwrap().is_none(),
        "it serves while the pipe is open"
    );
    drop(node.stdin.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = node.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still running 10 s after its stdin closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let mut err = String::new();
    std::io::Read::read_to_string(node.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("standard input closed"), "{err}");
}
