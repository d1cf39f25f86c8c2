//! A leaked signing key, recovered in one call: the thief's tokens refused online and at the
//! edge, every license the vendor issued still accepted and handed its re-signed token.

use axum::http::StatusCode;
use lifeline_core::{KeySet, LicenseSigner, Policy, Reason, State, UnixTime, verify};
use serde_json::{Value, json};
use sqlx::Row;

use crate::{Server, node};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The store, opened beside the server (as an operator's SQL shell would).
async fn pool(s: &Server) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&s.url).await.unwrap()
}

/// What the thief holds: the key's private half, read from the store.
async fn leak(s: &Server, kid: &str) -> LicenseSigner {
    let row = sqlx::query("SELECT private_jwk FROM signing_keys WHERE kid = $1")
        .bind(kid)
        .fetch_one(&pool(s).await)
        .await
        .unwrap();
    let jwk: String = row.try_get("private_jwk").unwrap();
    LicenseSigner::from_private_jwk_json(jwk.as_bytes()).unwrap()
}

fn forge(thief: &LicenseSigner, jti: &str, iat: u64) -> Value {
    json!(
        thief
            .sign_license(
                json!({
                    "iss": "lifeline", "sub": "mallory", "aud": "app", "jti": jti, "iat": iat,
                    "exp": now() + 50 * 365 * 86_400, "entitlements": ["everything"],
                })
                .as_object()
                .unwrap(),
            )
            .unwrap()
    )
}

async fn jwks_doc(s: &Server) -> Value {
    s.call("GET", "/.well-known/lifeline/keys.json", None, None)
        .await
        .1
}

/// Waits for a node to answer `token` with `reason` (other nodes re-read keys every second).
async fn answers(n: &Server, token: &Value, reason: Option<&str>) -> Value {
    let mut last = Value::Null;
    for _ in 0..40 {
        last = n.validate(token).await;
        if last["verdict"]["reason"].as_str() == reason {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("expected reason {reason:?}, last answer {last}");
}

pub(crate) async fn a_leaked_key_is_recovered_in_one_call_with_no_lockout_and_no_forgery(
    s: Server,
) {
    let b = node(&s.url, tempfile::tempdir().unwrap()).await;
    s.product("app").await;
    let t = now();
    let (st, hook) = s
        .admin(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["key.compromised"]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{hook}");
    let batch: Vec<Value> = (0..30)
        .map(|i| json!({"product": "app", "licensee": format!("c{i}"), "expires_at": t + 86_400 * (i + 1)}))
        .collect();
    let (st, issued) = s
        .admin(
            "POST",
            "/api/v1/licenses/bulk",
            Some(json!({"licenses": batch})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{issued}");
    let issued = issued["licenses"].as_array().unwrap().clone();
    let kid = issued[0]["kid"].as_str().unwrap().to_owned();
    // One license extended before the leak: a machine may still hold either version.
    let first = issued[0]["id"].as_str().unwrap().to_owned();
    let (_, extended) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{first}/extend"),
            Some(json!({"expires_at": t + 90 * 86_400, "reason": "renewal"})),
        )
        .await;
    let thief = leak(&s, &kid).await;
    let early_forgery = forge(&thief, "forged-early", t);
    // Before anyone knows: the leaked key verifies the thief's token like any other.
    assert_eq!(
        s.validate(&early_forgery).await["verdict"]["state"],
        "valid"
    );

    let (st, lines) = s
        .admin(
            "POST",
            &format!("/api/v1/keys/{kid}/compromise"),
            Some(json!({"reason": "private key found in a public repository", "incident": "INC-2041"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{lines}");
    let lines = lines.as_array().unwrap();
    assert_eq!(
        lines[0],
        json!({"kind": "progress", "done": 0, "total": 30}),
        "{lines:?}"
    );
    let done = lines.last().unwrap();
    assert_eq!(done["kind"], "done", "{lines:?}");
    assert!(
        lines[1..lines.len() - 1]
            .iter()
            .all(|l| l["kind"] == "progress" && l["total"] == 30)
    );
    assert_eq!(done["kid"], json!(kid));
    assert_eq!(done["rotated"], true, "it was the active key");
    assert_eq!(done["re_signed"], 30);
    assert_eq!(
        done["listed_tokens"], 31,
        "30 current tokens and the extended one's first"
    );
    let active = done["active_kid"].as_str().unwrap().to_owned();
    assert_ne!(active, kid);
    let late_forgery = forge(&thief, "forged-late", now());

    // The key set says so; the list is published and verifies with it.
    let doc = jwks_doc(&s).await;
    let jwk = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == json!(kid))
        .unwrap()
        .clone();
    assert_eq!(jwk["status"], "compromised");
    assert_eq!(jwk["compromised_at"], done["compromised_at"]);
    let url = jwk["issued_list"].as_str().unwrap();
    assert_eq!(url, done["issued_list_url"].as_str().unwrap());
    let path = &url[url.find("/.well-known").unwrap()..];
    let (st, _) = s.call("GET", path, None, None).await;
    assert_eq!(st, StatusCode::OK);
    let list = sqlx::query("SELECT token FROM issued_lists WHERE kid = $1")
        .bind(&kid)
        .fetch_one(&pool(&s).await)
        .await
        .unwrap()
        .try_get::<String, _>("token")
        .unwrap();
    let mut edge = KeySet::from_jwks_json(doc.to_string().as_bytes()).unwrap();
    let at = UnixTime::from_secs(now());
    let policy = Policy::new().with_audience("app");
    // An edge verifier with the new key set but not yet the list refuses the old tokens
    // (fail closed), and accepts the vendor's with it.
    let old = issued[1]["token"].as_str().unwrap();
    assert_eq!(
        verify(old.as_bytes(), &edge, &policy, at).reason(),
        Some(Reason::KeyCompromised)
    );
    let added = edge.add_issued_list(list.as_bytes()).unwrap();
    assert_eq!((added.len(), added.signed_by()), (31, active.as_str()));
    for l in &issued {
        let v = verify(l["token"].as_str().unwrap().as_bytes(), &edge, &policy, at);
        assert!(v.is_usable(), "{v:?}");
    }
    assert!(
        verify(
            extended["token"].as_str().unwrap().as_bytes(),
            &edge,
            &policy,
            at
        )
        .is_usable()
    );
    for forged in [&early_forgery, &late_forgery] {
        let v = verify(forged.as_str().unwrap().as_bytes(), &edge, &policy, at);
        assert_eq!(v.reason(), Some(Reason::KeyCompromised), "{v:?}");
    }

    // Online, on this node and the other: the vendor's tokens valid and renewed, the
    // thief's refused.
    for n in [&s, &b] {
        for forged in [&early_forgery, &late_forgery] {
            answers(n, forged, Some("key_compromised")).await;
        }
        for l in [&issued[1], &issued[0], &extended] {
            let v = answers(n, &l["token"], None).await;
            assert_eq!(v["verdict"]["state"], "valid", "{v}");
            let renewed = v["license"].as_str().expect("the re-signed token");
            let r = verify(renewed.as_bytes(), &edge, &policy, at);
            assert_eq!((r.state(), r.kid()), (State::Valid, Some(active.as_str())));
            assert_eq!(r.claims().unwrap().jti(), l["id"].as_str().unwrap());
        }
    }
    // The store holds the re-signed licenses; none is left under the leaked key.
    let (_, page) = s.admin("GET", "/api/v1/licenses?limit=100", None).await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["kid"] == json!(active) && l["version"].as_u64().unwrap() > 0)
    );

    // The keys list, the audit log, the webhook, the incident.
    let (_, keys) = s.admin("GET", "/api/v1/keys", None).await;
    let info = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == json!(kid))
        .unwrap()
        .clone();
    assert_eq!(info["status"], "compromised");
    assert_eq!(info["compromise_incident"], "INC-2041");
    assert_eq!(info["issued_list_licenses"], 31);
    let (_, log) = s
        .admin("GET", "/api/v1/audit?action=key.compromised", None)
        .await;
    let events = log["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{log}");
    assert_eq!(events[0]["after"]["incident"], "INC-2041");
    assert_eq!(events[0]["after"]["re_signed"], 30);
    let queued: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM webhook_outbox WHERE event_type = 'key.compromised'",
    )
    .fetch_one(&pool(&s).await)
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    assert_eq!(queued, 1);
    let incident = done["incident_id"].as_str().unwrap();
    let (_, detail) = s
        .admin("GET", &format!("/api/v1/incidents/{incident}"), None)
        .await;
    assert_eq!(detail["rule"], "key_compromised", "{detail}");
    assert_eq!(detail["severity"], "critical");
    assert_eq!(detail["evidence"]["listed_tokens"], 31);
    // The rules never resolve it; an operator does, saying why.
    let summary = s.state.evaluate_rules(now()).await.unwrap();
    assert!(!summary.resolved.contains(&incident.to_owned()));
    let (st, resolved) = s
        .admin(
            "POST",
            &format!("/api/v1/incidents/{incident}/resolve"),
            Some(json!({"text": "key rotated out, repository purged"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["status"], "resolved");

    // Twice is a conflict; the old key now signs nothing and the new one is active.
    let (st, again) = s
        .admin(
            "POST",
            &format!("/api/v1/keys/{kid}/compromise"),
            Some(json!({"reason": "again", "incident": "INC-2041"})),
        )
        .await;
    assert_eq!(
        (st, again["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_compromised"))
    );
    let fresh = s
        .issue(json!({"product": "app", "licensee": "after", "expires_at": t + 86_400}))
        .await;
    assert_eq!(fresh["kid"], json!(active));

    // The key that signed the first list leaks too: that list is signed again by the next
    // key, so the first key's licenses stay accepted and the node keeps serving.
    let (st, lines) = s
        .admin(
            "POST",
            &format!("/api/v1/keys/{active}/compromise"),
            Some(json!({"reason": "the second key leaked too", "incident": "INC-2042"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{lines}");
    let second = lines.as_array().unwrap().last().unwrap().clone();
    assert_eq!(second["kind"], "done", "{second}");
    let third = second["active_kid"].as_str().unwrap().to_owned();
    let (st, _) = s.admin("GET", "/api/v1/keys", None).await;
    assert_eq!(st, StatusCode::OK, "the key ring still loads");
    let mut edge = KeySet::from_jwks_json(jwks_doc(&s).await.to_string().as_bytes()).unwrap();
    for leaked in [&kid, &active] {
        let (st, _) = s
            .raw(
                "GET",
                &format!("/.well-known/lifeline/issued/{leaked}"),
                None,
                None,
                &[],
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let token = sqlx::query("SELECT token FROM issued_lists WHERE kid = $1")
            .bind(leaked)
            .fetch_one(&pool(&s).await)
            .await
            .unwrap()
            .try_get::<String, _>("token")
            .unwrap();
        let added = edge.add_issued_list(token.as_bytes()).unwrap();
        assert_eq!(
            added.signed_by(),
            third,
            "{leaked}'s list is signed by the key in use"
        );
    }
    let at = UnixTime::from_secs(now());
    for l in [&issued[3], &fresh] {
        let v = verify(l["token"].as_str().unwrap().as_bytes(), &edge, &policy, at);
        assert!(v.is_usable(), "{v:?}");
        assert_eq!(s.validate(&l["token"]).await["verdict"]["state"], "valid");
    }
}

pub(crate) async fn compromise_requests_are_checked_and_change_nothing_when_refused(s: Server) {
    let (_, keys) = s.admin("GET", "/api/v1/keys", None).await;
    let kid = keys[0]["kid"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/keys/{kid}/compromise");
    for (body, code) in [
        (json!({"reason": "", "incident": "INC-1"}), "invalid_field"),
        (json!({"reason": "leak", "incident": ""}), "invalid_field"),
        (
            json!({"reason": "leak", "incident": "x".repeat(129)}),
            "invalid_field",
        ),
        (
            json!({"reason": "leak\u{7}", "incident": "INC-1"}),
            "invalid_field",
        ),
        (json!({"reason": "leak"}), "invalid_body"),
        (
            json!({"reason": "leak", "incident": "INC-1", "force": true}),
            "invalid_body",
        ),
    ] {
        let (st, p) = s.admin("POST", &path, Some(body.clone())).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {p}");
        assert_eq!(p["code"], code, "{body}: {p}");
    }
    let (st, p) = s
        .admin(
            "POST",
            "/api/v1/keys/no-such-key/compromise",
            Some(json!({"reason": "leak", "incident": "INC-1"})),
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (st, _) = s
        .call(
            "GET",
            &format!("/.well-known/lifeline/issued/{kid}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "no list for a key that is not compromised"
    );
    let (_, after) = s.admin("GET", "/api/v1/keys", None).await;
    assert_eq!(after, keys, "nothing changed");
    let doc = jwks_doc(&s).await;
    assert_eq!(doc["keys"][0]["status"], "active");
}
