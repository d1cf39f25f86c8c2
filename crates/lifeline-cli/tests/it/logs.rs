//! The server's log as a log shipper and an on-call engineer read it: `--log-format json`
//! gives one JSON object a line, every request carries an id (the caller's `x-request-id` or
//! a new one) on its response and its log lines, and no secret reaches the log at the most
//! verbose level over a run of the whole API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{Value, json};

use crate::common::{Serve, agent, free_port};

const ADMIN: &str = "ll_log-test-admin-token-0123456789abcdef";

#[test]
fn json_logs_carry_request_ids_and_never_a_secret() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.path().join("data");
    let mut node = Serve::start_logging(
        free_port(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--log-format",
            "json",
            // Its webhook points at 127.0.0.1.
            "--allow-private-webhooks",
        ],
        &[("LIFELINE_ADMIN_TOKEN", ADMIN), ("RUST_LOG", "trace")],
        log,
    );

    // The request id: the caller's when plain, a new one otherwise, on every answer.
    let answer = agent()
        .get(format!("{}/api/v1/licenses", node.url))
        .header("x-request-id", "trace-me-42")
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-request-id"], "trace-me-42");
    for sent in [None, Some("not plain: spaces"), Some(&*"x".repeat(65))] {
        let mut req = agent().get(format!("{}/healthz", node.url));
        if let Some(id) = sent {
            req = req.header("x-request-id", id);
        }
        let answer = req.call().unwrap();
        let id = answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 16, "a new id for {sent:?}: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }

    // The whole API, secrets included: a new token, a webhook secret, licenses, leases,
    // an override, a revocation.
    let mut secrets = vec![ADMIN.to_owned()];
    let (s, viewer) = node.post(
        "/api/v1/tokens",
        ADMIN,
        &json!({"name": "log reader", "role": "viewer"}),
    );
    assert_eq!(s, 201, "{viewer}");
    secrets.push(viewer["token"].as_str().unwrap().to_owned());
    let (s, hook) = node.post(
        "/api/v1/webhooks",
        ADMIN,
        &json!({"url": "http://127.0.0.1:9/hook", "events": ["license.revoked"]}),
    );
    assert_eq!(s, 201, "{hook}");
    secrets.push(hook["secret"].as_str().unwrap().to_owned());
    let (s, _) = node.post(
        "/api/v1/products",
        ADMIN,
        &json!({"id": "app", "name": "App"}),
    );
    assert_eq!(s, 201);
    let (s, license) = node.post(
        "/api/v1/licenses",
        ADMIN,
        &json!({"product": "app", "licensee": "acme", "expires_at": 4_102_444_800u64}),
    );
    assert_eq!(s, 201, "{license}");
    let token = license["token"].as_str().unwrap().to_owned();
    let answer: Value = agent()
        .post(format!("{}/api/v1/validate", node.url))
        .send_json(json!({ "token": token }))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    secrets.push(answer["lease"].as_str().unwrap().to_owned());
    secrets.push(token);
    let (s, bulk) = node.post(
        "/api/v1/licenses/bulk",
        ADMIN,
        &json!({"licenses": [{"product": "app", "licensee": "bulk", "expires_at": 4_102_444_800u64}]}),
    );
    assert_eq!(s, 201, "{bulk}");
    secrets.push(bulk["licenses"][0]["token"].as_str().unwrap().to_owned());
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let (s, ovr) = node.post(
        "/api/v1/overrides",
        ADMIN,
        &json!({"scope": {"type": "all"}, "effect": {"type": "valid"}, "expires_at": soon,
                "reason": "log test", "incident": "INC-1"}),
    );
    assert_eq!(s, 201, "{ovr}");
    let (s, bundle) = node.get("/api/v1/overrides/bundle", None);
    assert_eq!(s, 200, "{bundle}");
    let (s, _) = node.post(
        &format!(
            "/api/v1/licenses/{}/revoke",
            license["id"].as_str().unwrap()
        ),
        ADMIN,
        &json!({"reason": "log test"}),
    );
    assert_eq!(s, 200);
    // A refused token is a secret too.
    let (s, _) = node.get(
        "/api/v1/licenses",
        Some("ll_wrong-but-secret-0123456789abcdef"),
    );
    assert_eq!(s, 401);
    secrets.push("ll_wrong-but-secret-0123456789abcdef".to_owned());
    node.kill();

    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() > 20,
        "a trace-level run logs more than this: {text}"
    );
    let mut traced = 0;
    for line in &lines {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line}"));
        assert!(
            event["timestamp"].is_string() && event["level"].is_string(),
            "{line}"
        );
        if event["span"]["request_id"] == "trace-me-42" {
            traced += 1;
        }
        for secret in &secrets {
            // The whole secret, and for a JWS its signature alone.
            let tail = secret.rsplit('.').next().unwrap_or(secret);
            assert!(
                !line.contains(secret.as_str()) && !line.contains(tail),
                "a secret in the log: {line}"
            );
        }
    }
    assert!(
        traced > 0,
        "no log line carries the caller's request id: {text}"
    );
}
