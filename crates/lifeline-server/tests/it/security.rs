//! Deny by default, bad input, audit tampering, rate limits.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use lifeline_server::{AppState, Limits, Rate, Store, app, create_token};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{Db, Server, fresh_db, license_body, now};

pub(crate) async fn every_admin_route_denies_by_default_and_checks_roles(s: Server) {
    s.product("p").await;
    let license = s.issue(license_body("p", "x")).await;
    let id = license["id"].as_str().unwrap().to_owned();
    let viewer = create_token(
        s.state.store(),
        "test",
        "viewer",
        lifeline_api::Role::Viewer,
        None,
    )
    .await
    .unwrap()
    .token;
    let operator = create_token(
        s.state.store(),
        "test",
        "op",
        lifeline_api::Role::Operator,
        None,
    )
    .await
    .unwrap()
    .token;
    let expired = create_token(
        s.state.store(),
        "test",
        "old",
        lifeline_api::Role::Admin,
        Some(now() - 10),
    )
    .await
    .unwrap()
    .token;
    let revoke = format!("/api/v1/licenses/{id}/revoke");
    let extend = format!("/api/v1/licenses/{id}/extend");
    let one = format!("/api/v1/licenses/{id}");
    // A pending override (the admin created it; the matrix below changes nothing).
    let (st, pending) = s
        .admin(
            "POST",
            "/api/v1/overrides",
            Some(
                json!({"scope": {"type": "all"}, "effect": {"type": "valid"},
                "expires_at": now() + 5 * 86_400, "reason": "r", "incident": "i"}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{pending}");
    let ovr = pending["id"].as_str().unwrap().to_owned();
    let ovr_one = format!("/api/v1/overrides/{ovr}");
    let ovr_approve = format!("/api/v1/overrides/{ovr}/approve");
    let ovr_revoke = format!("/api/v1/overrides/{ovr}/revoke");
    let ovr_body = json!({"scope": {"type": "licensee", "value": "x"}, "effect": {"type": "valid"},
        "expires_at": now() + 3600, "reason": "r", "incident": "i"});
    // (method, uri, body, least role)
    let routes: Vec<(&str, &str, Option<Value>, &str)> = vec![
        ("GET", "/api/v1/products", None, "viewer"),
        (
            "POST",
            "/api/v1/products",
            Some(json!({"id": "q", "name": "Q"})),
            "admin",
        ),
        ("GET", "/api/v1/licenses", None, "viewer"),
        ("GET", &one, None, "viewer"),
        (
            "POST",
            "/api/v1/licenses",
            Some(license_body("p", "y")),
            "operator",
        ),
        ("GET", "/api/v1/keys", None, "viewer"),
        ("GET", "/api/v1/audit", None, "viewer"),
        ("GET", "/api/v1/audit/verify", None, "viewer"),
        (
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "n", "role": "viewer"})),
            "admin",
        ),
        ("POST", &revoke, Some(json!({"reason": "r"})), "operator"),
        (
            "POST",
            &extend,
            Some(json!({"expires_at": now() + 400 * 86_400, "reason": "renewal"})),
            "operator",
        ),
        ("GET", "/api/v1/session", None, "viewer"),
        ("GET", "/api/v1/overview", None, "viewer"),
        ("POST", "/api/v1/keys/rotate", None, "admin"),
        ("GET", "/api/v1/overrides", None, "viewer"),
        ("GET", &ovr_one, None, "viewer"),
        ("POST", "/api/v1/overrides", Some(ovr_body), "operator"),
        ("POST", &ovr_approve, None, "admin"),
        (
            "POST",
            &ovr_revoke,
            Some(json!({"reason": "r"})),
            "operator",
        ),
        (
            "POST",
            "/api/v1/telemetry",
            Some(crate::incidents::report("svc", &[("valid", 1)], &[])),
            "viewer",
        ),
        ("GET", "/api/v1/nodes", None, "viewer"),
        ("GET", "/api/v1/map", None, "viewer"),
        ("GET", "/api/v1/incidents", None, "viewer"),
        ("GET", "/api/v1/incidents/inc-x", None, "viewer"),
        (
            "POST",
            "/api/v1/incidents/inc-x/acknowledge",
            None,
            "operator",
        ),
        (
            "POST",
            "/api/v1/incidents/inc-x/notes",
            Some(json!({"text": "n"})),
            "operator",
        ),
        ("GET", "/api/v1/webhooks", None, "admin"),
        (
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["license.revoked"]})),
            "admin",
        ),
        ("DELETE", "/api/v1/webhooks/wh-x", None, "admin"),
    ];
    let rank = |r: &str| {
        ["viewer", "operator", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    for (method, uri, body, least) in routes {
        for bad in [
            None,
            Some("ll_wrong"),
            Some("not-even-a-token"),
            Some(expired.as_str()),
        ] {
            let (st, p) = s.call(method, uri, bad, body.clone()).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{method} {uri} with {bad:?}");
            assert_eq!(p["code"], "unauthorized");
        }
        for (role, token) in [("viewer", &viewer), ("operator", &operator)] {
            if rank(role) < rank(least) {
                let (st, p) = s.call(method, uri, Some(token), body.clone()).await;
                assert_eq!(st, StatusCode::FORBIDDEN, "{method} {uri} as {role}");
                assert_eq!(p["code"], "forbidden");
            }
        }
    }
    assert!(s.state.failed_auth_count() >= 76);
    // A viewer reads its own session and the overview.
    let (st, me) = s.call("GET", "/api/v1/session", Some(&viewer), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["name"], "viewer");
    assert_eq!(me["role"], "viewer");
    assert!(me["token_id"].is_string());
    assert!(me["expires_at"].is_null());
    let (st, overview) = s.call("GET", "/api/v1/overview", Some(&viewer), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(overview["licenses"]["valid"], 1);
    // The extension refused to the viewer changed nothing, nor did the refused override calls.
    let (_, unchanged) = s.admin("GET", &one, None).await;
    assert_eq!(unchanged, license);
    let (_, overrides) = s.admin("GET", "/api/v1/overrides", None).await;
    assert_eq!(overrides, json!([pending]));
    // The override bundle is public.
    let (st, _) = s
        .raw("GET", "/api/v1/overrides/bundle", None, None, &[])
        .await;
    assert_eq!(st, StatusCode::OK);
    // The scheme is case-insensitive; other schemes are refused.
    let lower = format!("bearer {}", s.admin);
    let (st, _) = s
        .raw(
            "GET",
            "/api/v1/licenses",
            None,
            None,
            &[("authorization", lower.as_str())],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, p) = s
        .raw(
            "GET",
            "/api/v1/licenses",
            None,
            None,
            &[("authorization", "Basic YTpi")],
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
}

pub(crate) async fn session_names_the_callers_token(s: Server) {
    let expires = now() + 3600;
    let op = create_token(
        s.state.store(),
        "test",
        "deploy bot",
        lifeline_api::Role::Operator,
        Some(expires),
    )
    .await
    .unwrap();
    let (st, me) = s
        .call("GET", "/api/v1/session", Some(&op.token), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let me: lifeline_api::SessionInfo = serde_json::from_value(me).unwrap();
    assert_eq!(
        me,
        lifeline_api::SessionInfo {
            token_id: op.id.clone(),
            name: "deploy bot".into(),
            role: lifeline_api::Role::Operator,
            expires_at: Some(expires),
            principal: format!("token:{}", op.id),
        }
    );
    let (_, admin) = s.admin("GET", "/api/v1/session", None).await;
    assert_eq!(admin["role"], "admin");
    assert_ne!(admin["token_id"], json!(op.id));
    // The secret never comes back.
    assert!(!admin.to_string().contains(&s.admin));
    let (st, p) = s.call("GET", "/api/v1/session", None, None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
}

pub(crate) async fn bad_input_gets_precise_4xx_and_writes_nothing(s: Server) {
    s.product("p").await;
    let (_, before) = s.admin("GET", "/api/v1/audit", None).await;
    let cases: Vec<(Option<String>, StatusCode, &str)> = vec![
        (
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some(json!({"product": "p", "licensee": "x", "expires_at": "soon"}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Some(json!({"product": "p", "licensee": "x", "expires_at": 1, "bogus": 1}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Some(json!({"product": "p", "licensee": "x", "expires_at": 1}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            Some(json!({"product": "p", "licensee": "", "expires_at": now() + 10}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            Some(json!({"product": "nope", "licensee": "x", "expires_at": now() + 10}).to_string()),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Some(format!(
                "{{\"product\":\"p\",\"licensee\":\"{}\",\"expires_at\":1}}",
                "x".repeat(2 * 1024 * 1024)
            )),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (st, p) = s
            .raw("POST", "/api/v1/licenses", Some(&s.admin), body, &[])
            .await;
        assert_eq!((st, p["code"].as_str().unwrap()), (status, code), "{p}");
    }
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/licenses")
        .header(header::AUTHORIZATION, format!("Bearer {}", s.admin))
        .body(Body::from("{}"))
        .unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (st, p) = s
        .admin("GET", "/api/v1/licenses/does-not-exist", None)
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (st, p) = s
        .admin(
            "POST",
            "/api/v1/licenses/does-not-exist/revoke",
            Some(json!({"reason": "r"})),
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (st, _) = s.admin("DELETE", "/api/v1/licenses", None).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    let (st, p) = s
        .call("POST", "/api/v1/validate", None, Some(json!({"token": 7})))
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let (st, v) = s
        .call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({"token": "garbage"})),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "a bad license is a verdict, not an error"
    );
    assert_eq!(v["verdict"]["reason"], "malformed");
    for bad_id in ["UPPER", "", "a/b", &"x".repeat(65)] {
        let (st, _) = s
            .admin(
                "POST",
                "/api/v1/products",
                Some(json!({"id": bad_id, "name": "n"})),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad_id:?}");
    }
    let (st, p) = s
        .admin(
            "POST",
            "/api/v1/products",
            Some(json!({"id": "p", "name": "again"})),
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (_, after) = s.admin("GET", "/api/v1/audit", None).await;
    assert_eq!(
        before["items"], after["items"],
        "refused requests leave no trace in the audit log"
    );
}

pub(crate) async fn a_tampered_audit_log_is_detected(s: Server) {
    s.product("p").await;
    s.issue(license_body("p", "x")).await;
    let (_, ok) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(ok["intact"], true);
    let raw = sqlx::AnyPool::connect(&s.url).await.unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'nobody' WHERE seq = 2")
        .execute(&raw)
        .await
        .unwrap();
    let (_, bad) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(bad["intact"], false);
    assert!(
        bad["problem"]
            .as_str()
            .unwrap()
            .contains("event 2 was altered"),
        "{bad}"
    );
}

/// A flood from one address is refused with 429 + Retry-After; another address is served.
#[tokio::test]
pub(crate) async fn floods_are_rate_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&fresh_db(Db::Sqlite, dir.path()).await)
        .await
        .unwrap();
    let limits = Limits {
        validate: Rate {
            per_sec: 1.0,
            burst: 5.0,
        },
        auth_failures: Rate {
            per_sec: 0.1,
            burst: 3.0,
        },
        telemetry: Rate {
            per_sec: 1.0,
            burst: 2.0,
        },
        public: Rate {
            per_sec: 1.0,
            burst: 3.0,
        },
    };
    let state = AppState::with_limits(store, "http://lifeline.test", limits)
        .await
        .unwrap();
    let router = app(state.clone());
    let send = |ip: [u8; 4], uri: &str, auth: Option<&str>, body: Option<&str>| {
        let mut req = Request::builder()
            .method(if body.is_some() { "POST" } else { "GET" })
            .uri(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let mut req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 4000,
            ))));
        router.clone().oneshot(req)
    };
    let flood = [10, 0, 0, 1];
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = send(flood, "/api/v1/validate", None, Some(r#"{"token":"x"}"#))
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key(header::RETRY_AFTER));
        }
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    let other = send(
        [10, 0, 0, 2],
        "/api/v1/validate",
        None,
        Some(r#"{"token":"x"}"#),
    )
    .await
    .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another address is not starved"
    );
    // Failed authentication: after the budget (3 here), 429 for that address's failures
    // and for that token's from anywhere; never for a token that verifies (the red team
    // locked the admin out with 21 bad tokens from a shared address, and kept it locked
    // with one every 2 s).
    let admin = create_token(state.store(), "test", "a", lifeline_api::Role::Admin, None)
        .await
        .unwrap()
        .token;
    let status = |res: axum::http::Response<Body>| res.status().as_u16();
    let mut auth = Vec::new();
    for i in 0..8 {
        let guess = format!("ll_guess-{i}");
        auth.push(status(
            send(flood, "/api/v1/licenses", Some(&guess), None)
                .await
                .unwrap(),
        ));
        assert_eq!(
            status(
                send(flood, "/api/v1/licenses", Some(&admin), None)
                    .await
                    .unwrap()
            ),
            200,
            "the valid token from the flooded address, after {} failures",
            i + 1
        );
    }
    assert_eq!(auth, [401, 401, 401, 429, 429, 429, 429, 429]);
    // One bad token sprayed from many addresses is limited as a token.
    let mut sprayed = Vec::new();
    for last in 10..15 {
        sprayed.push(status(
            send(
                [10, 0, 1, last],
                "/api/v1/licenses",
                Some("ll_sprayed"),
                None,
            )
            .await
            .unwrap(),
        ));
    }
    assert_eq!(sprayed, [401, 401, 401, 429, 429]);
    // No token at all is not one token: anonymous requests count per address only.
    let mut anonymous = Vec::new();
    for last in 20..25 {
        anonymous.push(status(
            send([10, 0, 1, last], "/api/v1/licenses", None, None)
                .await
                .unwrap(),
        ));
    }
    assert_eq!(anonymous, [401, 401, 401, 401, 401]);
    // Another address with another bad token is not starved by either.
    let res = send([10, 0, 0, 3], "/api/v1/licenses", Some("ll_other"), None)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The overview's series counts the refused validations as errors, not verdicts.
    let res = send([10, 0, 0, 4], "/api/v1/overview", Some(&admin), None)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let o: lifeline_api::Overview = serde_json::from_slice(&bytes).unwrap();
    let sum = |f: fn(&lifeline_api::MinuteStats) -> u64| o.validation.iter().map(f).sum::<u64>();
    assert_eq!((sum(|m| m.requests), sum(|m| m.errors)), (9, 3));
    assert_eq!(
        sum(|m| m.failures),
        6,
        "the verdicts on \"x\" are malformed"
    );
    // Telemetry has its own budget per address, spent before the token is even looked at.
    let mut reports = Vec::new();
    for _ in 0..3 {
        let res = send([10, 0, 0, 5], "/api/v1/telemetry", Some(&admin), Some("{}"))
            .await
            .unwrap();
        reports.push(res.status().as_u16());
    }
    assert_eq!(reports, [422, 422, 429]);
    // /metrics and the status list: a budget per address (anonymous), the answers cached.
    let mut public = Vec::new();
    for uri in [
        "/metrics",
        "/api/v1/status-list",
        "/metrics",
        "/api/v1/status-list",
    ] {
        let res = send([10, 0, 0, 6], uri, None, None).await.unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key(header::RETRY_AFTER));
        }
        public.push(res.status().as_u16());
    }
    assert_eq!(public, [200, 200, 200, 429]);
    let res = send([10, 0, 0, 7], "/metrics", None, None).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "another address is not starved"
    );
}

/// The red team's inputs: an expiry of 2^64−1 (one license and in bulk), a grace of 2^64−1,
/// a NUL in a licensee, an API token already expired, a drills query that does not parse.
/// Each is refused as a problem naming the field, on every path that takes it, and
/// nothing is written.
pub(crate) async fn out_of_bounds_input_is_refused_alike_on_every_path(s: Server) {
    s.product("p").await;
    let (_, before) = s.admin("GET", "/api/v1/audit", None).await;
    let far = u64::MAX;
    let cases = [
        (json!({"expires_at": far}), "expires_at"),
        (
            json!({"expires_at": now() + 101 * 365 * 86_400}),
            "expires_at",
        ),
        (json!({"grace_s": far}), "grace_s"),
        (json!({"grace_s": 366 * 86_400}), "grace_s"),
        (json!({"licensee": "acme\u{0}corp"}), "licensee"),
        (json!({"licensee": "acme\u{1b}[31m"}), "licensee"),
        (json!({"licensee": "x".repeat(257)}), "licensee"),
    ];
    for (change, field) in &cases {
        let mut body = license_body("p", "acme");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, p) = s
            .admin("POST", "/api/v1/licenses", Some(body.clone()))
            .await;
        assert_eq!(
            (status, p["code"].as_str(), p["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid_field"),
                Some(*field)
            ),
            "{change}: {p}"
        );
        let bulk = json!({"licenses": [license_body("p", "fine"), body]});
        let (status, p) = s.admin("POST", "/api/v1/licenses/bulk", Some(bulk)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bulk {change}: {p}"
        );
        assert_eq!(p["field"], format!("licenses[1].{field}"), "bulk {change}");
    }
    // The far future people use for "perpetual" (2100) is fine; the limit is 100 years.
    let mut perpetual = license_body("p", "forever");
    perpetual["expires_at"] = json!(4_102_444_800u64);
    let license = s.issue(perpetual).await;
    // Extending takes the same bound.
    let id = license["id"].as_str().unwrap();
    let (status, p) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/extend"),
            Some(json!({"expires_at": far, "reason": "red team"})),
        )
        .await;
    assert_eq!(
        (status, p["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("expires_at")),
        "{p}"
    );
    // An API token that is already expired, or with a control character in its name.
    for body in [
        json!({"name": "ci", "role": "viewer", "expires_at": now() - 1}),
        json!({"name": "ci", "role": "viewer", "expires_at": far}),
        json!({"name": "c\u{0}i", "role": "viewer"}),
    ] {
        let (status, p) = s.admin("POST", "/api/v1/tokens", Some(body.clone())).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
            "{body}: {p}"
        );
    }
    // A query that does not parse is a problem (Server::call asserts problem+json).
    let (status, p) = s.admin("GET", "/api/v1/drills?limit=lots", None).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{p}"
    );
    // Nothing but the one perpetual license was written.
    let (_, after) = s.admin("GET", "/api/v1/audit", None).await;
    let events = |v: &Value| v["items"].as_array().map_or(0, Vec::len);
    assert_eq!(events(&after), events(&before) + 1, "{after}");
}
