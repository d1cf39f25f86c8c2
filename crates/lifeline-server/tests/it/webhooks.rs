//! Webhooks against a real receiver on 127.0.0.1 that checks every Standard Webhooks
//! signature with its own HMAC-SHA256 (written here from RFC 2104 over `sha2`, independent of
//! the server's): retries keep the message id, failing endpoints get disabled, and the
//! outbox outlives a restart. Delivery passes are driven with a given `now`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lifeline_server::DeliveryConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Server, license_body, node, now};

/// HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)), 64-byte blocks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether `signatures` (space-separated `v1,<base64>`) holds a valid one for the message.
fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = STANDARD.encode(hmac_sha256(&key, &signed));
    signatures
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

#[test]
fn the_receivers_hmac_is_right() {
    // RFC 4231, test case 2, and the Standard Webhooks reference vector.
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert!(verify(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
        "v1,bogus v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    ));
    // The server's signer agrees with it.
    let sig = lifeline_server::sign_webhook("whsec_c2VjcmV0", "msg_1", 7, b"{}").unwrap();
    assert!(verify("whsec_c2VjcmV0", "msg_1", "7", b"{}", &sig));
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Seen {
    id: String,
    timestamp: u64,
    body: Value,
    signed: bool,
}

#[derive(Clone, Default)]
struct Receiver {
    secret: Arc<Mutex<String>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Statuses to answer, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let secret = r.secret.lock().unwrap().clone();
    let signed = verify(
        &secret,
        &id,
        &timestamp,
        &body,
        &header("webhook-signature"),
    );
    r.seen.lock().unwrap().push(Seen {
        id,
        timestamp: timestamp.parse().unwrap_or(0),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed,
    });
    let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// A receiver listening on 127.0.0.1: its URL and state.
async fn receiver() -> (String, Receiver) {
    let r = Receiver::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, r)
}

/// A URL where nothing listens.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/hook")
}

async fn subscribe(s: &Server, url: &str, events: Value) -> Value {
    let (st, created) = s
        .admin(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    created
}

async fn revoke_one(s: &Server, licensee: &str) -> String {
    let license = s.issue(license_body("p", licensee)).await;
    let id = license["id"].as_str().unwrap().to_owned();
    let (st, _) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "refund"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    id
}

fn quick() -> DeliveryConfig {
    DeliveryConfig {
        backoff_s: vec![5, 30],
        timeout_ms: 3000,
        disable_after: 2,
        allow_private: true,
        ..DeliveryConfig::default()
    }
}

pub(crate) async fn webhooks_are_signed_retried_and_disabled(s: Server) {
    s.state.set_delivery(quick());
    s.product("p").await;
    let (url, r) = receiver().await;
    let all = json!([
        "incident.opened",
        "incident.resolved",
        "license.revoked",
        "override.issued"
    ]);
    let created = subscribe(&s, &url, all.clone()).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    *r.secret.lock().unwrap() = secret.clone();
    let hook = created["id"].as_str().unwrap().to_owned();
    for (body, code) in [
        (
            json!({"url": "ftp://127.0.0.1/x", "events": all}),
            "invalid_url",
        ),
        (json!({"url": "127.0.0.1/x", "events": all}), "invalid_url"),
        (json!({"url": url, "events": []}), "invalid_events"),
        (
            json!({"url": url, "events": ["license.deleted"]}),
            "invalid_body",
        ),
        (json!({"events": all}), "invalid_body"),
    ] {
        let (st, p) = s.admin("POST", "/api/v1/webhooks", Some(body)).await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code))
        );
    }
    let (st, list) = s.admin("GET", "/api/v1/webhooks", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none());
    assert!(!list.to_string().contains(&secret[6..]), "never listed");

    // A revocation: the receiver fails twice, then takes it; one message id throughout.
    r.script.lock().unwrap().extend([500, 500]);
    let license = revoke_one(&s, "gone").await;
    let t = now();
    let pass = |at: u64| s.state.deliver_webhooks(at);
    let first = pass(t).await.unwrap();
    assert_eq!((first.attempted, first.delivered), (1, 0));
    assert_eq!(pass(t + 4).await.unwrap().attempted, 0, "backoff: 5 s");
    assert_eq!(pass(t + 5).await.unwrap().attempted, 1);
    assert_eq!(pass(t + 34).await.unwrap().attempted, 0, "backoff: 30 s");
    let third = pass(t + 35).await.unwrap();
    assert_eq!((third.attempted, third.delivered), (1, 1));
    assert_eq!(
        pass(t + 10_000).await.unwrap().attempted,
        0,
        "delivered once"
    );
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|x| x.signed), "{seen:?}");
    assert!(
        seen.iter()
            .all(|x| x.id == seen[0].id && x.id.starts_with("msg_"))
    );
    let times: Vec<u64> = seen.iter().map(|x| x.timestamp).collect();
    assert_eq!(times, [t, t + 5, t + 35], "each attempt signs its own time");
    assert_eq!(seen[0].body["type"], "license.revoked");
    assert_eq!(seen[0].body["data"]["id"], license);
    assert_eq!(seen[0].body["data"]["reason"], "refund");
    assert!(seen[0].body["timestamp"].as_str().unwrap().ends_with('Z'));

    // An override that is active at once; incidents opened and resolved.
    let (st, _) = s
        .admin(
            "POST",
            "/api/v1/overrides",
            Some(
                json!({"scope": {"type": "licensee", "value": "x"}, "effect": {"type": "valid"},
                "expires_at": now() + 3600, "reason": "r", "incident": "INC-1"}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    for _ in 0..20 {
        s.validate(&json!("junk")).await;
    }
    let t = now();
    let opened = s.state.evaluate_rules(t).await.unwrap().opened;
    let resolved = s.state.evaluate_rules(t + 600).await.unwrap().resolved;
    assert_eq!((opened.len(), resolved.len()), (2, 2));
    assert_eq!(pass(t + 600).await.unwrap().delivered, 5);
    let seen = r.seen.lock().unwrap().clone();
    let types: Vec<&str> = seen[3..]
        .iter()
        .map(|x| x.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "override.issued",
            "incident.opened",
            "incident.opened",
            "incident.resolved",
            "incident.resolved"
        ]
    );
    assert!(seen.iter().all(|x| x.signed));
    assert_eq!(seen[3].body["data"]["incident"], "INC-1");
    assert!(seen[3].body["data"].get("token").is_none());
    assert!(opened.contains(&seen[4].body["data"]["id"].as_str().unwrap().to_owned()));
    assert_eq!(seen[6].body["data"]["status"], "resolved");

    // An endpoint that never answers: each message fails after its 3 attempts; after 2
    // failed messages in a row it is disabled and gets nothing more.
    let dead = subscribe(&s, &dead_url().await, json!(["license.revoked"])).await;
    let dead_id = dead["id"].as_str().unwrap().to_owned();
    revoke_one(&s, "a").await;
    revoke_one(&s, "b").await;
    let t = now();
    let mut disabled = Vec::new();
    for at in [t, t + 5, t + 35] {
        let report = pass(at).await.unwrap();
        disabled.extend(report.disabled);
    }
    assert_eq!(disabled, std::slice::from_ref(&dead_id));
    let (_, list) = s.admin("GET", "/api/v1/webhooks", None).await;
    let dead = list
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == dead_id.as_str())
        .unwrap();
    assert!(dead["disabled_at"].is_u64(), "{dead}");
    assert_eq!(dead["consecutive_failures"], 2);
    let (_, audit) = s
        .admin("GET", &format!("/api/v1/audit?subject={dead_id}"), None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["webhook.created", "webhook.disabled"]);
    revoke_one(&s, "c").await;
    let report = pass(now() + 100).await.unwrap();
    assert_eq!(
        (report.attempted, report.delivered),
        (1, 1),
        "only the live one"
    );

    // Deleting an endpoint stops its messages.
    let one = format!("/api/v1/webhooks/{hook}");
    let (st, _) = s.admin("DELETE", &one, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, p) = s.admin("DELETE", &one, None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    revoke_one(&s, "d").await;
    assert_eq!(pass(now() + 200).await.unwrap().attempted, 0);
    let (_, list) = s.admin("GET", "/api/v1/webhooks", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // No secret ever reaches the audit log.
    let (_, audit) = s.admin("GET", "/api/v1/audit?limit=1000", None).await;
    assert!(!audit.to_string().contains("whsec_"));
    assert!(!audit.to_string().contains(&secret[6..]));
}

pub(crate) async fn the_outbox_survives_a_restart(s: Server) {
    s.product("p").await;
    let (url, r) = receiver().await;
    let created = subscribe(&s, &url, json!(["license.revoked"])).await;
    *r.secret.lock().unwrap() = created["secret"].as_str().unwrap().to_owned();
    let license = revoke_one(&s, "gone").await;
    // The node stops before delivering; another starts over the same store and delivers.
    let Server {
        state,
        router,
        url: db,
        _dir,
        ..
    } = s;
    drop(router);
    drop(state);
    let restarted = node(&db, tempfile::tempdir().unwrap()).await;
    let report = restarted.state.deliver_webhooks(now()).await.unwrap();
    assert_eq!((report.attempted, report.delivered), (1, 1));
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signed);
    assert_eq!(seen[0].body["data"]["id"], license);
}

/// An endpoint that accepts connections and never answers.
async fn hanging_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // read nothing, answer nothing, keep it open
        }
    });
    format!("http://{addr}/hook")
}

/// The red team's two webhook findings. With one endpoint that never answers, a healthy
/// endpoint got its events one at a time ~10 s apart, each with a stale timestamp: now the
/// healthy one is served by the next pass while the hanging one's task waits out its
/// timeout, and its signature's timestamp is when it was sent. And targets on this machine
/// or a private network are refused by default, when registered and when delivered.
pub(crate) async fn a_hanging_endpoint_delays_only_itself_and_private_targets_are_refused(
    s: Server,
) {
    s.state.set_delivery(DeliveryConfig {
        timeout_ms: 3000,
        ..quick()
    });
    s.product("p").await;
    let hanging = subscribe(&s, &hanging_url().await, json!(["license.revoked"])).await;
    let (url, r) = receiver().await;
    let healthy = subscribe(&s, &url, json!(["license.revoked"])).await;
    *r.secret.lock().unwrap() = healthy["secret"].as_str().unwrap().to_owned();
    revoke_one(&s, "first").await;
    // The first pass: the healthy endpoint is served at once; the hanging one's task holds
    // on for the 3 s timeout.
    let state = s.state.clone();
    let first = tokio::spawn(async move { state.deliver_webhooks(now()).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        r.seen.lock().unwrap().len(),
        1,
        "the healthy endpoint got the first event"
    );
    // Events keep coming while the hanging endpoint's task waits: the next pass serves the
    // healthy endpoint and leaves the hanging one (in flight) alone.
    revoke_one(&s, "second").await;
    let started = std::time::Instant::now();
    let second = s.state.deliver_webhooks(now()).await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        second.attempted, 1,
        "only the healthy endpoint, once: {second:?}"
    );
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|x| x.signed));
    assert!(seen[1].timestamp.abs_diff(now()) <= 1, "signed when sent");
    let first = first.await.unwrap().unwrap();
    assert_eq!((first.attempted, first.delivered), (2, 1), "{first:?}");
    let (_, list) = s.admin("GET", "/api/v1/webhooks", None).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == hanging["id"])
    );

    // With the defaults, private targets are refused.
    s.state.set_delivery(DeliveryConfig::default());
    for target in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://0x7f000001/hook",
        "http://localhost:8080/hook",
        "http://10.0.0.7/hook",
    ] {
        let (st, p) = s
            .admin(
                "POST",
                "/api/v1/webhooks",
                Some(json!({"url": target, "events": ["license.revoked"]})),
            )
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("private_target")),
            "{target}: {p}"
        );
    }
    // An endpoint registered while they were allowed is refused at delivery: the attempt
    // fails without a request reaching it.
    revoke_one(&s, "third").await;
    let before = r.seen.lock().unwrap().len();
    let report = s.state.deliver_webhooks(now() + 60).await.unwrap();
    assert!(report.attempted >= 1, "{report:?}");
    assert_eq!(
        r.seen.lock().unwrap().len(),
        before,
        "nothing reached the private endpoint"
    );
}
