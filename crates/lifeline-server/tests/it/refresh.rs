//! Licenses that refresh themselves: `validate` hands a client presenting an older version
//! of a license the stored one, on every node.

use axum::http::StatusCode;
use lifeline_core::{Policy, UnixTime};
use serde_json::{Value, json};

use crate::{Server, node};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn extend(s: &Server, id: &str, expires_at: u64) -> Value {
    let (st, ext) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/extend"),
            Some(json!({"expires_at": expires_at, "reason": "renewal order"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ext}");
    ext
}

/// The `license` another node hands out for `token`, waiting out its refresh period.
async fn handed_out(n: &Server, token: &Value) -> Value {
    for _ in 0..40 {
        let v = n.validate(token).await;
        if v.get("license").is_some() {
            return v["license"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the other node never handed out the newer license");
}

pub(crate) async fn validate_hands_an_outdated_client_the_current_license(s: Server) {
    let b = node(&s.url, tempfile::tempdir().unwrap()).await;
    let t = now();
    s.product("app").await;
    let issued = s
        .issue(json!({"product": "app", "licensee": "acme", "expires_at": t + 86_400}))
        .await;
    assert_eq!(issued["version"], 0);
    let v0 = issued["token"].clone();
    let id = issued["id"].as_str().unwrap().to_owned();
    for n in [&s, &b] {
        let v = n.validate(&v0).await;
        assert_eq!(v["verdict"]["state"], "valid", "{v}");
        assert!(v.get("license").is_none(), "nothing newer yet: {v}");
    }

    let first = extend(&s, &id, t + 2 * 86_400).await;
    assert_eq!(first["version"], 1, "the first re-signing of the store");
    let v1 = first["token"].clone();
    let v = s.validate(&v0).await;
    assert_eq!(
        v["license"], v1,
        "the node that extended hands it out at once: {v}"
    );
    assert_eq!(v["verdict"]["state"], "valid");
    assert_eq!(
        handed_out(&b, &v0).await,
        v1,
        "and every other node within a second"
    );
    assert!(
        s.validate(&v1).await.get("license").is_none(),
        "the current one"
    );

    // The core takes it as a renewal of the held license (same id, newer, authentic).
    let keys = s.jwks().await;
    let at = UnixTime::from_secs(now());
    let held = lifeline_core::verify(v0.as_str().unwrap().as_bytes(), &keys, &Policy::new(), at);
    let renewed = lifeline_core::renewal(
        held.claims().unwrap(),
        v["license"].as_str().unwrap().as_bytes(),
        &keys,
        &Policy::new().with_audience("app"),
        at,
    )
    .unwrap();
    assert_eq!(
        renewed.expires_at(),
        Some(UnixTime::from_secs(t + 2 * 86_400))
    );

    // Another re-signing: every older version gets the newest; versions only grow.
    let second = extend(&s, &id, t + 3 * 86_400).await;
    assert_eq!(second["version"], 2);
    for old in [&v0, &v1] {
        assert_eq!(s.validate(old).await["license"], second["token"]);
    }
    let other = s
        .issue(json!({"product": "app", "licensee": "beta", "expires_at": t + 86_400}))
        .await;
    let other_ext = extend(&s, other["id"].as_str().unwrap(), t + 5 * 86_400).await;
    assert_eq!(
        other_ext["version"], 3,
        "one counter for the store: {other_ext}"
    );
    assert_eq!(handed_out(&b, &v1).await, second["token"]);

    // A seat's answers carry the newer version too (activation and heartbeat).
    let seated = s
        .issue(json!({"product": "app", "licensee": "gamma", "expires_at": t + 86_400, "seats": 2}))
        .await;
    let machine = json!({"token": seated["token"], "fingerprint": "machine-7"});
    let (st, seat) = s
        .call("POST", "/api/v1/seats", None, Some(machine.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{seat}");
    assert!(seat.get("license").is_none(), "{seat}");
    let seated_ext = extend(&s, seated["id"].as_str().unwrap(), t + 9 * 86_400).await;
    let heartbeat = format!(
        "/api/v1/seats/{}/heartbeat",
        seat["seat_id"].as_str().unwrap()
    );
    let (st, beat) = s.call("POST", &heartbeat, None, Some(machine)).await;
    assert_eq!(st, StatusCode::OK, "{beat}");
    assert_eq!(beat["license"], seated_ext["token"], "{beat}");
    let (_, beat) = s
        .call(
            "POST",
            &heartbeat,
            None,
            Some(json!({"token": seated_ext["token"], "fingerprint": "machine-7"})),
        )
        .await;
    assert!(beat.get("license").is_none(), "the current one: {beat}");

    // A revoked license is refused, with nothing handed out.
    let (st, _) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "chargeback"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let v = s.validate(&v0).await;
    assert_eq!(v["verdict"]["reason"], "revoked", "{v}");
    assert!(v.get("license").is_none(), "{v}");
}
