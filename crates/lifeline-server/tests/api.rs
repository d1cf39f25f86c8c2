//! The HTTP API over real stores, driven through the router (`oneshot`): every test runs on
//! a SQLite file and, when `LIFELINE_TEST_PG` names a PostgreSQL server (`make test` starts
//! one), on a fresh PostgreSQL database too (those are `#[ignore]`d otherwise).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use lifeline_core::{KeySet, Policy, UnixTime};
use lifeline_server::{AppState, Limits, Rate, Store, app, bootstrap_admin, create_token};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Server {
    router: Router,
    admin: String,
    state: AppState,
    url: String,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
enum Db {
    Sqlite,
    Postgres,
}

/// A fresh, empty database URL for one test.
async fn fresh_db(db: Db, dir: &std::path::Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("test.db").display()),
        Db::Postgres => {
            let base = std::env::var("LIFELINE_TEST_PG")
                .expect("LIFELINE_TEST_PG names a PostgreSQL server (make test sets it)");
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            let name = format!(
                "lifeline_{}",
                dir.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            );
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let (prefix, _) = base.rsplit_once('/').unwrap();
            format!("{prefix}/{name}")
        }
    }
}

async fn server(db: Db) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(db, dir.path()).await;
    node(&url, dir).await
}

/// A server node over the store at `url` (several nodes may share one PostgreSQL database).
async fn node(url: &str, dir: tempfile::TempDir) -> Server {
    let store = Store::open(url).await.unwrap();
    let admin = match bootstrap_admin(&store, dir.path(), None).await.unwrap() {
        Some(token) => token,
        None => {
            create_token(
                &store,
                "test",
                "node admin",
                lifeline_api::Role::Admin,
                None,
            )
            .await
            .unwrap()
            .token
        }
    };
    // Generous limits: these tests make many failed attempts from one (unknown) address.
    let limits = Limits {
        validate: Rate {
            per_sec: 10_000.0,
            burst: 10_000.0,
        },
        auth_failures: Rate {
            per_sec: 10_000.0,
            burst: 10_000.0,
        },
    };
    let state = AppState::with_limits(store, "http://lifeline.test", limits)
        .await
        .unwrap();
    Server {
        router: app(state.clone()),
        admin,
        state,
        url: url.to_owned(),
        _dir: dir,
    }
}

impl Server {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.raw(method, uri, token, body.map(|b| b.to_string()), &[])
            .await
    }

    async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let is_problem = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/problem+json");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            assert!(
                is_problem,
                "{method} {uri}: errors are problem+json: {json}"
            );
            assert!(
                json["code"].is_string(),
                "{method} {uri}: problem has a code"
            );
            assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {uri}: 500"
            );
        }
        (status, json)
    }

    async fn admin(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, uri, Some(&self.admin), body).await
    }

    async fn product(&self, id: &str) {
        let (s, _) = self
            .admin(
                "POST",
                "/api/v1/products",
                Some(json!({"id": id, "name": id})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }

    async fn issue(&self, body: Value) -> Value {
        let (s, license) = self.admin("POST", "/api/v1/licenses", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{license}");
        license
    }

    async fn jwks(&self) -> KeySet {
        let (s, jwks) = self
            .call("GET", "/.well-known/lifeline/keys.json", None, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn license_body(product: &str, licensee: &str) -> Value {
    json!({"product": product, "licensee": licensee, "entitlements": ["export"], "expires_at": now() + 86_400, "grace_s": 3600, "seats": 3, "metadata": {"order": "A-1"}})
}

async fn health_readiness_openapi_and_public_keys(s: Server) {
    assert_eq!(
        s.call("GET", "/healthz", None, None).await.1["status"],
        "ok"
    );
    let backend = if s.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(
        s.call("GET", "/readyz", None, None).await.1["store"],
        backend
    );
    let (status, doc) = s.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    // Every route the router serves is documented.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/.well-known/lifeline/keys.json",
        "/api/v1/openapi.json",
        "/api/v1/validate",
        "/api/v1/status-list",
        "/api/v1/products",
        "/api/v1/licenses",
        "/api/v1/licenses/bulk",
        "/api/v1/licenses/{id}",
        "/api/v1/licenses/{id}/revoke",
        "/api/v1/keys",
        "/api/v1/keys/rotate",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/audit/verify",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} is not in the OpenAPI document"
        );
    }
    assert_eq!(
        s.jwks().await.len(),
        1,
        "the first start creates one signing key"
    );
}

async fn issued_licenses_verify_offline_with_the_published_keys(s: Server) {
    s.product("photo-pro").await;
    let license = s.issue(license_body("photo-pro", "acme")).await;
    assert_eq!(license["state"], "valid");
    assert_eq!(license["metadata"]["order"], "A-1");
    let verdict = lifeline_core::verify(
        license["token"].as_str().unwrap().as_bytes(),
        &s.jwks().await,
        &Policy::new().with_audience("photo-pro"),
        UnixTime::from_secs(now()),
    );
    assert!(verdict.is_usable(), "{:?}", verdict.detail());
    let claims = verdict.claims().unwrap();
    assert_eq!(claims.sub(), "acme");
    assert_eq!(claims.jti(), license["id"].as_str().unwrap());
    assert_eq!(claims.seats(), Some(3));
    let (st, got) = s
        .admin(
            "GET",
            &format!("/api/v1/licenses/{}", license["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got, license);
}

async fn idempotency_key_makes_retries_safe(s: Server) {
    s.product("p").await;
    let body = license_body("p", "acme").to_string();
    let key = [("idempotency-key", "order-77")];
    let (a, first) = s
        .raw(
            "POST",
            "/api/v1/licenses",
            Some(&s.admin),
            Some(body.clone()),
            &key,
        )
        .await;
    let (b, again) = s
        .raw("POST", "/api/v1/licenses", Some(&s.admin), Some(body), &key)
        .await;
    assert_eq!((a, b), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["id"], again["id"]);
    let other = license_body("p", "someone-else").to_string();
    let (c, problem) = s
        .raw(
            "POST",
            "/api/v1/licenses",
            Some(&s.admin),
            Some(other),
            &key,
        )
        .await;
    assert_eq!(c, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "idempotency_key_reused");
    let (_, page) = s.admin("GET", "/api/v1/licenses", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "no duplicate");
}

async fn listing_filters_and_paginates(s: Server) {
    s.product("a").await;
    s.product("b").await;
    for i in 0..5 {
        s.issue(license_body("a", &format!("cust-{i}"))).await;
    }
    let mut soon = license_body("b", "soon");
    soon["expires_at"] = json!(now() + 600);
    let soon = s.issue(soon).await;
    let (_, page) = s
        .admin("GET", "/api/v1/licenses?product=a&limit=2", None)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let mut seen = page["items"].as_array().unwrap().len();
    let mut cursor = page["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let (_, next) = s
            .admin(
                "GET",
                &format!("/api/v1/licenses?product=a&limit=2&cursor={c}"),
                None,
            )
            .await;
        seen += next["items"].as_array().unwrap().len();
        cursor = next["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 5);
    let (_, expiring) = s
        .admin("GET", "/api/v1/licenses?expiring_within=3600", None)
        .await;
    assert_eq!(expiring["items"].as_array().unwrap().len(), 1);
    assert_eq!(expiring["items"][0]["id"], soon["id"]);
    let (_, by_licensee) = s
        .admin("GET", "/api/v1/licenses?licensee=cust-3", None)
        .await;
    assert_eq!(by_licensee["items"].as_array().unwrap().len(), 1);
    for (query, code) in [
        ("limit=0", "invalid_request"),
        ("state=bogus", "invalid_request"),
        ("frobnicate=1", "invalid_request"),
    ] {
        let (st, p) = s
            .admin("GET", &format!("/api/v1/licenses?{query}"), None)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(p["code"], code);
    }
}

async fn revocation_shows_in_records_validation_and_audit(s: Server) {
    s.product("p").await;
    let license = s.issue(license_body("p", "acme")).await;
    let id = license["id"].as_str().unwrap();
    let token = license["token"].as_str().unwrap();

    let (st, ok) = s
        .call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({"token": token, "instance": "host-1"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ok["verdict"]["state"], "valid");
    assert_eq!(ok["revoked"], false);
    let lease = ok["lease"].as_str().unwrap();
    // The lease is a JWS signed by a published key.
    let parts: Vec<&str> = lease.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["typ"], "lifeline-lease+jwt");
    assert_eq!(payload["sub"], id);
    assert_eq!(payload["instance"], "host-1");
    let keys = s.jwks().await;
    let key = keys.get(header["kid"].as_str().unwrap()).unwrap();
    let sig: [u8; 64] = b64.decode(parts[2]).unwrap().try_into().unwrap();
    assert!(key.verify_strict(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig));

    let (st, revoked) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "chargeback"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(revoked["state"], "revoked");
    let (st, again) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "twice"})),
        )
        .await;
    assert_eq!(
        (st, again["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    let (_, after) = s
        .call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(after["verdict"]["state"], "invalid");
    assert_eq!(after["verdict"]["reason"], "revoked");
    assert_eq!(after["revoked"], true);
    assert!(after["lease"].is_null(), "no lease for a revoked license");

    let (_, log) = s.admin("GET", "/api/v1/audit", None).await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.ends_with(&["product.created", "license.issued", "license.revoked"]),
        "{actions:?}"
    );
    let (_, check) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(check["intact"], true);
}

async fn key_rotation_keeps_old_licenses_valid(s: Server) {
    s.product("p").await;
    let old = s.issue(license_body("p", "before")).await;
    let (st, keys) = s.admin("POST", "/api/v1/keys/rotate", None).await;
    assert_eq!(st, StatusCode::OK);
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys.iter().filter(|k| k["status"] == "active").count(), 1);
    let retired = keys.iter().find(|k| k["status"] == "retired").unwrap();
    assert_eq!(retired["kid"], old["kid"]);
    assert!(retired["not_after"].is_u64());
    let new = s.issue(license_body("p", "after")).await;
    assert_ne!(new["kid"], old["kid"]);
    for license in [&old, &new] {
        let (_, v) = s
            .call(
                "POST",
                "/api/v1/validate",
                None,
                Some(json!({"token": license["token"]})),
            )
            .await;
        assert_eq!(v["verdict"]["state"], "valid", "{v}");
    }
    assert_eq!(s.jwks().await.len(), 2);
}

async fn every_admin_route_denies_by_default_and_checks_roles(s: Server) {
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
    let one = format!("/api/v1/licenses/{id}");
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
        ("POST", "/api/v1/keys/rotate", None, "admin"),
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
    assert!(s.state.failed_auth_count() >= 44);
}

async fn bad_input_gets_precise_4xx_and_writes_nothing(s: Server) {
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
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Some(json!({"product": "p", "licensee": "", "expires_at": now() + 10}).to_string()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
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

async fn a_tampered_audit_log_is_detected(s: Server) {
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

async fn demo_data_has_every_state_and_a_rotated_key(s: Server) {
    assert!(lifeline_server::demo::seed(&s.state).await.unwrap());
    assert!(
        !lifeline_server::demo::seed(&s.state).await.unwrap(),
        "seeds only an empty store"
    );
    for state in ["valid", "grace", "expired", "revoked"] {
        let (_, page) = s
            .admin("GET", &format!("/api/v1/licenses?state={state}"), None)
            .await;
        assert!(
            !page["items"].as_array().unwrap().is_empty(),
            "no {state} license"
        );
    }
    let (_, keys) = s.admin("GET", "/api/v1/keys", None).await;
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["status"] == "retired")
    );
    // Licenses signed by the retired key still validate.
    let (_, page) = s.admin("GET", "/api/v1/licenses?state=valid", None).await;
    let retired: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "retired")
        .collect();
    let old = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kid"] == retired[0]["kid"])
        .unwrap();
    let (_, v) = s
        .call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({"token": old["token"]})),
        )
        .await;
    assert_eq!(v["verdict"]["state"], "valid", "{v}");
    let (_, chain) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true);
}

async fn count(s: &Server) -> usize {
    let (_, page) = s.admin("GET", "/api/v1/licenses?limit=500", None).await;
    page["items"].as_array().unwrap().len()
}

async fn bulk_issue_is_all_or_nothing_and_idempotent(s: Server) {
    s.product("p").await;
    let batch = |n: usize, product: &str| json!({"licenses": (0..n).map(|i| license_body(product, &format!("bulk-{i}"))).collect::<Vec<_>>()});
    let body = batch(300, "p").to_string();
    let key = [("idempotency-key", "file-abc/batch-0")];
    let (st, first) = s
        .raw(
            "POST",
            "/api/v1/licenses/bulk",
            Some(&s.admin),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(first["licenses"].as_array().unwrap().len(), 300);
    // A retry after a lost response returns the same batch and issues nothing new.
    let (st, again) = s
        .raw(
            "POST",
            "/api/v1/licenses/bulk",
            Some(&s.admin),
            Some(body),
            &key,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(first, again);
    let (st, p) = s
        .raw(
            "POST",
            "/api/v1/licenses/bulk",
            Some(&s.admin),
            Some({
                let mut other = batch(300, "p");
                other["licenses"][0]["licensee"] = json!("someone-else");
                other.to_string()
            }),
            &key,
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    assert_eq!(count(&s).await, 300);
    // One bad item refuses the whole batch.
    let mut bad = batch(5, "p");
    bad["licenses"][3]["expires_at"] = json!(1);
    let (st, p) = s.admin("POST", "/api/v1/licenses/bulk", Some(bad)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(p["detail"].as_str().unwrap().contains("licenses[3]"), "{p}");
    let mut unknown = batch(5, "p");
    unknown["licenses"][4]["product"] = json!("nope");
    let (st, _) = s
        .admin("POST", "/api/v1/licenses/bulk", Some(unknown))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .admin(
            "POST",
            "/api/v1/licenses/bulk",
            Some(json!({"licenses": []})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(count(&s).await, 300, "refused batches wrote nothing");
    // Every bulk license verifies with the published keys.
    let keys = s.jwks().await;
    for l in first["licenses"].as_array().unwrap().iter().take(20) {
        let v = lifeline_core::verify(
            l["token"].as_str().unwrap().as_bytes(),
            &keys,
            &Policy::new(),
            UnixTime::from_secs(now()),
        );
        assert!(v.is_usable());
    }
    let (_, chain) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true);
}

async fn metrics_count_validations_requests_and_licenses(s: Server) {
    s.product("p").await;
    let license = s.issue(license_body("p", "m")).await;
    s.call(
        "POST",
        "/api/v1/validate",
        None,
        Some(json!({"token": license["token"]})),
    )
    .await;
    s.call(
        "POST",
        "/api/v1/validate",
        None,
        Some(json!({"token": "garbage"})),
    )
    .await;
    s.call("GET", "/api/v1/licenses", Some("ll_wrong"), None)
        .await;
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    for line in [
        "lifeline_validations_total{result=\"valid\",reason=\"\"} 1",
        "lifeline_validations_total{result=\"invalid\",reason=\"malformed\"} 1",
        "lifeline_validation_duration_seconds_count 2",
        "lifeline_licenses{state=\"valid\"} 1",
        "lifeline_licenses{state=\"revoked\"} 0",
        "lifeline_licenses_expiring{within=\"7d\"} 1",
        "lifeline_licenses_expiring{within=\"30d\"} 1",
        "lifeline_http_requests_total{route=\"/api/v1/validate\",method=\"POST\",status=\"200\"} 2",
        "lifeline_http_requests_total{route=\"/api/v1/licenses\",method=\"GET\",status=\"401\"} 1",
        "lifeline_auth_failures_total 1",
        "lifeline_store_errors_total",
        "lifeline_signing_key_expiration_timestamp_seconds{kid=",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        !text.contains(license["id"].as_str().unwrap()),
        "no per-license labels"
    );
    assert!(!text.contains("\"m\""), "no licensee labels");
}

async fn status_list_marks_exactly_the_revoked_licenses(s: Server) {
    use base64::Engine as _;
    use std::io::Read as _;
    s.product("p").await;
    let single: Vec<Value> = vec![
        s.issue(license_body("p", "a")).await,
        s.issue(license_body("p", "b")).await,
    ];
    let (_, bulk) = s.admin("POST", "/api/v1/licenses/bulk", Some(json!({"licenses": (0..20).map(|i| license_body("p", &format!("c{i}"))).collect::<Vec<_>>()}))).await;
    let all: Vec<Value> = single
        .into_iter()
        .chain(bulk["licenses"].as_array().unwrap().iter().cloned())
        .collect();
    let keys = s.jwks().await;
    let idx_of = |l: &Value| {
        let v = lifeline_core::verify(
            l["token"].as_str().unwrap().as_bytes(),
            &keys,
            &Policy::new(),
            UnixTime::from_secs(now()),
        );
        let status = v.claims().unwrap().get("status").unwrap().clone();
        assert_eq!(
            status["status_list"]["uri"],
            "http://lifeline.test/api/v1/status-list"
        );
        status["status_list"]["idx"].as_u64().unwrap()
    };
    let mut idxs: Vec<u64> = all.iter().map(idx_of).collect();
    let revoked = [1usize, 7, 21];
    for &r in &revoked {
        let id = all[r]["id"].as_str().unwrap();
        s.admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "test"})),
        )
        .await;
    }
    let req = Request::builder()
        .uri("/api/v1/status-list")
        .body(Body::empty())
        .unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/statuslist+jwt"
    );
    let jwt =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["typ"], "statuslist+jwt");
    let sig: [u8; 64] = b64.decode(parts[2]).unwrap().try_into().unwrap();
    assert!(
        keys.get(header["kid"].as_str().unwrap())
            .unwrap()
            .verify_strict(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
    );
    let payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload["status_list"]["bits"], 1);
    let mut bits = Vec::new();
    flate2::read::ZlibDecoder::new(
        &b64.decode(payload["status_list"]["lst"].as_str().unwrap())
            .unwrap()[..],
    )
    .read_to_end(&mut bits)
    .unwrap();
    let bit = |i: u64| bits[(i / 8) as usize] >> (i % 8) & 1;
    for (n, idx) in idxs.iter().enumerate() {
        assert_eq!(
            bit(*idx),
            u8::from(revoked.contains(&n)),
            "license {n} (idx {idx})"
        );
    }
    idxs.sort_unstable();
    idxs.dedup();
    assert_eq!(idxs.len(), all.len(), "every license has its own index");
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::server(super::Db::Sqlite).await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            #[ignore = "needs PostgreSQL: `make test` starts one and sets LIFELINE_TEST_PG"]
            async fn $name() {
                super::$name(super::server(super::Db::Postgres).await).await;
            })*
        }
    };
}

on_every_backend!(
    status_list_marks_exactly_the_revoked_licenses,
    metrics_count_validations_requests_and_licenses,
    bulk_issue_is_all_or_nothing_and_idempotent,
    health_readiness_openapi_and_public_keys,
    issued_licenses_verify_offline_with_the_published_keys,
    idempotency_key_makes_retries_safe,
    listing_filters_and_paginates,
    revocation_shows_in_records_validation_and_audit,
    key_rotation_keeps_old_licenses_valid,
    every_admin_route_denies_by_default_and_checks_roles,
    bad_input_gets_precise_4xx_and_writes_nothing,
    a_tampered_audit_log_is_detected,
    demo_data_has_every_state_and_a_rotated_key
);

/// Active-active: two nodes over one PostgreSQL database see each other's writes at once.
#[tokio::test]
#[ignore = "needs PostgreSQL: `make test` starts one and sets LIFELINE_TEST_PG"]
async fn two_nodes_over_one_postgres_see_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(Db::Postgres, dir.path()).await;
    let a = node(&url, dir).await;
    let b = node(&url, tempfile::tempdir().unwrap()).await;
    a.product("p").await;
    let license = a.issue(license_body("p", "shared")).await;
    let token = license["token"].clone();
    let (_, v) = b
        .call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(v["verdict"]["state"], "valid", "{v}");
    // A revocation on one node is seen by the other on its next answer.
    let id = license["id"].as_str().unwrap();
    a.admin(
        "POST",
        &format!("/api/v1/licenses/{id}/revoke"),
        Some(json!({"reason": "fraud"})),
    )
    .await;
    let (_, v) = b
        .call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(v["verdict"]["reason"], "revoked");
    // A rotation on one node: the other verifies licenses signed by the new key at once.
    let (st, _) = b.admin("POST", "/api/v1/keys/rotate", None).await;
    assert_eq!(st, StatusCode::OK);
    let fresh = b.issue(license_body("p", "after-rotation")).await;
    let (_, v) = a
        .call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({"token": fresh["token"]})),
        )
        .await;
    assert_eq!(v["verdict"]["state"], "valid", "{v}");
    // Both nodes append to one audit chain, and it is intact.
    let (_, chain) = a.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true);
}

/// A flood from one address is refused with 429 + Retry-After; another address is served.
#[tokio::test]
async fn floods_are_rate_limited_per_address() {
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
    };
    let router = app(AppState::with_limits(store, "http://lifeline.test", limits)
        .await
        .unwrap());
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
    // Failed authentication: after the budget, even a request is refused before lookup.
    let mut auth = Vec::new();
    for _ in 0..5 {
        auth.push(
            send(flood, "/api/v1/licenses", Some("ll_guess"), None)
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(auth, [401, 401, 401, 429, 429]);
    let res = send([10, 0, 0, 3], "/api/v1/licenses", Some("ll_guess"), None)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
