//! Server nodes sharing a store: each registers a heartbeat row (`nodes`) when it starts and
//! refreshes it every few seconds, and removes it when it stops cleanly. The `node_unreachable`
//! rule reads the rows; `GET /api/v1/nodes` lists them. Heartbeats are bookkeeping, not
//! changes people make: they are written outside the audit chain.

use lifeline_api::NodeInfo;
use sqlx::Row;

use crate::rules::NodeSeen;
use crate::store::{Store, StoreError};

fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Registers `id` or refreshes its `last_seen`.
pub(crate) async fn heartbeat(
    store: &Store,
    id: &str,
    url: &str,
    started_at: u64,
    now: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO nodes (id, url, started_at, last_seen) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, last_seen = excluded.last_seen",
    )
    .bind(id)
    .bind(url)
    .bind(db(started_at))
    .bind(db(now))
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Removes a node's row (it stopped cleanly).
pub(crate) async fn remove(store: &Store, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM nodes WHERE id = $1")
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Deletes the rows of nodes silent since before `cutoff`.
pub(crate) async fn forget_before(store: &Store, cutoff: u64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM nodes WHERE last_seen < $1")
        .bind(db(cutoff))
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Every registered node, by id.
pub(crate) async fn seen(store: &Store) -> Result<Vec<NodeSeen>, StoreError> {
    Ok(list(store, 0, u64::MAX)
        .await?
        .into_iter()
        .map(|n| NodeSeen {
            id: n.id,
            url: n.url,
            last_seen: n.last_seen,
        })
        .collect())
}

/// Every registered node, by id; reachable when seen within `unreachable_after` of `now`.
pub(crate) async fn list(
    store: &Store,
    now: u64,
    unreachable_after: u64,
) -> Result<Vec<NodeInfo>, StoreError> {
    let rows = sqlx::query("SELECT id, url, started_at, last_seen FROM nodes ORDER BY id")
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let last_seen = secs(row.try_get("last_seen")?);
            Ok(NodeInfo {
                id: row.try_get("id")?,
                url: row.try_get("url")?,
                started_at: secs(row.try_get("started_at")?),
                last_seen,
                reachable: now.saturating_sub(last_seen) <= unreachable_after,
            })
        })
        .collect()
}
