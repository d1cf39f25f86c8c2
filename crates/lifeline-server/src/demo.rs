//! Demo data for `lifeline serve --demo`: a product, licenses in every state and a rotated
//! key, so a fresh server shows something real. Seeds only an empty store.

use lifeline_api::IssueLicense;
use serde_json::Map;
use sqlx::Row;

use crate::store::StoreError;
use crate::{AppError, AppState, keys, licenses};

const DAY: u64 = 86_400;

/// The drill a demo server runs once by itself, so its Drills page is never empty.
pub const FIRST_DRILL: &str = "one-node-down";

/// How long after the start the demo runs [`FIRST_DRILL`].
pub const FIRST_DRILL_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs [`FIRST_DRILL`] [`FIRST_DRILL_AFTER`] from now, when this node can run drills (a
/// drill already running then is left alone: the page has one anyway).
pub(crate) fn schedule_first_drill(state: &AppState) {
    if state.drill_runs().launcher().is_none() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_DRILL_AFTER).await;
        if let Err(e) = crate::routes::drill_runs::start_run(&state, FIRST_DRILL, "demo").await {
            tracing::info!("demo drill {FIRST_DRILL} not started: {}", e.detail());
        }
    });
}

/// Seeds the demo data unless the store already has products. Returns whether it seeded.
pub async fn seed(state: &AppState) -> Result<bool, AppError> {
    let store = state.store();
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM products")
        .fetch_one(store.pool())
        .await
        .map_err(StoreError::from)?
        .try_get("n")
        .map_err(StoreError::from)?;
    if count > 0 {
        return Ok(false);
    }
    let now = crate::clock::now();
    let mut w = store.write().await?;
    for (id, name) in [("photo-pro", "Photo Pro"), ("video-pro", "Video Pro")] {
        sqlx::query("INSERT INTO products (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(i64::try_from(now).unwrap_or(i64::MAX))
            .execute(&mut *w.tx)
            .await
            .map_err(StoreError::from)?;
        w.audit(
            "demo",
            "product.created",
            id,
            None,
            Some(&serde_json::json!({ "id": id, "name": name })),
        )
        .await?;
    }
    w.commit().await?;

    // The demo's history starts a year ago: so does its first key's signing window.
    sqlx::query("UPDATE signing_keys SET not_before = $1, created_at = $1 WHERE status = 'active'")
        .bind(i64::try_from(now - 400 * DAY).unwrap_or(0))
        .execute(store.pool())
        .await
        .map_err(StoreError::from)?;
    // Signed by the first key, which is then rotated out: these stay valid.
    let ring = state.reload_keys().await?;
    let license =
        |product: &str, licensee: &str, expires_at: u64, grace_s: u64, seats: Option<u32>| {
            IssueLicense {
                product: product.into(),
                licensee: licensee.into(),
                entitlements: vec!["export".into(), "raw".into()],
                expires_at,
                grace_s,
                seats,
                seat_mode: None,
                heartbeat_s: None,
                overage: None,
                linger_s: None,
                borrow_max_s: None,
                offline_grace_s: None,
                metadata: Map::new(),
            }
        };
    let old = [
        (
            license("photo-pro", "acme-corp", now + 300 * DAY, 7 * DAY, Some(25)),
            now - 30 * DAY,
        ),
        (
            license("photo-pro", "initech", now - DAY, 7 * DAY, Some(5)),
            now - 365 * DAY,
        ),
        (
            license("video-pro", "umbrella", now - 10 * DAY, 3 * DAY, None),
            now - 375 * DAY,
        ),
        (
            license("video-pro", "hooli", now + 200 * DAY, 0, Some(100)),
            now - 20 * DAY,
        ),
    ];
    let mut w = store.write().await?;
    let mut hooli = String::new();
    for (req, issued_at) in &old {
        let issued = licenses::issue_in(
            &mut w,
            &ring,
            &state.status_list_uri(),
            "demo",
            req,
            *issued_at,
            None,
        )
        .await?;
        if req.licensee == "hooli" {
            hooli = issued.id;
        }
    }
    w.commit().await?;
    licenses::revoke(store, "demo", &hooli, "demo: chargeback", now).await?;
    keys::rotate(store, "demo").await?;
    let ring = state.reload_keys().await?;
    // Signed by the new key: inside its window, which opened at the rotation (a second or
    // more after `now` on a busy machine).
    let after = crate::clock::now().max(now);
    let mut w = store.write().await?;
    for req in [
        license("photo-pro", "globex", now + 3 * DAY, 7 * DAY, Some(10)),
        license("video-pro", "acme-corp", now + 90 * DAY, 14 * DAY, Some(25)),
    ] {
        licenses::issue_in(
            &mut w,
            &ring,
            &state.status_list_uri(),
            "demo",
            &req,
            after,
            None,
        )
        .await?;
    }
    w.commit().await?;
    Ok(true)
}
