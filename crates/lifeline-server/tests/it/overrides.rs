//! Temporary overrides: create (signed at once or pending a second admin), approve, revoke,
//! the public bundle, and what `validate` makes of them.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use lifeline_core::{Override, OverrideBundle, UnixTime};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{Server, now};

const HOUR: u64 = 3600;

fn body(scope: Value, effect: Value, expires_at: u64) -> Value {
    json!({
        "scope": scope, "effect": effect, "expires_at": expires_at,
        "reason": "billing outage", "incident": "INC-42",
    })
}

fn valid_for(scope: Value, secs: u64) -> Value {
    body(scope, json!({"type": "valid"}), now() + secs)
}

async fn create(s: &Server, token: &str, req: Value) -> (StatusCode, Value) {
    s.call("POST", "/api/v1/overrides", Some(token), Some(req))
        .await
}

async fn new_token(s: &Server, role: &str) -> String {
    let (st, t) = s
        .admin(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": format!("second {role}"), "role": role})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

/// The claims of a token, decoded without checking (the signature is checked elsewhere).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn verified(s_keys: &lifeline_core::KeySet, token: &Value) -> Override {
    Override::verify(
        token.as_str().unwrap().as_bytes(),
        s_keys,
        UnixTime::from_secs(now()),
        60,
    )
    .unwrap()
}

async fn audit_items(s: &Server) -> Value {
    s.admin("GET", "/api/v1/audit?limit=1000", None).await.1["items"].clone()
}

async fn events(s: &Server, action: &str) -> Vec<Value> {
    let (_, page) = s
        .admin("GET", &format!("/api/v1/audit?action={action}"), None)
        .await;
    page["items"].as_array().unwrap().clone()
}

/// `GET /api/v1/overrides/bundle`: its headers checked, the ids of the overrides in it.
async fn bundle_ids(s: &Server) -> Vec<String> {
    let req = Request::builder()
        .uri("/api/v1/overrides/bundle")
        .body(Body::empty())
        .unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/lifeline-override-bundle+jwt"
    );
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=60");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let at = now();
    let bundle =
        OverrideBundle::verify(&bytes, &s.jwks().await, UnixTime::from_secs(at), 60).unwrap();
    assert_eq!(bundle.skipped, 0);
    assert!(bundle.expires_at.as_secs() >= at + 299 && bundle.expires_at.as_secs() <= at + 301);
    let mut ids: Vec<String> = bundle.overrides.into_iter().map(|o| o.id).collect();
    ids.sort();
    ids
}

/// A `validate` answer grants nothing: no lease, or one that records a refusal.
fn no_permission(v: &Value) {
    if let Some(lease) = v["lease"].as_str() {
        assert_eq!(payload(lease)["state"], "invalid", "{v}");
    }
}

async fn chain_intact(s: &Server) {
    let (_, chain) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true, "{chain}");
}

/// The demo's license of `licensee` (the demo has one expired: umbrella).
async fn demo_license(s: &Server, licensee: &str) -> Value {
    let (_, page) = s
        .admin(
            "GET",
            &format!("/api/v1/licenses?licensee={licensee}"),
            None,
        )
        .await;
    page["items"][0].clone()
}

pub(crate) async fn short_overrides_are_signed_at_once_and_verify_offline(s: Server) {
    let (st, rec) = create(
        &s,
        &s.admin,
        body(
            json!({"type": "licensee", "value": "acme"}),
            json!({"type": "entitlements", "add": ["raw"]}),
            now() + 2 * HOUR,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{rec}");
    assert_eq!(rec["status"], "active");
    assert_eq!(rec["approved_by"], Value::Null);
    let id = rec["id"].as_str().unwrap();
    assert!(id.starts_with("ovr-"), "{id}");
    let o = verified(&s.jwks().await, &rec["token"]);
    assert_eq!(o.id, id);
    assert_eq!(o.issuer, "http://lifeline.test");
    assert_eq!(o.scope, lifeline_core::Scope::Licensee("acme".into()));
    assert_eq!(
        o.effect,
        lifeline_core::Effect::Entitlements {
            add: vec!["raw".into()]
        }
    );
    assert_eq!(
        (o.reason.as_str(), o.incident.as_str()),
        ("billing outage", "INC-42")
    );
    assert_eq!(o.expires_at.as_secs(), rec["expires_at"].as_u64().unwrap());
    let record: lifeline_api::OverrideRecord = serde_json::from_value(rec.clone()).unwrap();
    assert_eq!(record.status, lifeline_api::OverrideStatus::Active);
    let (st, again) = s
        .admin("GET", &format!("/api/v1/overrides/{id}"), None)
        .await;
    assert_eq!((st, &again), (StatusCode::OK, &rec));
    // An operator may create one too; a scope of `all` has no value.
    let operator = new_token(&s, "operator").await;
    let (st, all) = create(&s, &operator, valid_for(json!({"type": "all"}), HOUR)).await;
    assert_eq!(st, StatusCode::CREATED, "{all}");
    assert_eq!(all["scope"], json!({"type": "all"}));
    assert!(
        all["created_by"]
            .as_str()
            .unwrap()
            .contains("second operator")
    );
    // A viewer may read them, not create them.
    let viewer = new_token(&s, "viewer").await;
    let before = audit_items(&s).await;
    let (st, p) = create(&s, &viewer, valid_for(json!({"type": "all"}), HOUR)).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    assert_eq!(audit_items(&s).await, before);
    let (st, list) = s
        .call("GET", "/api/v1/overrides", Some(&viewer), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [all["id"].as_str().unwrap(), id],
        "all of them, newest first"
    );
    // The audit log names the override, never its token.
    let created = events(&s, "override.created").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["subject"], id);
    assert_eq!(created[0]["after"]["status"], "active");
    let log = audit_items(&s).await.to_string();
    for token in [&rec["token"], &all["token"]] {
        assert!(!log.contains(token.as_str().unwrap()));
    }
    assert_eq!(bundle_ids(&s).await.len(), 2);
    chain_intact(&s).await;
}

pub(crate) async fn long_overrides_wait_for_a_second_admin(s: Server) {
    let (st, rec) = create(
        &s,
        &s.admin,
        valid_for(json!({"type": "product", "value": "p"}), 5 * 86_400),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{rec}");
    assert_eq!(rec["status"], "pending_approval");
    assert_eq!(rec["token"], Value::Null);
    let id = rec["id"].as_str().unwrap();
    assert!(bundle_ids(&s).await.is_empty(), "pending is not published");
    let approve = format!("/api/v1/overrides/{id}/approve");
    // The creator's own token cannot approve it, even as admin.
    let (st, p) = s.admin("POST", &approve, None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("same_person"))
    );
    // Nor can an operator.
    let operator = new_token(&s, "operator").await;
    let (st, p) = s.call("POST", &approve, Some(&operator), None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (_, still) = s
        .admin("GET", &format!("/api/v1/overrides/{id}"), None)
        .await;
    assert_eq!(still["status"], "pending_approval");
    let (_, pending) = s
        .admin("GET", "/api/v1/overrides?status=pending_approval", None)
        .await;
    assert_eq!(pending.as_array().unwrap().len(), 1);
    // The red team's way round: the creator mints a second admin token for themselves. It is
    // another token of the same person, and refused like the first.
    let mine = new_token(&s, "admin").await;
    let (st, p) = s.call("POST", &approve, Some(&mine), None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("same_person")),
        "{p}"
    );
    let (_, who) = s.call("GET", "/api/v1/session", Some(&mine), None).await;
    let (_, creator) = s.admin("GET", "/api/v1/session", None).await;
    assert_eq!(who["principal"], creator["principal"]);
    // A second person approves: signed now, naming the approver.
    let (st, t) = s
        .admin(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "second admin", "role": "admin", "principal": "bob@vendor"})),
        )
        .await;
    assert_eq!(
        (st, t["principal"].as_str()),
        (StatusCode::CREATED, Some("bob@vendor")),
        "{t}"
    );
    let second = t["token"].as_str().unwrap().to_owned();
    let before_approval = now();
    let (st, ok) = s.call("POST", &approve, Some(&second), None).await;
    assert_eq!(st, StatusCode::OK, "{ok}");
    assert_eq!(ok["status"], "active");
    assert!(ok["approved_by"].as_str().unwrap().contains("second admin"));
    let o = verified(&s.jwks().await, &ok["token"]);
    assert_eq!(o.id, id);
    assert!(o.issued_at.as_secs() >= before_approval);
    assert_eq!(
        payload(ok["token"].as_str().unwrap())["approved_by"],
        ok["approved_by"]
    );
    assert_eq!(bundle_ids(&s).await, [id]);
    // Approving again: not pending any more.
    let (st, p) = s.call("POST", &approve, Some(&second), None).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let approved = events(&s, "override.approved").await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["subject"], id);
    assert!(
        !approved[0]
            .to_string()
            .contains(ok["token"].as_str().unwrap())
    );
    let (_, active) = s
        .admin("GET", "/api/v1/overrides?status=active&limit=1", None)
        .await;
    assert_eq!(active[0]["id"], id);
    chain_intact(&s).await;
}

pub(crate) async fn bad_override_input_is_refused_and_writes_nothing(s: Server) {
    let before = audit_items(&s).await;
    let all = json!({"type": "all"});
    let valid = json!({"type": "valid"});
    let soon = now() + HOUR;
    let mut reasonless = valid_for(all.clone(), HOUR);
    reasonless["reason"] = json!("  ");
    let mut long_reason = valid_for(all.clone(), HOUR);
    long_reason["reason"] = json!("r".repeat(1025));
    let mut no_incident = valid_for(all.clone(), HOUR);
    no_incident["incident"] = json!("");
    let mut long_incident = valid_for(all.clone(), HOUR);
    long_incident["incident"] = json!("i".repeat(1025));
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            reasonless,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reason",
        ),
        (
            long_reason,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reason",
        ),
        (
            no_incident,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_incident",
        ),
        (
            long_incident,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_incident",
        ),
        (
            body(all.clone(), valid.clone(), now() - 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expiry_in_past",
        ),
        (
            body(all.clone(), valid.clone(), now() + 31 * 86_400),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expiry_too_far",
        ),
        (
            body(json!({"type": "license", "value": ""}), valid.clone(), soon),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scope",
        ),
        (
            body(
                json!({"type": "licensee", "value": " "}),
                valid.clone(),
                soon,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scope",
        ),
        (
            body(
                json!({"type": "product", "value": "p".repeat(257)}),
                valid.clone(),
                soon,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scope",
        ),
        (
            body(
                all.clone(),
                json!({"type": "entitlements", "add": []}),
                soon,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_effect",
        ),
        (
            body(
                all.clone(),
                json!({"type": "entitlements", "add": [""]}),
                soon,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_effect",
        ),
        (
            body(
                all.clone(),
                json!({"type": "extend_grace", "secs": 0}),
                soon,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_effect",
        ),
        (
            body(json!({"type": "everything"}), valid.clone(), soon),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            body(all.clone(), json!({"type": "forever"}), soon),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"scope": all, "effect": valid, "expires_at": soon, "reason": "r"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (req, status, code) in cases {
        let (st, p) = create(&s, &s.admin, req.clone()).await;
        assert_eq!((st, p["code"].as_str().unwrap()), (status, code), "{req}");
    }
    let (_, list) = s.admin("GET", "/api/v1/overrides", None).await;
    assert_eq!(list, json!([]), "nothing written");
    assert_eq!(audit_items(&s).await, before, "no audit event");
    // Unknown ids, bad revocations, bad list parameters.
    for (method, uri, req) in [
        ("GET", "/api/v1/overrides/ovr-nope", None),
        ("POST", "/api/v1/overrides/ovr-nope/approve", None),
        (
            "POST",
            "/api/v1/overrides/ovr-nope/revoke",
            Some(json!({"reason": "r"})),
        ),
    ] {
        let (st, p) = s.admin(method, uri, req).await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{uri}"
        );
    }
    let (_, rec) = create(&s, &s.admin, valid_for(json!({"type": "all"}), HOUR)).await;
    let revoke = format!("/api/v1/overrides/{}/revoke", rec["id"].as_str().unwrap());
    let (st, p) = s.admin("POST", &revoke, Some(json!({"reason": ""}))).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_reason"))
    );
    for query in ["limit=0", "limit=501", "status=bogus", "other=1"] {
        let (st, p) = s
            .admin("GET", &format!("/api/v1/overrides?{query}"), None)
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{query}"
        );
    }
    chain_intact(&s).await;
}

pub(crate) async fn overrides_rescue_covered_licenses_until_revoked(s: Server) {
    assert!(lifeline_server::demo::seed(&s.state).await.unwrap());
    let expired = demo_license(&s, "umbrella").await;
    assert_eq!(expired["state"], "expired");
    let v = s.validate(&expired["token"]).await;
    assert_eq!(
        (&v["verdict"]["state"], &v["verdict"]["reason"]),
        (&json!("invalid"), &json!("expired"))
    );
    // An override for another license changes nothing for this one.
    let other = demo_license(&s, "globex").await;
    let (st, first) = create(
        &s,
        &s.admin,
        valid_for(json!({"type": "license", "value": other["id"]}), HOUR),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let v = s.validate(&expired["token"]).await;
    assert_eq!(v["verdict"]["state"], "invalid", "{v}");
    no_permission(&v);
    assert_eq!(v["overrides"], json!([]));
    // One for this license: usable in state `override`, with a lease, and the token to keep.
    let (st, rec) = create(
        &s,
        &s.admin,
        valid_for(json!({"type": "license", "value": expired["id"]}), 2 * HOUR),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let v = s.validate(&expired["token"]).await;
    assert_eq!(v["verdict"]["state"], "override", "{v}");
    assert_eq!(v["verdict"]["override"]["id"], rec["id"]);
    assert_eq!(v["revoked"], false);
    assert_eq!(v["overrides"], json!([rec["token"]]));
    let lease_exp = v["lease_expires_at"].as_u64().unwrap();
    assert!(lease_exp > now() && lease_exp <= now() + 3600, "{v}");
    let lease = payload(v["lease"].as_str().unwrap());
    assert_eq!(lease["state"], "override");
    assert_eq!(lease["override"], rec["id"]);
    // The overview counts it as overridden (the override for a valid license does not count).
    let (_, overview) = s.admin("GET", "/api/v1/overview", None).await;
    assert_eq!(overview["licenses"]["overridden"], 1, "{overview}");
    // The valid license the first override covers lists it, and stays `valid`.
    let v = s.validate(&other["token"]).await;
    assert_eq!(v["verdict"]["state"], "valid");
    assert_eq!(v["overrides"], json!([first["token"]]), "{v}");
    let mut ids = vec![rec["id"].clone(), first["id"].clone()];
    ids.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(
        json!(bundle_ids(&s).await),
        json!(ids),
        "the bundle holds exactly the active ones"
    );
    // The metrics count the answer as usable, under result="override".
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let res = s.router.clone().oneshot(req).await.unwrap();
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(
        text.contains("lifeline_validations_total{result=\"override\",reason=\"expired\"} 1"),
        "{text}"
    );
    let (_, overview) = s.admin("GET", "/api/v1/overview", None).await;
    let failures: u64 = overview["validation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["failures"].as_u64().unwrap())
        .sum();
    assert_eq!(
        failures, 2,
        "the two refusals before the override, not the rescue"
    );
    // Revoked: gone from validate and from the bundle; revoking twice is a conflict.
    let revoke = format!("/api/v1/overrides/{}/revoke", rec["id"].as_str().unwrap());
    let (st, r) = s
        .admin("POST", &revoke, Some(json!({"reason": "billing fixed"})))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "revoked");
    assert!(r["revoked_at"].is_u64());
    let v = s.validate(&expired["token"]).await;
    assert_eq!(v["verdict"]["reason"], "expired", "{v}");
    assert_eq!(v["overrides"], json!([]));
    no_permission(&v);
    assert_eq!(bundle_ids(&s).await.len(), 1);
    let (st, p) = s
        .admin("POST", &revoke, Some(json!({"reason": "again"})))
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (_, revoked) = s
        .admin("GET", "/api/v1/overrides?status=revoked", None)
        .await;
    assert_eq!(revoked.as_array().unwrap().len(), 1);
    assert_eq!(revoked[0]["id"], rec["id"]);
    let revocations = events(&s, "override.revoked").await;
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0]["after"]["reason"], "billing fixed");
    chain_intact(&s).await;
}

pub(crate) async fn a_revoked_license_stays_revoked_under_an_override(s: Server) {
    assert!(lifeline_server::demo::seed(&s.state).await.unwrap());
    let expired = demo_license(&s, "umbrella").await;
    let (st, _) = s
        .admin(
            "POST",
            &format!(
                "/api/v1/licenses/{}/revoke",
                expired["id"].as_str().unwrap()
            ),
            Some(json!({"reason": "fraud"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    for scope in [
        json!({"type": "license", "value": expired["id"]}),
        json!({"type": "all"}),
    ] {
        let (st, _) = create(&s, &s.admin, valid_for(scope, HOUR)).await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let v = s.validate(&expired["token"]).await;
    assert_eq!(
        (&v["verdict"]["state"], &v["verdict"]["reason"]),
        (&json!("invalid"), &json!("revoked")),
        "{v}"
    );
    assert_eq!(v["revoked"], true);
    no_permission(&v);
    assert!(v["verdict"].get("override").is_none(), "{v}");
    assert_eq!(
        v["overrides"],
        json!([]),
        "no override is handed out for it"
    );
    chain_intact(&s).await;
}

pub(crate) async fn overrides_keep_working_across_a_key_rotation(s: Server) {
    assert!(lifeline_server::demo::seed(&s.state).await.unwrap());
    let expired = demo_license(&s, "umbrella").await;
    let (st, before) = create(
        &s,
        &s.admin,
        valid_for(json!({"type": "license", "value": expired["id"]}), HOUR),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = s.admin("POST", "/api/v1/keys/rotate", None).await;
    assert_eq!(st, StatusCode::OK);
    // Signed by the new key; creating it re-reads this node's active overrides.
    let (st, after) = create(
        &s,
        &s.admin,
        valid_for(json!({"type": "licensee", "value": "nobody"}), HOUR),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let kid = |rec: &Value| {
        let header = rec["token"].as_str().unwrap().split('.').next().unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["kid"].clone()
    };
    assert_ne!(kid(&before), kid(&after), "the rotation changed the signer");
    // The one signed by the retired key still verifies inside its window, and still applies.
    let keys = s.jwks().await;
    verified(&keys, &before["token"]);
    let v = s.validate(&expired["token"]).await;
    assert_eq!(v["verdict"]["state"], "override", "{v}");
    assert_eq!(v["overrides"], json!([before["token"]]));
    let mut ids = vec![before["id"].clone(), after["id"].clone()];
    ids.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(json!(bundle_ids(&s).await), json!(ids));
    chain_intact(&s).await;
}
