//! Health, OpenAPI, public keys, status list, metrics.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use lifeline_core::{Policy, UnixTime};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{Server, license_body, now};

pub(crate) async fn health_readiness_openapi_and_public_keys(s: Server) {
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
        "/api/v1/licenses/{id}/extend",
        "/api/v1/session",
        "/api/v1/overview",
        "/api/v1/keys",
        "/api/v1/keys/rotate",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/overrides",
        "/api/v1/overrides/bundle",
        "/api/v1/overrides/{id}",
        "/api/v1/overrides/{id}/approve",
        "/api/v1/overrides/{id}/revoke",
        "/api/v1/telemetry",
        "/api/v1/nodes",
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/{id}/acknowledge",
        "/api/v1/incidents/{id}/notes",
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} is not in the OpenAPI document"
        );
    }
    // The document is generated from the API's types: every reference resolves, and a
    // license as the server answers it has exactly the fields its schema lists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 40, "{refs:?}");
    for r in &refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    s.product("documented").await;
    let license = s.issue(license_body("documented", "a")).await;
    let fields = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        fields(&license),
        fields(&schemas["License"]["properties"]),
        "the License schema lists what the server sends"
    );
    assert_eq!(
        doc["paths"]["/api/v1/licenses"]["post"]["x-required-role"],
        "operator"
    );
    assert_eq!(
        s.jwks().await.len(),
        1,
        "the first start creates one signing key"
    );
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

pub(crate) async fn status_list_marks_exactly_the_revoked_licenses(s: Server) {
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

pub(crate) async fn metrics_count_validations_requests_and_licenses(s: Server) {
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

/// One request through the router: status, content type and body text.
async fn fetch(
    s: &Server,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = s
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let media = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, media, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Ids in paths longer than any real id (65,000 characters) or with characters no id has
/// are refused 400 before any lookup, and no problem repeats more than a bounded part of
/// its input; the key set has its own media type (RFC 7517 §8.5).
pub(crate) async fn hostile_ids_are_refused_before_the_store_and_never_echoed_whole(s: Server) {
    let long = "a".repeat(65_000);
    let admin = s.admin.clone();
    for (method, uri) in [
        ("GET", format!("/api/v1/licenses/{long}")),
        ("POST", format!("/api/v1/licenses/{long}/revoke")),
        ("GET", format!("/api/v1/overrides/{long}")),
        ("GET", format!("/api/v1/incidents/{long}")),
        ("DELETE", format!("/api/v1/webhooks/{long}")),
        ("GET", format!("/api/v1/drills/{long}")),
        ("GET", format!("/api/v1/licenses/{long}/seats")),
        ("POST", format!("/api/v1/seats/{long}/heartbeat")),
        ("GET", "/api/v1/licenses/a%20b".to_owned()),
        ("GET", "/api/v1/licenses/%FF".to_owned()),
    ] {
        let (status, media, body) = fetch(&s, method, &uri, Some(&admin)).await;
        let short = &uri[..uri.len().min(60)];
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {short}: {body}");
        assert_eq!(media, "application/problem+json", "{method} {short}");
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["code"], "invalid_id", "{method} {short}: {body}");
        assert!(
            body.len() < 400,
            "{method} {short}: {} bytes echoed",
            body.len()
        );
    }
    // A real id's shape still reaches the store: an unknown one is a 404.
    let (status, _, body) = fetch(
        &s,
        "GET",
        "/api/v1/licenses/0190-does-not-exist",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Input quoted in a message is bounded too: a 100,000-character product id.
    let mut body = license_body("p", "someone");
    body["product"] = json!("p".repeat(100_000));
    let (status, problem) = s.admin("POST", "/api/v1/licenses", Some(body)).await;
    assert!(status.is_client_error(), "{status}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.chars().count() <= 1025,
        "{} characters of detail",
        detail.chars().count()
    );
    // JWKS under its media type.
    let (status, media, body) = fetch(&s, "GET", "/.well-known/lifeline/keys.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(media, "application/jwk-set+json");
    assert!(serde_json::from_str::<Value>(&body).unwrap()["keys"].is_array());
}

/// The red team slowed validate from 7 to 133 ms with 32 anonymous connections on
/// `/metrics` (a census over every license per request) and on the status list. Now the
/// store's figures are read once however many scrape at once, and again only when this node
/// changes them or they are a few seconds old; the status list is rebuilt at most once a
/// second (at once after a revocation here).
pub(crate) async fn anonymous_scrapes_read_the_store_once_per_period(s: Server) {
    s.product("p").await;
    s.issue(license_body("p", "census")).await;
    let before = s.state.store_figure_reads();
    let mut scrapes = Vec::new();
    for _ in 0..32 {
        let router = s.router.clone();
        scrapes.push(tokio::spawn(async move {
            let req = Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .unwrap();
            let res = router.oneshot(req).await.unwrap();
            let status = res.status();
            let text =
                String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
                    .unwrap();
            (status, text)
        }));
    }
    for scrape in scrapes {
        let (status, text) = scrape.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(
            text.contains("lifeline_licenses{state=\"valid\"} 1"),
            "{text}"
        );
    }
    assert_eq!(
        s.state.store_figure_reads() - before,
        1,
        "32 scrapes, one census"
    );
    // A change on this node shows at the next scrape.
    s.issue(license_body("p", "census-2")).await;
    let text = fetch_text(&s, "/metrics").await;
    assert!(
        text.contains("lifeline_licenses{state=\"valid\"} 2"),
        "{text}"
    );
    assert_eq!(s.state.store_figure_reads() - before, 2);
    // The status list: the same signed list for everyone within its second, a new one
    // after a revocation on this node.
    let first = fetch_text(&s, "/api/v1/status-list").await;
    assert_eq!(fetch_text(&s, "/api/v1/status-list").await, first);
    let license = s.issue(license_body("p", "revoked")).await;
    let id = license["id"].as_str().unwrap();
    let (st, _) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "r"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_ne!(fetch_text(&s, "/api/v1/status-list").await, first);
}

async fn fetch_text(s: &Server, uri: &str) -> String {
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{uri}");
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
