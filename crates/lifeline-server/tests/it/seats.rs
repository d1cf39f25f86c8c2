//! Seats: activation up to the limit (overage flagged), reuse, heartbeats, release with
//! linger, borrowing, signed refusals, the operator's view and release, exact counts under
//! concurrency (one node and two sharing a store), and the outage-aware reclaim.

use axum::http::StatusCode;
use lifeline_core::{SeatLease, SeatState};
use serde_json::{Value, json};

use crate::{Server, license_body, node, now};

/// A license for `licensee` with these seat terms.
async fn seated(s: &Server, licensee: &str, terms: Value) -> Value {
    let mut body = license_body("seats", licensee);
    for (k, v) in terms.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.issue(body).await
}

async fn product(s: &Server) {
    s.product("seats").await;
}

fn holder(license: &Value, fingerprint: &str) -> Value {
    json!({"token": license["token"], "fingerprint": fingerprint})
}

async fn activate(s: &Server, license: &Value, fingerprint: &str) -> (StatusCode, Value) {
    let mut body = holder(license, fingerprint);
    // The name people see; never the fingerprint itself.
    body["name"] = json!(format!("host {}", fingerprint.to_uppercase()));
    s.call("POST", "/api/v1/seats", None, Some(body)).await
}

async fn heartbeat(s: &Server, license: &Value, seat: &str, fingerprint: &str) -> Value {
    let (status, answer) = s
        .call(
            "POST",
            &format!("/api/v1/seats/{seat}/heartbeat"),
            None,
            Some(holder(license, fingerprint)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// The answer's seat lease, verified with the server's published keys.
async fn lease(s: &Server, answer: &Value) -> SeatLease {
    SeatLease::verify(
        answer["lease"].as_str().unwrap().as_bytes(),
        &s.jwks().await,
    )
    .unwrap()
}

fn refusal(answer: &Value) -> &str {
    assert_eq!(answer["state"], "refused", "{answer}");
    answer["reason"].as_str().unwrap()
}

pub(crate) async fn seats_are_granted_up_to_the_limit_reused_renewed_and_released(s: Server) {
    product(&s).await;
    let license = seated(
        &s,
        "acme",
        json!({"seats": 2, "seat_mode": "floating", "heartbeat_s": 60, "overage": {"fixed": 1}}),
    )
    .await;
    let id = license["id"].as_str().unwrap();
    let (status, first) = activate(&s, &license, "m1").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (
            first["state"].as_str(),
            first["in_use"].as_u64(),
            first["max"].as_u64()
        ),
        (Some("held"), Some(1), Some(3))
    );
    assert_eq!(first["overage"], false);
    assert_eq!(first["verdict"]["state"], "valid");
    let held = lease(&s, &first).await;
    assert!(held.is_for(id, "m1") && !held.is_for(id, "m2"));
    assert_eq!(held.state, SeatState::Held);
    assert_eq!(held.seat_id.as_deref(), first["seat_id"].as_str());
    let expires = first["lease_expires_at"].as_u64().unwrap();
    assert!(
        (now() + 55..=now() + 61).contains(&expires),
        "a heartbeat period: {expires}"
    );
    let seat1 = first["seat_id"].as_str().unwrap().to_owned();

    assert_eq!(activate(&s, &license, "m2").await.0, StatusCode::CREATED);
    let (status, third) = activate(&s, &license, "m3").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        third["overage"], true,
        "the third of two seats is overage: {third}"
    );
    let (status, fourth) = activate(&s, &license, "m4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(refusal(&fourth), "seats_exhausted");
    assert_eq!(fourth["in_use"], 3);
    let refused = lease(&s, &fourth).await;
    assert_eq!(refused.reason.map(|r| r.as_str()), Some("seats_exhausted"));
    assert!(!refused.holds_at(lifeline_core::UnixTime::from_secs(now())));

    // The same machine again: its own seat, not another one.
    let (status, again) = activate(&s, &license, "m1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["seat_id"], seat1.as_str());
    assert_eq!(again["in_use"], 3);

    // Heartbeats: renewed for its machine, refused (signed) for another.
    let renewed = heartbeat(&s, &license, &seat1, "m1").await;
    assert_eq!(renewed["state"], "held");
    assert!(lease(&s, &renewed).await.seq > held.seq);
    let other = heartbeat(&s, &license, &seat1, "m2").await;
    assert_eq!(refusal(&other), "fingerprint_mismatch");

    // Release: idempotent, then the seat is free for another machine.
    let release = |fp: &'static str| {
        let body = holder(&license, fp);
        let uri = format!("/api/v1/seats/{seat1}");
        let s = &s;
        async move { s.call("DELETE", &uri, None, Some(body)).await }
    };
    assert_eq!(
        release("m2").await.1["reason"],
        "fingerprint_mismatch",
        "not its seat"
    );
    assert_eq!(release("m1").await.0, StatusCode::NO_CONTENT);
    assert_eq!(release("m1").await.0, StatusCode::NO_CONTENT, "idempotent");
    assert_eq!(
        refusal(&heartbeat(&s, &license, &seat1, "m1").await),
        "seat_released"
    );
    let (status, fourth) = activate(&s, &license, "m4").await;
    assert_eq!(status, StatusCode::CREATED, "{fourth}");

    // What operators see: policy, live count, every seat; never a fingerprint.
    let (status, list) = s
        .admin("GET", &format!("/api/v1/licenses/{id}/seats"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            list["seats"].as_u64(),
            list["max"].as_u64(),
            list["in_use"].as_u64()
        ),
        (Some(2), Some(3), Some(3))
    );
    assert_eq!(list["mode"], "floating");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[3]["status"], "released", "ended seats last: {list}");
    assert_eq!(items[3]["end_cause"], "released");
    for item in items {
        assert_eq!(item["fingerprint_hash"].as_str().unwrap().len(), 12);
        assert!(item["name"].as_str().unwrap().starts_with("host M"));
    }
    let shown = serde_json::to_string(&list).unwrap();
    for fp in ["m1", "m2", "m3", "m4"] {
        assert!(!shown.contains(fp), "{fp} shown: {shown}");
    }
}

pub(crate) async fn bad_seat_requests_get_precise_answers(s: Server) {
    product(&s).await;
    let license = seated(&s, "bad", json!({"seats": 1})).await;
    // Not a license: nothing to sign an answer about.
    let (status, problem) = s
        .call(
            "POST",
            "/api/v1/seats",
            None,
            Some(json!({"token": "garbage", "fingerprint": "m"})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_license"))
    );
    for fingerprint in ["", &"f".repeat(257)] {
        let (status, problem) = activate(&s, &license, fingerprint).await;
        assert!(status.is_client_error(), "{problem}");
        assert_eq!(problem["code"], "invalid_request", "{problem}");
    }
    let (status, problem) = s
        .call(
            "POST",
            "/api/v1/seats",
            None,
            Some(json!({"token": license["token"], "fingerprint": "m", "extra": 1})),
        )
        .await;
    assert!(
        status.is_client_error(),
        "unknown members are refused: {problem}"
    );
    // An unknown seat, and ids echoed no longer than 64 characters.
    let long = "s".repeat(300);
    let (status, problem) = s
        .call(
            "POST",
            &format!("/api/v1/seats/{long}/heartbeat"),
            None,
            Some(holder(&license, "m")),
        )
        .await;
    // Longer than any id: refused before any lookup, never echoed whole.
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "invalid_id");
    assert!(problem["detail"].as_str().unwrap().len() < 120, "{problem}");
    // A license without seats; a revoked one.
    let plain = s.issue(json!({"product": "seats", "licensee": "plain", "entitlements": [], "expires_at": now() + 3600})).await;
    assert_eq!(refusal(&activate(&s, &plain, "m").await.1), "no_seats");
    let (status, _) = activate(&s, &license, "m").await;
    assert_eq!(status, StatusCode::CREATED);
    let id = license["id"].as_str().unwrap();
    let (status, _) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "chargeback"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = activate(&s, &license, "m").await;
    assert_eq!(refusal(&answer), "license_unusable");
    assert_eq!(answer["verdict"]["reason"], "revoked");
    // Seat terms without seats are refused at issue time.
    let (status, problem) = s
        .admin("POST", "/api/v1/licenses", Some(json!({"product": "seats", "licensee": "x", "entitlements": [], "expires_at": now() + 3600, "seat_mode": "floating"})))
        .await;
    assert_eq!(status.as_u16() / 100, 4, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("seat_mode needs seats"),
        "{problem}"
    );
    let (status, _) = s
        .admin("POST", "/api/v1/licenses", Some(json!({"product": "seats", "licensee": "x", "entitlements": [], "expires_at": now() + 3600, "seats": 2, "heartbeat_s": 5})))
        .await;
    assert_eq!(status.as_u16() / 100, 4, "heartbeat_s under 10 s");
    // Operators only.
    let (status, _) = s
        .call("GET", &format!("/api/v1/licenses/{id}/seats"), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

pub(crate) async fn floating_seats_are_reclaimed_after_heartbeat_s_of_service_time_only(s: Server) {
    // The sweeps below are called with times ahead of the clock; heartbeats use the clock.
    product(&s).await;
    let license = seated(
        &s,
        "float",
        json!({"seats": 3, "seat_mode": "floating", "heartbeat_s": 10}),
    )
    .await;
    let (_, a) = activate(&s, &license, "a").await;
    let (_, b) = activate(&s, &license, "b").await;
    let t = now();
    let mut seats = vec![
        a["seat_id"].as_str().unwrap().to_owned(),
        b["seat_id"].as_str().unwrap().to_owned(),
    ];
    seats.sort();
    // Within their heartbeat: kept.
    let r = s.state.sweep_seats(t + 5).await.unwrap();
    assert!(r.reclaimed.is_empty(), "{r:?}");
    // Then no node sweeps for 100 s (every node down): an outage, counted against nobody.
    let r = s.state.sweep_seats(t + 105).await.unwrap();
    assert_eq!(r.outage, Some((t + 5, t + 105)));
    assert!(r.reclaimed.is_empty(), "{r:?}");
    assert_eq!(r.spared, 2, "due by the wall clock, spared by the outage");
    // Their machines died with the service: at most 5 + 3 s of service time, kept...
    let r = s.state.sweep_seats(t + 108).await.unwrap();
    assert!(r.reclaimed.is_empty(), "{r:?}");
    // ... and reclaimed once more than 10 s of service time passed.
    let mut r = s.state.sweep_seats(t + 111).await.unwrap();
    r.reclaimed.sort();
    assert_eq!(r.reclaimed, seats);
    assert_eq!(
        refusal(
            &heartbeat(
                &s,
                &license,
                &seats[0],
                if seats[0] == a["seat_id"] { "a" } else { "b" }
            )
            .await
        ),
        "seat_expired"
    );
    let (_, list) = s
        .admin(
            "GET",
            &format!("/api/v1/licenses/{}/seats", license["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(list["in_use"], 0);
    for item in list["items"].as_array().unwrap() {
        assert_eq!(
            (item["status"].as_str(), item["end_cause"].as_str()),
            (Some("reclaimed"), Some("expired"))
        );
    }
    // The machine activates again and gets a seat.
    assert_eq!(activate(&s, &license, "a").await.0, StatusCode::CREATED);
}

pub(crate) async fn node_locked_seats_stay_and_borrowed_seats_come_back(s: Server) {
    product(&s).await;
    let locked = seated(&s, "locked", json!({"seats": 1, "heartbeat_s": 10})).await;
    let (status, _) = activate(&s, &locked, "desk").await;
    assert_eq!(status, StatusCode::CREATED);
    let t = now();
    let r = s.state.sweep_seats(t + 20).await.unwrap();
    assert!(
        r.reclaimed.is_empty(),
        "node-locked seats stay until released: {r:?}"
    );
    assert_eq!(
        refusal(&activate(&s, &locked, "laptop").await.1),
        "seats_exhausted"
    );

    let floating = seated(
        &s,
        "borrow",
        json!({"seats": 1, "seat_mode": "floating", "heartbeat_s": 10, "borrow_max_s": 3600}),
    )
    .await;
    let (_, held) = activate(&s, &floating, "laptop").await;
    let seat = held["seat_id"].as_str().unwrap().to_owned();
    let borrow = |until: u64| {
        let mut body = holder(&floating, "laptop");
        body["until"] = json!(until);
        let uri = format!("/api/v1/seats/{seat}/borrow");
        let s = &s;
        async move { s.call("POST", &uri, None, Some(body)).await }
    };
    assert_eq!(
        refusal(&borrow(t + 7200).await.1),
        "borrow_not_allowed",
        "beyond borrow_max_s"
    );
    let (status, problem) = borrow(t.saturating_sub(1)).await;
    assert!(status.is_client_error(), "{problem}");
    let (status, borrowed) = borrow(t + 600).await;
    assert_eq!(status, StatusCode::OK, "{borrowed}");
    assert_eq!(borrowed["state"], "borrowed");
    assert_eq!(borrowed["lease_expires_at"], t + 600);
    assert_eq!(lease(&s, &borrowed).await.state, SeatState::Borrowed);
    // Offline for longer than a heartbeat: kept while borrowed.
    let r = s.state.sweep_seats(t + 300).await.unwrap();
    assert!(r.reclaimed.is_empty(), "{r:?}");
    // The borrow ends: the seat heartbeats again from its end. (These sweeps jump ahead of
    // the clock, so the service clock takes the jump from t + 300 as an outage: the seat's
    // 10 s count from t + 601.)
    let r = s.state.sweep_seats(t + 601).await.unwrap();
    assert_eq!(r.borrows_ended, 1);
    assert_eq!(r.outage, Some((t + 300, t + 601)));
    assert!(r.reclaimed.is_empty(), "{r:?}");
    let r = s.state.sweep_seats(t + 611).await.unwrap();
    assert!(r.reclaimed.is_empty(), "10 s of service time: {r:?}");
    let r = s.state.sweep_seats(t + 612).await.unwrap();
    assert_eq!(r.reclaimed, vec![seat.clone()]);
    // A license without borrowing refuses it.
    let (_, desk) = activate(&s, &locked, "desk").await;
    let mut body = holder(&locked, "desk");
    body["until"] = json!(t + 60);
    let (_, answer) = s
        .call(
            "POST",
            &format!("/api/v1/seats/{}/borrow", desk["seat_id"].as_str().unwrap()),
            None,
            Some(body),
        )
        .await;
    assert_eq!(refusal(&answer), "borrow_not_allowed");
}

pub(crate) async fn a_released_seat_lingers_and_operators_release_with_a_reason(s: Server) {
    product(&s).await;
    let license = seated(
        &s,
        "linger",
        json!({"seats": 1, "seat_mode": "floating", "linger_s": 600}),
    )
    .await;
    let id = license["id"].as_str().unwrap();
    let (_, held) = activate(&s, &license, "m1").await;
    let seat = held["seat_id"].as_str().unwrap().to_owned();
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/api/v1/seats/{seat}"),
            None,
            Some(holder(&license, "m1")),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        refusal(&activate(&s, &license, "m2").await.1),
        "seats_exhausted",
        "m1's seat lingers"
    );
    let (status, back) = activate(&s, &license, "m1").await;
    assert_eq!(
        (status, back["seat_id"].as_str()),
        (StatusCode::OK, Some(seat.as_str())),
        "m1 takes its lingering seat back"
    );
    // An operator releases it (with a reason, audited); a second time is a conflict.
    let (status, problem) = s
        .admin(
            "POST",
            &format!("/api/v1/seats/{seat}/revoke"),
            Some(json!({"reason": " "})),
        )
        .await;
    assert!(status.is_client_error(), "{problem}");
    let (status, ended) = s
        .admin(
            "POST",
            &format!("/api/v1/seats/{seat}/revoke"),
            Some(json!({"reason": "laptop stolen"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(
        (
            ended["status"].as_str(),
            ended["end_cause"].as_str(),
            ended["end_reason"].as_str()
        ),
        (Some("released"), Some("admin"), Some("laptop stolen"))
    );
    let (status, _) = s
        .admin(
            "POST",
            &format!("/api/v1/seats/{seat}/revoke"),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, audit) = s
        .admin("GET", "/api/v1/audit?action=seat.&order=desc", None)
        .await;
    let events = audit["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["subject"], seat.as_str());
    assert_eq!(events[0]["after"]["reason"], "laptop stolen");
    assert_eq!(events[0]["after"]["license_id"], id);
    // An admin release does not linger: the seat is free at once.
    assert_eq!(activate(&s, &license, "m2").await.0, StatusCode::CREATED);
    assert_eq!(
        refusal(&heartbeat(&s, &license, &seat, "m1").await),
        "seat_released"
    );
}

/// 32 machines at once for 5 seats, half through each of two nodes sharing the store:
/// exactly 5 seats, the rest refused, and the store agrees.
pub(crate) async fn concurrent_activations_on_two_nodes_never_pass_the_limit(s: Server) {
    product(&s).await;
    let license = seated(&s, "race", json!({"seats": 5, "seat_mode": "floating"})).await;
    let other = node(&s.url, tempfile::tempdir().unwrap()).await;
    let s = std::sync::Arc::new(s);
    let other = std::sync::Arc::new(other);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (s, other, license) = (s.clone(), other.clone(), license.clone());
        tasks.push(tokio::spawn(async move {
            let server = if i % 2 == 0 { &s } else { &other };
            activate(server, &license, &format!("machine-{i}")).await
        }));
    }
    let mut granted = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, answer) = t.await.unwrap();
        match status {
            StatusCode::CREATED => granted += 1,
            StatusCode::OK if answer["reason"] == "seats_exhausted" => refused += 1,
            _ => panic!("{status}: {answer}"),
        }
    }
    assert_eq!((granted, refused), (5, 27));
    let id = license["id"].as_str().unwrap();
    let (_, list) = s
        .admin("GET", &format!("/api/v1/licenses/{id}/seats"), None)
        .await;
    assert_eq!(list["in_use"], 5);
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
}

/// `/metrics` as text.
async fn metrics(s: &Server) -> String {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

pub(crate) async fn seats_show_in_metrics_and_webhooks(s: Server) {
    product(&s).await;
    let (status, _) = s
        .admin(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["seat.activated", "seat.released", "seat.reclaimed", "seat.denied"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let license = seated(
        &s,
        "metered",
        json!({"seats": 2, "seat_mode": "floating", "heartbeat_s": 10}),
    )
    .await;
    let (_, a) = activate(&s, &license, "a").await;
    activate(&s, &license, "b").await;
    assert_eq!(
        refusal(&activate(&s, &license, "c").await.1),
        "seats_exhausted"
    );
    let seat_a = a["seat_id"].as_str().unwrap();
    heartbeat(&s, &license, seat_a, "a").await;
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/api/v1/seats/{seat_a}"),
            None,
            Some(holder(&license, "a")),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let t = now();
    s.state.sweep_seats(t).await.unwrap();
    let r = s.state.sweep_seats(t + 60).await.unwrap();
    assert_eq!(r.outage, Some((t, t + 60)), "a gap in the sweeps");
    let r = s.state.sweep_seats(t + 71).await.unwrap();
    assert_eq!(
        r.reclaimed.len(),
        1,
        "b's seat, after 10 s of service time: {r:?}"
    );
    let text = metrics(&s).await;
    for line in [
        "lifeline_seats_in_use{product=\"seats\"} 0",
        "lifeline_seats_sold{product=\"seats\"} 2",
        "lifeline_seat_requests_total{request=\"activate\",result=\"granted\"} 2",
        "lifeline_seat_requests_total{request=\"activate\",result=\"seats_exhausted\"} 1",
        "lifeline_seat_requests_total{request=\"heartbeat\",result=\"renewed\"} 1",
        "lifeline_seat_requests_total{request=\"release\",result=\"released\"} 1",
        "lifeline_seat_ends_total{cause=\"released\"} 1",
        "lifeline_seat_ends_total{cause=\"expired\"} 1",
        "lifeline_seat_ends_total{cause=\"admin\"} 0",
        "lifeline_seat_reclaim_paused_seconds_total 60",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // One webhook message per seat event, in the transaction of the change.
    let pool = sqlx::AnyPool::connect(&s.url).await.unwrap();
    let rows = sqlx::query("SELECT event_type FROM webhook_outbox ORDER BY created_at, msg_id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut events: Vec<String> = rows
        .iter()
        .map(|r| sqlx::Row::try_get::<String, _>(r, "event_type").unwrap())
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            "seat.activated",
            "seat.activated",
            "seat.denied",
            "seat.reclaimed",
            "seat.released"
        ]
    );
    pool.close().await;
}

pub(crate) async fn refused_and_surging_activations_open_incidents(s: Server) {
    product(&s).await;
    let full = seated(&s, "full", json!({"seats": 1, "seat_mode": "floating"})).await;
    assert_eq!(activate(&s, &full, "holder").await.0, StatusCode::CREATED);
    for i in 0..5 {
        assert_eq!(
            refusal(&activate(&s, &full, &format!("waiting-{i}")).await.1),
            "seats_exhausted"
        );
    }
    // The overview: seats by product, and the license using all of its one seat.
    let (_, overview) = s.admin("GET", "/api/v1/overview", None).await;
    assert_eq!(
        overview["seats"],
        json!([{"product": "seats", "in_use": 1, "sold": 1}])
    );
    assert_eq!(overview["seats_nearly_full"][0]["license_id"], full["id"]);
    assert_eq!(overview["seats_nearly_full"][0]["in_use"], 1);
    let fleet = seated(&s, "fleet", json!({"seats": 50, "seat_mode": "floating"})).await;
    for i in 0..20 {
        assert_eq!(
            activate(&s, &fleet, &format!("container-{i}")).await.0,
            StatusCode::CREATED
        );
    }
    // The list filter: licenses using at least 90 % of their seats (1 of 1, not 20 of 50).
    let (status, page) = s
        .admin("GET", "/api/v1/licenses?seats_used_at_least=90", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [full["id"].as_str().unwrap()]);
    let (_, page) = s
        .admin("GET", "/api/v1/licenses?seats_used_at_least=40", None)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    for bad in ["0", "101", "x"] {
        let (status, _) = s
            .admin(
                "GET",
                &format!("/api/v1/licenses?seats_used_at_least={bad}"),
                None,
            )
            .await;
        assert_eq!(status.as_u16() / 100, 4, "{bad}");
    }
    let e = s.state.evaluate_rules(now()).await.unwrap();
    let firing: Vec<(&str, &str)> = e
        .firing
        .iter()
        .map(|(r, x)| (r.as_str(), x.as_str()))
        .collect();
    let full_id = format!("license:{}", full["id"].as_str().unwrap());
    assert!(
        firing.contains(&("seat_exhaustion", full_id.as_str())),
        "{firing:?}"
    );
    assert!(
        firing.contains(&("activation_surge", "licensee:fleet")),
        "{firing:?}"
    );
    assert!(
        !firing.iter().any(|(_, x)| *x == "licensee:full"),
        "one seat is no surge: {firing:?}"
    );
    assert_eq!(e.opened.len(), 2, "{e:?}");
    let (_, incidents) = s
        .admin("GET", "/api/v1/incidents?rule=seat_exhaustion", None)
        .await;
    let incident = &incidents.as_array().unwrap()[0];
    assert_eq!(incident["severity"], "warning");
    assert!(
        incident["title"]
            .as_str()
            .unwrap()
            .contains("5 activations refused"),
        "{incident}"
    );
}
