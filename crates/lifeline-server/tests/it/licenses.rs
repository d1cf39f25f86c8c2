//! Issuing, listing, revoking, rotating, bulk issuing, demo data.

use axum::http::StatusCode;
use lifeline_core::{Policy, UnixTime};
use serde_json::{Value, json};

use crate::{Server, count, license_body, now};

pub(crate) async fn issued_licenses_verify_offline_with_the_published_keys(s: Server) {
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

pub(crate) async fn idempotency_key_makes_retries_safe(s: Server) {
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

pub(crate) async fn listing_filters_and_paginates(s: Server) {
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

pub(crate) async fn revocation_shows_in_records_validation_and_audit(s: Server) {
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
    let granted = lifeline_core::Lease::verify(lease.as_bytes(), &keys).unwrap();
    assert_eq!(
        (granted.state.as_str(), granted.reason.as_deref()),
        ("valid", None)
    );

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

    let after = s.validate(&json!(token)).await;
    assert_eq!(after["verdict"]["state"], "invalid");
    assert_eq!(after["verdict"]["reason"], "revoked");
    assert_eq!(after["revoked"], true);
    // The refusal is signed too (clients trust nothing unsigned), and newer than the grant.
    let refusal =
        lifeline_core::Lease::verify(after["lease"].as_str().unwrap().as_bytes(), &keys).unwrap();
    assert_eq!(refusal.license_id, id);
    assert_eq!(
        (refusal.state.as_str(), refusal.reason.as_deref()),
        ("invalid", Some("revoked"))
    );
    assert!(refusal.seq > granted.seq, "lease sequences increase");

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

pub(crate) async fn key_rotation_keeps_old_licenses_valid(s: Server) {
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
        let v = s.validate(&license["token"]).await;
        assert_eq!(v["verdict"]["state"], "valid", "{v}");
    }
    assert_eq!(s.jwks().await.len(), 2);
}

pub(crate) async fn bulk_issue_is_all_or_nothing_and_idempotent(s: Server) {
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
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("licenses[3]"), "{p}");
    assert_eq!(p["field"], "licenses[3].expires_at", "{p}");
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

pub(crate) async fn demo_data_has_every_state_and_a_rotated_key(s: Server) {
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
    let v = s.validate(&old["token"]).await;
    assert_eq!(v["verdict"]["state"], "valid", "{v}");
    let (_, chain) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true);
}

/// Percent-encodes a query value.
pub(crate) fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(crate) async fn extension_re_signs_the_same_license_with_a_later_expiry(s: Server) {
    // Demo data: "acme-corp" (photo-pro) was issued 30 days ago by a key since rotated out,
    // whose signing window closed; the extension is signed by today's active key.
    assert!(lifeline_server::demo::seed(&s.state).await.unwrap());
    let (_, page) = s
        .admin(
            "GET",
            "/api/v1/licenses?product=photo-pro&licensee=acme-corp",
            None,
        )
        .await;
    let license = page["items"][0].clone();
    let id = license["id"].as_str().unwrap().to_owned();
    let old_exp = license["expires_at"].as_u64().unwrap();
    let new_exp = old_exp + 365 * 86_400;
    let extend = format!("/api/v1/licenses/{id}/extend");
    let (_, keys) = s.admin("GET", "/api/v1/keys", None).await;
    let active = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["status"] == "active")
        .unwrap()["kid"]
        .clone();
    assert_ne!(license["kid"], active, "signed by the retired key");
    let old_claims = lifeline_core::inspect(license["token"].as_str().unwrap().as_bytes())
        .unwrap()
        .claims;

    let (st, ext) = s
        .admin(
            "POST",
            &extend,
            Some(json!({"expires_at": new_exp, "reason": "renewed: order A-2"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ext}");
    assert_eq!(ext["id"], json!(id));
    assert_eq!(ext["expires_at"], json!(new_exp));
    assert_eq!(ext["kid"], active);
    assert_eq!(ext["state"], "valid");
    assert_ne!(ext["token"], license["token"]);
    for same in [
        "product",
        "licensee",
        "entitlements",
        "issued_at",
        "grace_s",
        "seats",
        "metadata",
        "revoked_at",
    ] {
        assert_eq!(ext[same], license[same], "{same}");
    }
    let (_, stored) = s
        .admin("GET", &format!("/api/v1/licenses/{id}"), None)
        .await;
    assert_eq!(stored, ext, "the record holds the new token");

    // The new token verifies offline with the published keys, with the new expiry and
    // otherwise the same claims (id, status-list index, nbf, ...).
    let verdict = lifeline_core::verify(
        ext["token"].as_str().unwrap().as_bytes(),
        &s.jwks().await,
        &Policy::new().with_audience("photo-pro"),
        UnixTime::from_secs(now()),
    );
    assert!(verdict.is_usable(), "{:?}", verdict.detail());
    let claims = verdict.claims().unwrap();
    assert_eq!(claims.exp().as_secs(), new_exp);
    assert_eq!(claims.jti(), id);
    let mut expected = old_claims.clone();
    expected.insert("exp".into(), json!(new_exp));
    expected.insert("iat".into(), claims.as_map()["iat"].clone());
    expected.insert("ver".into(), json!(ext["version"]));
    assert_eq!(claims.as_map(), &expected);
    assert!(
        claims.version() > 0,
        "a re-signed license has a higher version"
    );
    assert!(
        claims.iat().as_secs() + 5 >= now(),
        "iat is the re-signing time"
    );
    assert!(
        claims.get("status").is_some(),
        "the status-list index is kept"
    );
    let v = s.validate(&ext["token"]).await;
    assert_eq!(v["verdict"]["state"], "valid", "{v}");
    assert_eq!(v["verdict"]["expires_at"], json!(new_exp));

    // The audit event, in the same transaction as the change.
    let (_, log) = s
        .admin(
            "GET",
            &format!("/api/v1/audit?subject={id}&action=license.extended"),
            None,
        )
        .await;
    let events = log["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{log}");
    assert_eq!(events[0]["before"]["expires_at"], json!(old_exp));
    assert_eq!(events[0]["after"]["expires_at"], json!(new_exp));
    assert_eq!(events[0]["after"]["reason"], "renewed: order A-2");
    assert_eq!(events[0]["after"]["kid"], active);
    assert!(events[0]["actor"].as_str().unwrap().starts_with("token:"));

    // Refused: not later, in the past, too far, no reason, bad bodies, unknown, revoked.
    // Too far: the bound every path shares (100 years ahead).
    let too_far = now() + 101 * 365 * 86_400;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"expires_at": new_exp, "reason": "same"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expiry_not_later",
        ),
        (
            json!({"expires_at": old_exp, "reason": "earlier"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expiry_not_later",
        ),
        (
            json!({"expires_at": too_far, "reason": "forever"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"expires_at": new_exp + 10, "reason": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reason",
        ),
        (
            json!({"expires_at": new_exp + 10}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"expires_at": new_exp + 10, "reason": "r", "grace_s": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let (st, p) = s.admin("POST", &extend, Some(body.clone())).await;
        assert_eq!((st, p["code"].as_str().unwrap()), (status, code), "{body}");
    }
    let (st, p) = s
        .admin(
            "POST",
            "/api/v1/licenses/no-such-license/extend",
            Some(json!({"expires_at": new_exp + 10, "reason": "r"})),
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // An expired license may be extended, but not to a time already past.
    let (_, expired) = s.admin("GET", "/api/v1/licenses?state=expired", None).await;
    let expired = expired["items"][0].clone();
    let expired_extend = format!(
        "/api/v1/licenses/{}/extend",
        expired["id"].as_str().unwrap()
    );
    let past = expired["expires_at"].as_u64().unwrap() + 60;
    let (st, p) = s
        .admin(
            "POST",
            &expired_extend,
            Some(json!({"expires_at": past, "reason": "late renewal"})),
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("expiry_not_later")),
        "{p}"
    );
    let (st, revived) = s
        .admin(
            "POST",
            &expired_extend,
            Some(json!({"expires_at": now() + 86_400, "reason": "late renewal"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{revived}");
    assert_eq!(revived["state"], "valid");
    let (_, revoked) = s.admin("GET", "/api/v1/licenses?state=revoked", None).await;
    let revoked_id = revoked["items"][0]["id"].as_str().unwrap();
    let (st, p) = s
        .admin(
            "POST",
            &format!("/api/v1/licenses/{revoked_id}/extend"),
            Some(json!({"expires_at": now() + 86_400, "reason": "r"})),
        )
        .await;
    assert_eq!(
        (st, p["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let viewer = lifeline_server::create_token(
        s.state.store(),
        "test",
        "viewer",
        lifeline_api::Role::Viewer,
        None,
    )
    .await
    .unwrap()
    .token;
    let (st, _) = s
        .call(
            "POST",
            &extend,
            Some(&viewer),
            Some(json!({"expires_at": new_exp + 10, "reason": "r"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Only the two accepted extensions are recorded; the license is as it was after the first.
    let (_, log) = s
        .admin("GET", "/api/v1/audit?action=license.extended", None)
        .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 2);
    let (_, stored) = s
        .admin("GET", &format!("/api/v1/licenses/{id}"), None)
        .await;
    assert_eq!(stored, ext);
    let (_, chain) = s.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true);
}

pub(crate) async fn search_matches_id_prefixes_and_licensee_substrings(s: Server) {
    s.product("a").await;
    s.product("b").await;
    let mut ids = std::collections::HashMap::new();
    for (product, licensee) in [
        ("a", "Acme Corp"),
        ("b", "ACME Labs"),
        ("a", "Globex"),
        ("a", "100% Pure"),
        ("a", "100 Pure"),
        ("a", "under_score"),
        ("a", "underXscore"),
        ("a", "back\\slash"),
    ] {
        let l = s.issue(license_body(product, licensee)).await;
        ids.insert(licensee, l["id"].as_str().unwrap().to_owned());
    }
    let server = &s;
    let search = |query: String| async move {
        let (st, page) = server
            .admin("GET", &format!("/api/v1/licenses?{query}"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{query}: {page}");
        let mut found: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["licensee"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        found
    };
    let q = |text: &str| format!("q={}", enc(text));
    assert_eq!(search(q("acme")).await, ["ACME Labs", "Acme Corp"]);
    assert_eq!(search(q("aCmE")).await, ["ACME Labs", "Acme Corp"]);
    assert_eq!(search(q("corp")).await, ["Acme Corp"]);
    assert_eq!(search(q("me c")).await, ["Acme Corp"]);
    assert_eq!(search(q("%")).await, ["100% Pure"], "% is literal");
    assert_eq!(search(q("0% p")).await, ["100% Pure"]);
    assert_eq!(search(q("_")).await, ["under_score"], "_ is literal");
    assert_eq!(search(q("r_s")).await, ["under_score"]);
    assert_eq!(search(q("\\")).await, ["back\\slash"], "\\ is literal");
    assert!(search(q("nobody")).await.is_empty());
    // Combined with the other filters.
    assert_eq!(
        search(format!("{}&product=b", q("acme"))).await,
        ["ACME Labs"]
    );
    assert_eq!(
        search(format!("{}&state=valid", q("acme"))).await,
        ["ACME Labs", "Acme Corp"]
    );
    assert!(
        search(format!("{}&state=revoked", q("acme")))
            .await
            .is_empty()
    );
    // Id prefixes match in any case; the middle of an id does not.
    let globex = &ids["Globex"];
    assert_eq!(search(q(globex)).await, ["Globex"]);
    assert_eq!(search(q(&globex[..30].to_uppercase())).await, ["Globex"]);
    assert!(search(q(&globex[20..])).await.is_empty());
    // Pages of a search: no gaps, no duplicates.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/api/v1/licenses?q=p&limit=2&cursor={c}"),
            None => "/api/v1/licenses?q=p&limit=2".to_owned(),
        };
        let (_, page) = s.admin("GET", &uri, None).await;
        for l in page["items"].as_array().unwrap() {
            seen.push(l["licensee"].as_str().unwrap().to_owned());
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, ["100 Pure", "100% Pure", "Acme Corp"]);
    for bad in [String::new(), "x".repeat(257)] {
        let (st, p) = s
            .admin("GET", &format!("/api/v1/licenses?q={bad}"), None)
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
    }
}
