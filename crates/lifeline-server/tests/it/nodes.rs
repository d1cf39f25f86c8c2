//! Several server nodes over one PostgreSQL database.

use axum::http::StatusCode;
use serde_json::json;

use crate::{Db, fresh_db, license_body, node};

/// Active-active: two nodes over one PostgreSQL database see each other's writes at once.
#[tokio::test]
#[ignore = "needs PostgreSQL: `make test` starts one and sets LIFELINE_TEST_PG"]
pub(crate) async fn two_nodes_over_one_postgres_see_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(Db::Postgres, dir.path()).await;
    let a = node(&url, dir).await;
    let b = node(&url, tempfile::tempdir().unwrap()).await;
    a.product("p").await;
    let license = a.issue(license_body("p", "shared")).await;
    let token = license["token"].clone();
    let v = b.validate(&token).await;
    assert_eq!(v["verdict"]["state"], "valid", "{v}");
    // A revocation on one node: at once there, and on the other within its refresh period.
    let id = license["id"].as_str().unwrap();
    a.admin(
        "POST",
        &format!("/api/v1/licenses/{id}/revoke"),
        Some(json!({"reason": "fraud"})),
    )
    .await;
    assert_eq!(a.validate(&token).await["verdict"]["reason"], "revoked");
    tokio::time::sleep(lifeline_server::REVOCATION_REFRESH).await;
    let v = b.validate(&token).await;
    assert_eq!(v["verdict"]["reason"], "revoked");
    // A rotation on one node: the other verifies licenses signed by the new key at once.
    let (st, _) = b.admin("POST", "/api/v1/keys/rotate", None).await;
    assert_eq!(st, StatusCode::OK);
    let fresh = b.issue(license_body("p", "after-rotation")).await;
    let v = a.validate(&fresh["token"]).await;
    assert_eq!(v["verdict"]["state"], "valid", "{v}");
    // Both nodes append to one audit chain, and it is intact.
    let (_, chain) = a.admin("GET", "/api/v1/audit/verify", None).await;
    assert_eq!(chain["intact"], true);
}
