//! `GET /api/v1/map` over real HTTP (the router on a 127.0.0.1 listener, a ureq client):
//! the store is a single point of failure until a second node and a replica exist; owners
//! from the owners file; an expired signing key is critical; verifier services are learned
//! from telemetry.

use std::net::SocketAddr;

use lifeline_api::Role;
use lifeline_server::{DeclaredKey, MapConfig, create_token};
use serde_json::{Value, json};

use crate::{Server, license_body, node, now};

/// Serves `s`'s router on 127.0.0.1; its base URL.
async fn listen(s: &Server) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = s.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

/// One HTTP request: status, content type and JSON body.
async fn http(
    method: &'static str,
    url: String,
    token: Option<String>,
    body: Option<Value>,
) -> (u16, String, Value) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut res = match (method, body) {
            ("GET", _) => {
                let mut req = agent.get(&url);
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.call().unwrap()
            }
            (_, body) => {
                let mut req = agent.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.send(body.unwrap_or(Value::Null).to_string()).unwrap()
            }
        };
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = res.body_mut().read_to_string().unwrap();
        (
            status,
            content_type,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    })
    .await
    .unwrap()
}

async fn map(base: &str, token: &str) -> Value {
    let (status, _, body) = http(
        "GET",
        format!("{base}/api/v1/map"),
        Some(token.to_owned()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn component<'a>(map: &'a Value, id: &str) -> &'a Value {
    map["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no component {id} in {map}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

async fn token(s: &Server, role: Role) -> String {
    create_token(s.state.store(), "test", role.as_str(), role, None)
        .await
        .unwrap()
        .token
}

/// The issue's "done when": a single store is flagged as a single point of failure, and no
/// longer once a second node (heartbeat) and a replica exist.
pub(crate) async fn the_store_is_a_single_point_of_failure_until_a_second_node_and_a_replica(
    s: Server,
) {
    let base = listen(&s).await;
    let viewer = token(&s, Role::Viewer).await;
    // Deny by default.
    for bad in [None, Some("ll_wrong".to_owned())] {
        let (status, content_type, p) = http("GET", format!("{base}/api/v1/map"), bad, None).await;
        assert_eq!(status, 401);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(p["code"], "unauthorized");
    }
    let this = format!("node:{}", s.state.node_id());

    // One node, one store, no replica.
    let m = map(&base, &viewer).await;
    let store = component(&m, "store");
    assert_eq!(store["kind"], "store");
    assert_eq!(store["health"], "ok", "{store}");
    assert_eq!(store["single_point_of_failure"], true, "{store}");
    let breaks = strings(&store["breaks"]);
    for dependent in [this.as_str(), "status-list", "override-bundle"] {
        assert!(breaks.contains(&dependent.to_owned()), "{breaks:?}");
    }
    assert!(strings(&m["single_points_of_failure"]).contains(&"store".to_owned()));
    assert!(strings(&m["single_points_of_failure"]).contains(&this));
    assert_eq!(component(&m, &this)["single_point_of_failure"], true);
    assert!(
        m["edges"]
            .as_array()
            .unwrap()
            .contains(&json!({"from": this, "to": "store", "requirement": "store"})),
        "{}",
        m["edges"]
    );
    // Nobody owns anything yet, visibly; no emergency override key is declared.
    assert!(
        m["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["owner"] == "unassigned")
    );
    let missing = component(&m, "override-key");
    assert_eq!(missing["missing"], true);
    assert_eq!(missing["health"], "warning");

    // A second node: the nodes back each other up; the store is still alone.
    let b = node(&s.url, tempfile::tempdir().unwrap()).await;
    let t = now();
    b.state.heartbeat(t).await.unwrap();
    s.state.heartbeat(t).await.unwrap();
    let other = format!("node:{}", b.state.node_id());
    let m = map(&base, &viewer).await;
    assert_eq!(component(&m, &other)["health"], "ok");
    assert_eq!(component(&m, &this)["single_point_of_failure"], false);
    assert_eq!(component(&m, &other)["single_point_of_failure"], false);
    assert_eq!(component(&m, "store")["single_point_of_failure"], true);
    assert!(strings(&m["single_points_of_failure"]).contains(&"store".to_owned()));

    // And a replica: the store is no longer flagged; the replica shows without credentials.
    s.state
        .set_map_config(MapConfig {
            store_replica: Some("postgres://lifeline:s3cret@replica.internal:5432/lifeline".into()),
            ..MapConfig::default()
        })
        .unwrap();
    let m = map(&base, &viewer).await;
    let store = component(&m, "store");
    assert_eq!(store["single_point_of_failure"], false, "{store}");
    assert!(strings(&store["breaks"]).is_empty());
    // Still depended on: its blast radius is everything above it.
    assert!(strings(&store["blast_radius"]).contains(&this));
    let replica = component(&m, "store-replica");
    assert_eq!(replica["kind"], "store");
    assert_eq!(
        replica["name"],
        "store replica postgres://replica.internal:5432"
    );
    assert!(!m.to_string().contains("s3cret"));
    let spofs = strings(&m["single_points_of_failure"]);
    for id in ["store", "store-replica", this.as_str(), other.as_str()] {
        assert!(!spofs.contains(&id.to_owned()), "{id} in {spofs:?}");
    }
    // The active key still has no alternative.
    let active = m["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "signing_key" && c["name"].as_str().unwrap().contains("active"))
        .unwrap();
    assert_eq!(active["single_point_of_failure"], true);

    // The second node falls silent: this one is alone again (the store keeps its replica).
    b.state
        .heartbeat(t - s.state.rules().node_unreachable_after_s - 5)
        .await
        .unwrap();
    let m = map(&base, &viewer).await;
    assert_eq!(component(&m, &other)["health"], "critical");
    assert_eq!(component(&m, &this)["single_point_of_failure"], true);
    assert_eq!(component(&m, "store")["single_point_of_failure"], false);
}

/// Owners from the owners file, an expired signing key's health, verifier services learned
/// from telemetry, and the licenses each component's loss affects.
pub(crate) async fn the_map_shows_owners_key_health_and_services_from_telemetry(s: Server) {
    let base = listen(&s).await;
    let viewer = token(&s, Role::Viewer).await;
    let t = now();
    let config: MapConfig = serde_json::from_value(json!({
        "owners": {"store": "dba", "node": "platform", "service:photo-pro": "desktop-team"},
        "default_owner": "licensing",
        "override_keys": [{"kid": "emergency-2026", "not_after": t + 200 * 86_400}],
    }))
    .unwrap();
    assert_eq!(
        config.override_keys,
        vec![DeclaredKey {
            kid: "emergency-2026".into(),
            not_after: Some(t + 200 * 86_400)
        }]
    );
    s.state.set_map_config(config).unwrap();
    // Bad owners files are refused.
    let empty_owner: MapConfig = serde_json::from_value(json!({"owners": {"store": ""}})).unwrap();
    assert!(s.state.set_map_config(empty_owner).is_err());
    assert!(serde_json::from_value::<MapConfig>(json!({"owner": {}})).is_err());

    s.product("p").await;
    s.product("q").await;
    s.issue(license_body("p", "a")).await;
    s.issue(license_body("q", "b")).await;
    // Two services report: one healthy, one refusing most verdicts.
    for (service, states, reasons) in [
        ("photo-pro", vec![("valid", 30)], vec![]),
        (
            "kiosk",
            vec![("valid", 10), ("invalid", 20)],
            vec![("bad_signature", 20)],
        ),
    ] {
        let (status, _, body) = http(
            "POST",
            format!("{base}/api/v1/telemetry"),
            Some(viewer.clone()),
            Some(crate::incidents::report(service, &states, &reasons)),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    // The active key's window opened 400 days ago: its rotation is overdue.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.url).await.unwrap();
    sqlx::query("UPDATE signing_keys SET not_before = $1 WHERE status = 'active'")
        .bind(i64::try_from(t - 400 * 86_400).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let ring = s.state.reload_keys().await.unwrap();
    let kid = ring.active.kid().to_owned();

    let m = map(&base, &viewer).await;
    let key = component(&m, &format!("key:{kid}"));
    assert_eq!(key["kind"], "signing_key");
    assert_eq!(key["health"], "critical", "{key}");
    assert!(key["reason"].as_str().unwrap().contains("expired"), "{key}");
    assert_eq!(key["owner"], "licensing");
    // Losing the only signing key stops validation: every usable license, both products.
    assert_eq!(key["licenses_affected"], 2);
    assert_eq!(key["products_affected"], 2);
    assert_eq!(component(&m, "store")["owner"], "dba");
    assert_eq!(component(&m, "store")["licenses_affected"], 2);
    let this = format!("node:{}", s.state.node_id());
    assert_eq!(component(&m, &this)["owner"], "platform");
    let emergency = component(&m, "override-key:emergency-2026");
    assert_eq!(emergency["health"], "ok");
    assert_eq!(emergency["missing"], false);

    let photo = component(&m, "service:photo-pro");
    assert_eq!(photo["kind"], "service");
    assert_eq!(photo["owner"], "desktop-team");
    assert_eq!(photo["health"], "ok", "{photo}");
    assert!(photo["blast_radius"].as_array().unwrap().is_empty());
    let kiosk = component(&m, "service:kiosk");
    assert_eq!(kiosk["health"], "critical", "{kiosk}");
    assert!(
        kiosk["reason"].as_str().unwrap().contains("67 %"),
        "{kiosk}"
    );
    assert_eq!(kiosk["owner"], "licensing");
    // Verifier services depend on the nodes, the status list, the signing key, and on the
    // bundle or the emergency key for overrides.
    let edges = m["edges"].as_array().unwrap();
    for (to, requirement) in [
        (this.as_str(), "nodes"),
        ("status-list", "status_list"),
        (&format!("key:{kid}"), "signing_key"),
        ("override-bundle", "overrides"),
        ("override-key:emergency-2026", "overrides"),
    ] {
        let edge = json!({"from": "service:photo-pro", "to": to, "requirement": requirement});
        assert!(edges.contains(&edge), "{edge} not in {edges:?}");
    }
    // The services are in the blast radius of what they depend on, transitively.
    for id in ["store", "status-list", this.as_str()] {
        let radius = strings(&component(&m, id)["blast_radius"]);
        assert!(
            radius.contains(&"service:photo-pro".to_owned()),
            "{id}: {radius:?}"
        );
    }
    // With the emergency key declared, the bundle is not the only way to an override.
    assert!(
        !strings(&component(&m, "override-bundle")["breaks"]).contains(&"service:kiosk".to_owned())
    );
    // Components are grouped by kind: services first, keys last.
    let kinds: Vec<String> = m["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("service"));
    assert_eq!(kinds.last().map(String::as_str), Some("override_key"));
}
