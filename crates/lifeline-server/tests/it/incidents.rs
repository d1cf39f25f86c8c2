//! Field telemetry, the rules engine and incidents: each rule opens exactly one incident with
//! its evidence and resolves it when the condition clears; acknowledge and notes; several
//! nodes evaluating never duplicate an incident. The engine is driven with a given `now`
//! (figures recorded now leave the 5-minute window 10 minutes later): no test sleeps.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lifeline_api::{IncidentDetail, Overview, Role};
use lifeline_core::LATENCY_BUCKETS_SECS;
use lifeline_server::{RulesConfig, create_token};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{Server, node, now};

const LATER: u64 = 600;

async fn token(s: &Server, role: Role) -> String {
    create_token(s.state.store(), "test", role.as_str(), role, None)
        .await
        .unwrap()
        .token
}

/// A report of `states` (all verdicts in the first latency bucket).
pub(crate) fn report(service: &str, states: &[(&str, u64)], reasons: &[(&str, u64)]) -> Value {
    let count: u64 = states.iter().map(|(_, n)| n).sum();
    json!({
        "service": service, "instance": "host-1", "window_start": now() - 60,
        "window_end": now(),
        "by_state": states.iter().map(|(k, n)| ((*k).to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "by_reason": reasons.iter().map(|(k, n)| ((*k).to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "latency_buckets": vec![count; LATENCY_BUCKETS_SECS.len() + 1],
        "latency_bounds_seconds": LATENCY_BUCKETS_SECS, "count": count,
    })
}

async fn post_report(s: &Server, token: &str, body: Value) -> (StatusCode, Value) {
    s.call("POST", "/api/v1/telemetry", Some(token), Some(body))
        .await
}

pub(crate) async fn metrics_text(s: &Server) -> String {
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// The unresolved incidents, as (rule, subject).
async fn unresolved(s: &Server) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for status in ["open", "acknowledged"] {
        let (st, list) = s
            .admin("GET", &format!("/api/v1/incidents?status={status}"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        for i in list.as_array().unwrap() {
            out.push((
                i["rule"].as_str().unwrap().to_owned(),
                i["subject"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

/// The one incident for `rule`, with its timeline.
async fn incident(s: &Server, rule: &str) -> IncidentDetail {
    let (_, list) = s
        .admin("GET", &format!("/api/v1/incidents?rule={rule}"), None)
        .await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .inspect(|i| assert_eq!(i["rule"], rule))
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "exactly one {rule} incident: {list}");
    let (st, one) = s
        .admin("GET", &format!("/api/v1/incidents/{}", ids[0]), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    serde_json::from_value(one).unwrap()
}

pub(crate) async fn telemetry_is_checked_aggregated_and_exported(s: Server) {
    let viewer = token(&s, Role::Viewer).await;
    let good = report("shop", &[("valid", 7), ("invalid", 3)], &[("expired", 3)]);
    let (st, body) = post_report(&s, &viewer, good.clone()).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["counted"], 10);
    // The WASM verifier's `stats()` as it is, camelCase and cache figures included.
    let mut camel = json!({
        "service": "web", "instance": "tab-9", "windowStart": now() - 30, "windowEnd": now(),
        "byState": {"grace": 2}, "byReason": {"grace_period": 2},
        "latencyBuckets": vec![2; LATENCY_BUCKETS_SECS.len() + 1],
        "latencyBoundsSeconds": LATENCY_BUCKETS_SECS, "latencySumSeconds": 0.000_002,
        "count": 2, "cacheHits": 1, "cachedTokens": 1, "cumulative": true,
    });
    let (st, body) = post_report(&s, &viewer, camel.clone()).await;
    assert_eq!(
        (st, body["counted"].as_u64()),
        (StatusCode::ACCEPTED, Some(2))
    );
    // The same cumulative totals again: nothing new.
    let (_, body) = post_report(&s, &viewer, camel.clone()).await;
    assert_eq!(body["counted"], 0);
    camel["byState"]["grace"] = json!(3);
    camel["byReason"]["grace_period"] = json!(3);
    camel["latencyBuckets"] = json!(vec![3; LATENCY_BUCKETS_SECS.len() + 1]);
    camel["count"] = json!(3);
    assert_eq!(post_report(&s, &viewer, camel).await.1["counted"], 1);

    // Refusals, each with its code; nothing is counted.
    let (st, p) = s
        .call("POST", "/api/v1/telemetry", None, Some(good.clone()))
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (st, p) = s
        .raw(
            "POST",
            "/api/v1/telemetry",
            Some(&viewer),
            Some("{not json".into()),
            &[],
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    let bad = |path: &str, value: Value| {
        let mut b = good.clone();
        let mut target = &mut b;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = &mut target[*part];
        }
        target[parts[parts.len() - 1]] = value;
        b
    };
    for (body, status, code) in [
        (bad("extra", json!(1)), 422, "invalid_body"),
        (bad("count", json!(-1)), 422, "invalid_body"),
        (bad("service", json!("")), 422, "invalid_name"),
        (bad("service", json!("has space")), 422, "invalid_name"),
        (bad("instance", json!("x".repeat(129))), 422, "invalid_name"),
        (
            bad("window_start", json!(now() + 10)),
            422,
            "invalid_window",
        ),
        (
            bad("window_end", json!(now() + 3600)),
            422,
            "invalid_window",
        ),
        (bad("by_state.weird", json!(0)), 422, "unknown_state"),
        (bad("by_reason.Not-A-Code", json!(0)), 422, "invalid_reason"),
        (
            bad(
                "by_reason",
                json!(
                    (0..65)
                        .map(|i| (format!("r{i}"), json!(0)))
                        .collect::<serde_json::Map<_, _>>()
                ),
            ),
            422,
            "too_many_reasons",
        ),
        (
            bad("latency_bounds_seconds", json!([0.1])),
            422,
            "invalid_latency_bounds",
        ),
        (bad("count", json!(11)), 422, "inconsistent_counts"),
        (
            bad("by_reason.expired", json!(11)),
            422,
            "inconsistent_counts",
        ),
        (
            bad("latency_buckets", json!([1, 2])),
            422,
            "inconsistent_counts",
        ),
    ] {
        let (st, p) = post_report(&s, &viewer, body.clone()).await;
        assert_eq!(st.as_u16(), status, "{body} -> {p}");
        assert_eq!(p["code"], code, "{body}");
    }

    // The overview shows the edge's traffic, reasons and services; /metrics its counters.
    let (_, o) = s.admin("GET", "/api/v1/overview", None).await;
    let o: Overview = serde_json::from_value(o).unwrap();
    assert_eq!(o.edge.len(), 60);
    let requests: u64 = o.edge.iter().map(|m| m.requests).sum();
    let failures: u64 = o.edge.iter().map(|m| m.failures).sum();
    assert_eq!((requests, failures), (13, 3));
    assert_eq!(
        o.edge_failures_by_reason.len(),
        1,
        "grace_period is no failure"
    );
    assert_eq!(o.edge_failures_by_reason[0].reason, "expired");
    let services: Vec<(&str, u64)> = o
        .services
        .iter()
        .map(|x| (x.service.as_str(), x.instances))
        .collect();
    assert_eq!(services, [("shop", 1), ("web", 1)]);
    assert_eq!(o.open_incidents, 0);
    let text = metrics_text(&s).await;
    for line in [
        "lifeline_edge_verdicts_total{service=\"shop\",state=\"valid\"} 7",
        "lifeline_edge_verdicts_total{service=\"shop\",state=\"invalid\"} 3",
        "lifeline_edge_verdicts_total{service=\"web\",state=\"grace\"} 3",
        "lifeline_publish_failures_total{what=\"status_list\"} 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

/// Evaluates now and later; returns what opened now (asserting nothing else did) and checks
/// that the second evaluation opens nothing more and the later one resolves them all.
async fn fires_once_then_clears(s: &Server, expected: &[(&str, &str)]) -> Vec<String> {
    let t = now();
    let e = s.state.evaluate_rules(t).await.unwrap();
    let mut fired: Vec<(String, String)> = e.firing.clone();
    fired.sort();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(r, x)| ((*r).to_owned(), (*x).to_owned()))
        .collect();
    want.sort();
    assert_eq!(fired, want);
    assert_eq!(e.opened.len(), expected.len());
    assert_eq!(unresolved(s).await, want);
    let again = s.state.evaluate_rules(t + 10).await.unwrap();
    assert!(again.opened.is_empty(), "no duplicates while it fires");
    assert_eq!(unresolved(s).await, want);
    let later = s.state.evaluate_rules(t + LATER).await.unwrap();
    assert_eq!(later.resolved.len(), expected.len(), "{later:?}");
    assert!(unresolved(s).await.is_empty());
    e.opened
}

pub(crate) async fn each_rule_opens_one_incident_and_resolves_when_clear(s: Server) {
    assert!(
        s.state
            .evaluate_rules(now())
            .await
            .unwrap()
            .firing
            .is_empty()
    );

    // Each step on a node of its own over the same store: its figures start empty, so what
    // it evaluates is that step's traffic alone.
    // Refused validations: the failure ratio, and a surge of `malformed`.
    let n = fresh(&s).await;
    let me = format!("node:{}", n.state.node_id());
    for _ in 0..25 {
        n.validate(&json!("not-a-license")).await;
    }
    let surge = format!("{me} reason:malformed");
    fires_once_then_clears(
        &n,
        &[("validation_failure_ratio", &me), ("reason_surge", &surge)],
    )
    .await;
    let ratio = incident(&s, "validation_failure_ratio").await;
    assert_eq!(ratio.incident.evidence["verdicts"], 25);
    assert_eq!(ratio.incident.evidence["invalid"], 25);
    assert_eq!(ratio.incident.evidence["threshold"], 0.2);
    assert_eq!(ratio.incident.affected["nodes"][0], n.state.node_id());
    let kinds: Vec<&str> = ratio.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "resolved"]);
    assert!(ratio.incident.resolved_at.is_some());

    // Slow validations (synthetic: p99 over 250 ms).
    let n = fresh(&s).await;
    let me = format!("node:{}", n.state.node_id());
    for _ in 0..20 {
        n.state.metrics().validation(now(), "valid", None, 0.3);
    }
    fires_once_then_clears(&n, &[("validation_latency_p99", &me)]).await;
    let slow = incident(&s, "validation_latency_p99").await.incident;
    assert_eq!(slow.evidence["p99_ms"], 500.0);

    // The field: one service refusing a third of its verdicts, one running on grace.
    let n = fresh(&s).await;
    let viewer = token(&s, Role::Viewer).await;
    let shop = report(
        "shop",
        &[("valid", 20), ("invalid", 10)],
        &[("bad_signature", 10)],
    );
    assert_eq!(post_report(&n, &viewer, shop).await.0, StatusCode::ACCEPTED);
    let kiosk = report(
        "kiosk",
        &[("valid", 12), ("grace", 4), ("offline", 4)],
        &[("grace_period", 4), ("offline", 4)],
    );
    assert_eq!(
        post_report(&n, &viewer, kiosk).await.0,
        StatusCode::ACCEPTED
    );
    fires_once_then_clears(
        &n,
        &[
            ("edge_failure_ratio", "service:shop"),
            ("degraded_verdicts", "service:kiosk"),
        ],
    )
    .await;
    let edge = incident(&s, "edge_failure_ratio").await.incident;
    assert_eq!(edge.affected["services"][0], "shop");
    assert_eq!(edge.evidence["by_reason"]["bad_signature"], 10);
    let degraded = incident(&s, "degraded_verdicts").await.incident;
    assert_eq!(degraded.evidence["ratio"], 0.4);

    // 20 bad signatures, most of the refusals but few of the verdicts: a surge.
    let n = fresh(&s).await;
    let shop = report(
        "shop",
        &[("valid", 200), ("invalid", 20)],
        &[("bad_signature", 20)],
    );
    post_report(&n, &viewer, shop).await;
    fires_once_then_clears(&n, &[("reason_surge", "service:shop reason:bad_signature")]).await;

    // The status list cannot be produced (its table is away): a publication failure.
    let n = fresh(&s).await;
    let me = format!("node:{}", n.state.node_id());
    let pool = sqlx::AnyPool::connect(&s.url).await.unwrap();
    sqlx::query("ALTER TABLE status_counter RENAME TO status_counter_away")
        .execute(&pool)
        .await
        .unwrap();
    let list = Request::builder()
        .uri("/api/v1/status-list")
        .body(Body::empty())
        .unwrap();
    let res = n.router.clone().oneshot(list).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    sqlx::query("ALTER TABLE status_counter_away RENAME TO status_counter")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    fires_once_then_clears(&n, &[("publication_failures", &me)]).await;
    let published = incident(&s, "publication_failures").await.incident;
    assert_eq!(published.evidence["failures"]["status_list"], 1);

    // Another node stops sending heartbeats.
    let n = fresh(&s).await;
    let b = fresh(&s).await;
    let t = now();
    b.state.heartbeat(t - 31).await.unwrap();
    n.state.heartbeat(t).await.unwrap();
    let (_, nodes) = s.admin("GET", "/api/v1/nodes", None).await;
    let reachable: Vec<(&str, bool)> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["id"].as_str().unwrap(), x["reachable"].as_bool().unwrap()))
        .collect();
    assert_eq!(reachable.len(), 2);
    assert!(reachable.contains(&(b.state.node_id(), false)));
    assert!(reachable.contains(&(n.state.node_id(), true)));
    let e = n.state.evaluate_rules(t).await.unwrap();
    let subject = format!("node:{}", b.state.node_id());
    assert_eq!(e.firing, [("node_unreachable".to_owned(), subject)]);
    assert_eq!(e.opened.len(), 1);
    assert!(
        n.state
            .evaluate_rules(t + 1)
            .await
            .unwrap()
            .opened
            .is_empty()
    );
    b.state.heartbeat(t + 2).await.unwrap();
    n.state.heartbeat(t + 2).await.unwrap();
    assert_eq!(
        n.state.evaluate_rules(t + 3).await.unwrap().resolved,
        e.opened
    );
    let silent = incident(&s, "node_unreachable").await.incident;
    assert_eq!(silent.evidence["threshold_s"], 30);
    // Nodes that leave cleanly are not unreachable.
    b.state.leave().await.unwrap();
    n.state.leave().await.unwrap();
    let (_, nodes) = s.admin("GET", "/api/v1/nodes", None).await;
    assert_eq!(nodes, json!([]));

    // The signing key: a warning 14 days before it is due, critical once due; a rotation
    // clears it.
    let n = fresh(&s).await;
    let (_, keys) = s.admin("GET", "/api/v1/keys", None).await;
    let active = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["status"] == "active")
        .unwrap()
        .clone();
    let rotate_by = active["rotate_by"].as_u64().unwrap();
    let kid = active["kid"].as_str().unwrap();
    let e = n
        .state
        .evaluate_rules(rotate_by - 14 * 86_400 - 1)
        .await
        .unwrap();
    assert!(e.firing.is_empty(), "{e:?}");
    let e = n
        .state
        .evaluate_rules(rotate_by - 14 * 86_400)
        .await
        .unwrap();
    assert_eq!(
        e.firing,
        [("signing_key_expiry".to_owned(), format!("key:{kid}"))]
    );
    assert_eq!(e.opened.len(), 1);
    let e = n.state.evaluate_rules(rotate_by).await.unwrap();
    assert_eq!((e.opened.len(), e.escalated.len()), (0, 1));
    let key = incident(&s, "signing_key_expiry").await;
    assert_eq!(key.incident.severity, lifeline_api::Severity::Critical);
    assert_eq!(key.incident.affected["keys"][0], kid);
    let kinds: Vec<&str> = key.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "evidence"]);
    let (st, _) = s.admin("POST", "/api/v1/keys/rotate", None).await;
    assert_eq!(st, StatusCode::OK);
    n.state.reload_keys().await.unwrap();
    let e = n.state.evaluate_rules(now()).await.unwrap();
    assert_eq!(e.resolved.len(), 1);
    assert!(unresolved(&s).await.is_empty());

    // Every change is in the audit log.
    let (_, audit) = s
        .admin("GET", "/api/v1/audit?action=incident.&limit=1000", None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let opened = actions.iter().filter(|a| **a == "incident.opened").count();
    let resolved = actions
        .iter()
        .filter(|a| **a == "incident.resolved")
        .count();
    assert_eq!((opened, resolved), (9, 9), "{actions:?}");
    assert!(actions.contains(&"incident.evidence"));
    let (_, chain) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true);
}

/// Another node over the test's store, with figures of its own.
async fn fresh(s: &Server) -> Server {
    node(&s.url, tempfile::tempdir().unwrap()).await
}

pub(crate) async fn incidents_are_acknowledged_and_annotated(s: Server) {
    let operator = token(&s, Role::Operator).await;
    let viewer = token(&s, Role::Viewer).await;
    for _ in 0..20 {
        s.validate(&json!("garbage")).await;
    }
    let t = now();
    s.state
        .set_rules(RulesConfig {
            disabled: vec!["reason_surge".into()],
            ..RulesConfig::default()
        })
        .unwrap();
    let opened = s.state.evaluate_rules(t).await.unwrap().opened;
    assert_eq!(opened.len(), 1);
    let id = &opened[0];
    let (_, o) = s.admin("GET", "/api/v1/overview", None).await;
    assert_eq!(o["open_incidents"], 1);
    let ack = format!("/api/v1/incidents/{id}/acknowledge");
    let notes = format!("/api/v1/incidents/{id}/notes");
    let (st, p) = s.call("POST", &ack, Some(&viewer), None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (st, d) = s.call("POST", &ack, Some(&operator), None).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "acknowledged");
    assert!(d["acknowledged_by"].as_str().unwrap().contains("operator"));
    let (st, p) = s.call("POST", &ack, Some(&operator), None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (st, d) = s
        .call(
            "POST",
            &notes,
            Some(&operator),
            Some(json!({"text": "looking at the CDN"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    for (body, status, code) in [
        (json!({"text": "  "}), 422, "invalid_note"),
        (json!({"text": "x".repeat(4097)}), 422, "invalid_note"),
        (json!({"txt": "x"}), 422, "invalid_body"),
    ] {
        let (st, p) = s.call("POST", &notes, Some(&operator), Some(body)).await;
        assert_eq!((st.as_u16(), p["code"].as_str()), (status, Some(code)));
    }
    for uri in [
        "/api/v1/incidents/nope",
        "/api/v1/incidents/nope/acknowledge",
        "/api/v1/incidents/nope/notes",
    ] {
        let method = if uri.ends_with("nope") { "GET" } else { "POST" };
        let body = (method == "POST").then(|| json!({"text": "x"}));
        let (st, p) = s.call(method, uri, Some(&operator), body).await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
    }
    let (st, list) = s
        .call("GET", "/api/v1/incidents?status=bogus", Some(&viewer), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{list}");
    // How a drill waits for detection: this rule, opened since it started.
    for (query, n) in [
        (
            format!("rule=validation_failure_ratio&since={t}&status=open"),
            0,
        ),
        (format!("rule=validation_failure_ratio&since={t}"), 1),
        (format!("rule=validation_failure_ratio&since={}", t + 1), 0),
        ("rule=node_unreachable".to_owned(), 0),
    ] {
        let (st, list) = s
            .call(
                "GET",
                &format!("/api/v1/incidents?{query}"),
                Some(&viewer),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), n, "{query}");
    }
    // Acknowledged incidents still resolve when the condition clears; notes may follow.
    assert_eq!(
        s.state
            .evaluate_rules(t + LATER)
            .await
            .unwrap()
            .resolved
            .len(),
        1
    );
    let (_, d) = s
        .call(
            "POST",
            &notes,
            Some(&operator),
            Some(json!({"text": "post-mortem: INC-7"})),
        )
        .await;
    let d: IncidentDetail = serde_json::from_value(d).unwrap();
    let timeline: Vec<(&str, &str)> = d
        .timeline
        .iter()
        .map(|e| (e.kind.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(
        timeline[1..],
        [
            ("acknowledged", "acknowledged"),
            ("note", "looking at the CDN"),
            ("resolved", "the condition cleared"),
            ("note", "post-mortem: INC-7"),
        ]
    );
    assert_eq!(timeline[0].0, "opened");
    assert!(d.timeline[2].actor.contains("operator"));
    let (_, audit) = s
        .admin("GET", &format!("/api/v1/audit?subject={id}"), None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "incident.opened",
            "incident.acknowledged",
            "incident.noted",
            "incident.resolved",
            "incident.noted",
        ]
    );
    let (_, o) = s.admin("GET", "/api/v1/overview", None).await;
    assert_eq!(o["open_incidents"], 0);
}

/// Two nodes over one store evaluate at the same moment, with the same findings: one
/// incident per condition. A node-local condition is judged by the node that saw it.
pub(crate) async fn nodes_evaluating_together_open_one_incident(s: Server) {
    let b = node(&s.url, tempfile::tempdir().unwrap()).await;
    let viewer = token(&s, Role::Viewer).await;
    let shop = report(
        "shop",
        &[("valid", 10), ("invalid", 20)],
        &[("expired", 20)],
    );
    post_report(&s, &viewer, shop.clone()).await;
    post_report(&b, &viewer, shop).await;
    // A third node that went silent: both see it.
    let c = node(&s.url, tempfile::tempdir().unwrap()).await;
    let t = now();
    c.state.heartbeat(t - 100).await.unwrap();
    s.state.heartbeat(t).await.unwrap();
    b.state.heartbeat(t).await.unwrap();
    for _ in 0..3 {
        let (ea, eb) = tokio::join!(s.state.evaluate_rules(t), b.state.evaluate_rules(t));
        let (ea, eb) = (ea.unwrap(), eb.unwrap());
        assert_eq!(ea.firing.len(), 2);
        assert_eq!(eb.firing.len(), 2);
    }
    let mut open = unresolved(&s).await;
    open.dedup();
    assert_eq!(
        open,
        [
            ("edge_failure_ratio".to_owned(), "service:shop".to_owned()),
            (
                "node_unreachable".to_owned(),
                format!("node:{}", c.state.node_id())
            ),
        ]
    );
    let (_, all) = s.admin("GET", "/api/v1/incidents", None).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    // The edge incident belongs to the node whose figures opened it: the other node, which
    // saw the same traffic, never resolves it while that node is alive.
    let edge = incident(&s, "edge_failure_ratio").await.incident;
    let opener_id = edge.affected["reported_to"][0].as_str().unwrap().to_owned();
    let (opener, other) = if opener_id == s.state.node_id() {
        (&s, &b)
    } else {
        (&b, &s)
    };
    let later = t + LATER;
    s.state.heartbeat(later).await.unwrap();
    b.state.heartbeat(later).await.unwrap();
    assert!(
        other
            .state
            .evaluate_rules(later)
            .await
            .unwrap()
            .resolved
            .is_empty()
    );
    assert_eq!(
        opener.state.evaluate_rules(later).await.unwrap().resolved,
        [edge.id]
    );
    assert_eq!(
        unresolved(&s).await,
        [(
            "node_unreachable".to_owned(),
            format!("node:{}", c.state.node_id())
        )]
    );
}
