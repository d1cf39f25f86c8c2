//! Fault injection (`--danger-fault-injection` only) and drill reports.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use lifeline_api::Role;
use lifeline_server::{app, create_token};
use serde_json::{Value, json};

use crate::{Db, Server, license_body, server};

async fn token(s: &Server, role: Role) -> String {
    create_token(s.state.store(), "test", role.as_str(), role, None)
        .await
        .unwrap()
        .token
}

/// A server with fault injection on.
async fn faulty() -> Server {
    let mut s = server(Db::Sqlite).await;
    s.state.enable_fault_injection();
    s.router = app(s.state.clone());
    s
}

#[tokio::test]
async fn the_fault_routes_exist_only_with_the_flag_and_only_for_admins() {
    let plain = server(Db::Sqlite).await;
    let body = json!({"faults": {"replay_answers": true}});
    let (st, _) = plain
        .admin("PUT", "/api/v1/faults", Some(body.clone()))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = plain.admin("GET", "/api/v1/faults", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let s = faulty().await;
    let (st, _) = s
        .call("PUT", "/api/v1/faults", None, Some(body.clone()))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    for role in [Role::Viewer, Role::Operator] {
        let t = token(&s, role).await;
        let (st, _) = s
            .call("PUT", "/api/v1/faults", Some(&t), Some(body.clone()))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{role:?}");
        let (st, _) = s.call("GET", "/api/v1/faults", Some(&t), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{role:?}");
    }
    let (st, state) = s.admin("PUT", "/api/v1/faults", Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{state}");
    assert_eq!(state["faults"]["replay_answers"], true);
    let (_, now) = s.admin("GET", "/api/v1/faults", None).await;
    assert_eq!(now, state);
    // Audited, with what it was before.
    let (_, log) = s
        .admin("GET", "/api/v1/audit?action=fault.injected", None)
        .await;
    let events = log["items"].as_array().or(log.as_array()).unwrap().clone();
    assert_eq!(events.len(), 1, "{log}");
    assert_eq!(
        events[0]["after"]["faults"]["replay_answers"], true,
        "{log}"
    );
}

#[tokio::test]
async fn bad_fault_requests_are_refused() {
    let s = faulty().await;
    for (body, why) in [
        (
            json!({"faults": {"partition": true}}),
            "partition without for_ms",
        ),
        (json!({"faults": {}, "for_ms": 0}), "for_ms 0"),
        (
            json!({"faults": {}, "for_ms": 3_600_001}),
            "for_ms over an hour",
        ),
        (
            json!({"faults": {"hang_validate_ms": 120_001}}),
            "hang too long",
        ),
        (
            json!({"faults": {"clock_offset_s": 400_000_000}}),
            "offset over ten years",
        ),
        (json!({"faults": {"melt": true}}), "unknown fault"),
        (
            json!({"faults": {"partition": "yes"}, "for_ms": 10}),
            "wrong type",
        ),
    ] {
        let (st, problem) = s.admin("PUT", "/api/v1/faults", Some(body)).await;
        assert!(st.is_client_error(), "{why}: {st} {problem}");
    }
    let (_, now) = s.admin("GET", "/api/v1/faults", None).await;
    assert_eq!(
        now["faults"],
        json!({"partition": false, "hang_validate_ms": 0, "clock_offset_s": 0, "replay_answers": false, "store_locked": false}),
        "nothing refused took effect"
    );
}

#[tokio::test]
async fn a_replaying_node_answers_with_its_first_answer_until_cleared() {
    let s = faulty().await;
    s.product("p").await;
    let license = s.issue(license_body("p", "replay")).await;
    let first = s.validate(&license["token"]).await;
    let (st, _) = s
        .admin(
            "PUT",
            "/api/v1/faults",
            Some(json!({"faults": {"replay_answers": true}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // Past the one second in which identical answers are reused anyway.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        s.validate(&license["token"]).await,
        first,
        "the old answer, lease and all"
    );
    s.admin("PUT", "/api/v1/faults", Some(json!({"faults": {}})))
        .await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let fresh = s.validate(&license["token"]).await;
    assert_ne!(fresh["lease"], first["lease"], "a new lease once cleared");
}

#[tokio::test]
async fn a_locked_store_holds_writes_until_the_lock_ends_and_loses_none() {
    let s = faulty().await;
    s.product("p").await;
    let (st, _) = s
        .admin(
            "PUT",
            "/api/v1/faults",
            Some(json!({"faults": {"store_locked": true}, "for_ms": 1_500})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let start = Instant::now();
    let license = s.issue(license_body("p", "waited")).await;
    assert!(
        start.elapsed() >= Duration::from_millis(1_000),
        "the write waited for the lock: {:?}",
        start.elapsed()
    );
    let (st, got) = s
        .admin(
            "GET",
            &format!("/api/v1/licenses/{}", license["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{got}");
    let (_, now) = s.admin("GET", "/api/v1/faults", None).await;
    assert_eq!(
        now["faults"]["store_locked"], false,
        "the lock ended by itself"
    );
}

fn report(name: &str, passed: bool, met: bool) -> Value {
    json!({
        "name": name, "fault": "partition of node 0", "passed": passed, "started_at": 1_800_000_000u64,
        "detected_by": "incident node_unreachable",
        "times": {"detect_ms": 3_400, "recover_ms": 800, "total_ms": 10_000},
        "verifiers": {"checks": 90, "usable": 90, "lockouts": 0, "states": {"valid": 90}, "reasons": {}},
        "expectations": [{"expected": "no lockouts", "met": met, "observed": "0"}],
        "notes": []
    })
}

#[tokio::test]
async fn drill_reports_are_stored_by_admins_and_listed_for_viewers() {
    let s = server(Db::Sqlite).await;
    let viewer = token(&s, Role::Viewer).await;
    let (st, _) = s
        .call(
            "POST",
            "/api/v1/drills",
            Some(&viewer),
            Some(report("one-node-down", true, true)),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, stored) = s
        .admin(
            "POST",
            "/api/v1/drills",
            Some(report("one-node-down", true, true)),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{stored}");
    let (st, _) = s
        .admin(
            "POST",
            "/api/v1/drills",
            Some(report("all-nodes-down", false, false)),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, list) = s.call("GET", "/api/v1/drills", Some(&viewer), None).await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["report"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["all-nodes-down", "one-node-down"], "newest first");
    let (_, only) = s
        .call(
            "GET",
            "/api/v1/drills?name=one-node-down",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    let id = stored["id"].as_str().unwrap();
    let (st, one) = s
        .call("GET", &format!("/api/v1/drills/{id}"), Some(&viewer), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(one["report"], report("one-node-down", true, true));
    let (st, _) = s.admin("GET", "/api/v1/drills/nope", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_drill_reports_are_refused() {
    let s = server(Db::Sqlite).await;
    let mut no_expectations = report("x", true, true);
    no_expectations["expectations"] = json!([]);
    let mut extra = report("x", true, true);
    extra["verdict"] = json!("trust me");
    for (body, why) in [
        (report("One Node", true, true), "not kebab-case"),
        (report("", true, true), "empty name"),
        (
            report("one-node-down", true, false),
            "passed with an unmet expectation",
        ),
        (
            report("one-node-down", false, true),
            "failed with every expectation met",
        ),
        (no_expectations, "no expectation"),
        (extra, "unknown field"),
        (json!({"name": "x"}), "incomplete"),
    ] {
        let (st, problem) = s.admin("POST", "/api/v1/drills", Some(body)).await;
        assert!(
            st == StatusCode::BAD_REQUEST || st == StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {st} {problem}"
        );
    }
    let (st, _) = s.admin("GET", "/api/v1/drills?limit=0", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (_, list) = s.admin("GET", "/api/v1/drills", None).await;
    assert_eq!(list, json!([]), "nothing refused was stored");
}

/// A launcher that plays back a fixed outcome after its steps, waiting for `go` first.
#[derive(Debug)]
struct Scripted {
    outcome: Result<Value, String>,
    go: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl lifeline_server::DrillLauncher for Scripted {
    fn run(
        &self,
        name: &str,
        step: &mut dyn FnMut(String),
    ) -> Result<lifeline_api::DrillReport, String> {
        step(format!("{name}: lab up"));
        let _ = self.go.lock().unwrap().recv();
        step(format!("{name}: done"));
        let report = self.outcome.clone()?;
        Ok(serde_json::from_value(report).unwrap())
    }
}

async fn wait_run(s: &Server, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let (st, run) = s
            .admin("GET", &format!("/api/v1/drill-runs/{id}"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{run}");
        if run["status"] != "running" {
            return run;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{run}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn drill_runs_need_a_launcher_run_one_at_a_time_and_store_what_it_reports() {
    let mut s = server(Db::Sqlite).await;
    let start = json!({ "name": "one-node-down" });
    let (st, problem) = s
        .admin("POST", "/api/v1/drill-runs", Some(start.clone()))
        .await;
    assert_eq!(
        (st, problem["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("drills_unavailable")),
        "a server nobody gave a launcher says so"
    );

    for (outcome, status, stored) in [
        (Ok(report("one-node-down", true, true)), "passed", true),
        (Ok(report("one-node-down", false, false)), "failed", true),
        (Err("the lab did not start".to_owned()), "error", false),
        // A launcher answering for another drill is not believed.
        (Ok(report("all-nodes-down", true, true)), "error", false),
    ] {
        let (go, wait) = std::sync::mpsc::channel();
        s.state.set_drill_launcher(std::sync::Arc::new(Scripted {
            outcome,
            go: std::sync::Mutex::new(wait),
        }));
        // A fresh state per case (the launcher is set once per node).
        let (st, run) = s
            .admin("POST", "/api/v1/drill-runs", Some(start.clone()))
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{run}");
        let id = run["id"].as_str().unwrap().to_owned();
        let (st, busy) = s
            .admin(
                "POST",
                "/api/v1/drill-runs",
                Some(json!({ "name": "seat-race" })),
            )
            .await;
        assert_eq!(
            (st, busy["code"].as_str()),
            (StatusCode::CONFLICT, Some("drill_running"))
        );
        go.send(()).unwrap();
        let done = wait_run(&s, &id).await;
        assert_eq!(done["status"], status, "{done}");
        assert_eq!(done["steps"][0], "one-node-down: lab up");
        assert_eq!(done["report_id"].is_string(), stored, "{done}");
        if !stored {
            assert!(
                done["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{done}"
            );
        }
        s = server(Db::Sqlite).await;
    }
    let (st, _) = s
        .admin("POST", "/api/v1/drill-runs", Some(json!({ "name": 7 })))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
}
