//! `GET /api/v1/overview`: counts against a known set of licenses, the expiring list, and
//! the per-minute validation series.

use axum::http::StatusCode;
use lifeline_api::Overview;
use serde_json::{Value, json};

use crate::{Server, license_body, now};

const DAY: u64 = 86_400;

async fn listed(s: &Server, query: &str) -> Vec<Value> {
    let (st, page) = s
        .admin("GET", &format!("/api/v1/licenses?limit=500&{query}"), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(page["next_cursor"].is_null());
    page["items"].as_array().unwrap().clone()
}

pub(crate) async fn overview_counts_states_and_shows_the_last_hour(s: Server) {
    // Demo data: valid 3 (one expiring in 3 days), grace 1, expired 1, revoked 1.
    assert!(lifeline_server::demo::seed(&s.state).await.unwrap());
    let t = now();
    let mut soon = Vec::new();
    for i in 1..=12u64 {
        let mut body = license_body("photo-pro", &format!("soon-{i}"));
        body["expires_at"] = json!(t + i * DAY - 100);
        soon.push(s.issue(body).await);
    }
    let mut later = license_body("photo-pro", "later");
    later["expires_at"] = json!(t + 31 * DAY);
    s.issue(later).await;
    let mut gone = license_body("photo-pro", "gone");
    gone["expires_at"] = json!(t + 2 * DAY);
    let gone = s.issue(gone).await;
    s.admin(
        "POST",
        &format!("/api/v1/licenses/{}/revoke", gone["id"].as_str().unwrap()),
        Some(json!({"reason": "refund"})),
    )
    .await;

    let (st, body) = s.admin("GET", "/api/v1/overview", None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let o: Overview = serde_json::from_value(body).unwrap();
    assert!(o.now >= t && o.now <= now());
    assert_eq!(
        (
            o.licenses.valid,
            o.licenses.grace,
            o.licenses.expired,
            o.licenses.revoked
        ),
        (3 + 12 + 1, 1, 1, 2)
    );
    assert_eq!(o.licenses.overridden, 0, "no override yet");
    // The counts are the list filters' states.
    for (state, n) in [
        ("valid", o.licenses.valid),
        ("grace", o.licenses.grace),
        ("expired", o.licenses.expired),
        ("revoked", o.licenses.revoked),
    ] {
        assert_eq!(
            listed(&s, &format!("state={state}")).await.len() as u64,
            n,
            "{state}"
        );
    }
    assert_eq!(o.expiring_window_s, 30 * DAY);
    assert_eq!(
        o.expiring_soon_total, 13,
        "12 + the demo's license in 3 days"
    );
    let mut expiring = listed(&s, &format!("expiring_within={}", 30 * DAY)).await;
    assert_eq!(expiring.len(), 13);
    expiring.sort_by_key(|l| l["expires_at"].as_u64().unwrap());
    let ids = |ls: &[Value]| -> Vec<String> {
        ls.iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let shown: Vec<String> = o.expiring_soon.iter().map(|l| l.id.clone()).collect();
    assert_eq!(shown, ids(&expiring[..10]), "the 10 soonest, soonest first");
    assert_eq!(o.expiring_soon[0].id, soon[0]["id"].as_str().unwrap());
    assert!(
        o.expiring_soon
            .iter()
            .all(|l| l.state == lifeline_api::LicenseState::Valid)
    );

    // Validation traffic: 4 usable verdicts, 4 unusable, 2 error answers.
    let (_, demo) = s
        .admin("GET", "/api/v1/licenses?licensee=initech", None)
        .await;
    let grace_token = demo["items"][0]["token"].clone();
    let expired = listed(&s, "state=expired").await;
    for token in [
        soon[0]["token"].clone(),
        soon[1]["token"].clone(),
        soon[2]["token"].clone(),
        grace_token,
        json!("garbage"),
        json!("also.garbage"),
        gone["token"].clone(),
        expired[0]["token"].clone(),
    ] {
        let v = s.validate(&token).await;
        assert!(v["verdict"].is_object(), "{v}");
    }
    for body in [
        json!({"token": 7}),
        json!({"token": "x", "instance": "i".repeat(300)}),
    ] {
        let (st, _) = s.call("POST", "/api/v1/validate", None, Some(body)).await;
        assert!(st.is_client_error());
    }
    let (_, body) = s.admin("GET", "/api/v1/overview", None).await;
    let o: Overview = serde_json::from_value(body).unwrap();
    assert_eq!(o.validation.len(), 60);
    assert_eq!(o.validation.last().unwrap().start, o.now / 60 * 60);
    assert!(
        o.validation
            .windows(2)
            .all(|w| w[1].start == w[0].start + 60)
    );
    let total =
        |f: fn(&lifeline_api::MinuteStats) -> u64| -> u64 { o.validation.iter().map(f).sum() };
    assert_eq!(total(|m| m.requests), 10);
    assert_eq!(total(|m| m.errors), 2);
    assert_eq!(total(|m| m.failures), 4);
    for m in &o.validation {
        if m.requests == m.errors {
            assert_eq!((m.p50_ms, m.p95_ms, m.p99_ms), (None, None, None));
        } else {
            let (p50, p95, p99) = (m.p50_ms.unwrap(), m.p95_ms.unwrap(), m.p99_ms.unwrap());
            assert!(
                0.0 < p50 && p50 <= p95 && p95 <= p99 && p99 <= 100.0,
                "{m:?}"
            );
        }
    }
    assert!(o.validation.iter().any(|m| m.p99_ms.is_some()));
    let reasons: Vec<(&str, u64)> = o
        .failures_by_reason
        .iter()
        .map(|r| (r.reason.as_str(), r.count))
        .collect();
    assert_eq!(reasons, [("malformed", 2), ("expired", 1), ("revoked", 1)]);
}
