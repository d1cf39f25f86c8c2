//! The seat sweep in the store: the shared service clock (a gap longer than the threshold
//! since the last tick is recorded as an outage), due borrows ended, and the floating seats
//! due under the outage-aware rule (`reclaim.rs`) reclaimed; and the gap a returning node
//! records for the seats it answered for.

use lifeline_api::WebhookEventType;
use serde_json::json;
use sqlx::Row;

use super::reclaim::{self, Outage};
use super::records::{db, secs};
use crate::store::{Store, StoreError};
use crate::webhooks::enqueue;

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// A service outage it recorded (no node swept or wrote for longer than the gap).
    pub outage: Option<(u64, u64)>,
    /// Borrowed seats whose borrow ended (alive again, heartbeating from the borrow's end).
    pub borrows_ended: u64,
    /// Floating seats reclaimed: no heartbeat for `heartbeat_s` of service time.
    pub reclaimed: Vec<String>,
    /// Seats due by wall time but kept because the service was down meanwhile.
    pub spared: u64,
}

/// One sweep at `now`: ticks the service clock (a gap over `gap_s` since the last tick is an
/// outage), ends due borrows, reclaims the floating seats due under the outage-aware rule.
/// `unreachable_after`: a node silent this long is down for the seats it last answered for.
#[tracing::instrument(name = "seats.sweep", level = "debug", skip_all)]
pub(crate) async fn sweep(
    store: &Store,
    now: u64,
    gap_s: u64,
    unreachable_after: u64,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let mut w = store.write().await?;
    let last: i64 = sqlx::query("SELECT last_tick FROM service_clock WHERE id = 1")
        .fetch_one(&mut *w.tx)
        .await?
        .try_get("last_tick")?;
    let last = secs(last);
    if last > 0 && now > last.saturating_add(gap_s) {
        sqlx::query("INSERT INTO service_outages (start_at, end_at, cause, node) VALUES ($1, $2, 'service_down', NULL)")
            .bind(db(last))
            .bind(db(now))
            .execute(&mut *w.tx)
            .await?;
        report.outage = Some((last, now));
    }
    if now > last {
        sqlx::query("UPDATE service_clock SET last_tick = $1 WHERE id = 1")
            .bind(db(now))
            .execute(&mut *w.tx)
            .await?;
    }
    report.borrows_ended = sqlx::query(
        "UPDATE seats SET status = 'alive', last_heartbeat = borrowed_until, borrowed_until = NULL \
         WHERE status = 'borrowed' AND borrowed_until <= $1",
    )
    .bind(db(now))
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    let candidates = sqlx::query(
        "SELECT id, node, last_heartbeat, heartbeat_s FROM seats \
         WHERE status = 'alive' AND mode = 'floating' AND last_heartbeat + heartbeat_s < $1",
    )
    .bind(db(now))
    .fetch_all(&mut *w.tx)
    .await?;
    if !candidates.is_empty() {
        let mut earliest = now;
        let mut seats = Vec::with_capacity(candidates.len());
        for row in &candidates {
            let id: String = row.try_get("id")?;
            let node: String = row.try_get("node")?;
            let last_heartbeat = secs(row.try_get("last_heartbeat")?);
            let heartbeat_s = secs(row.try_get("heartbeat_s")?);
            earliest = earliest.min(last_heartbeat);
            seats.push((id, node, last_heartbeat, heartbeat_s));
        }
        let mut outages: Vec<(Option<String>, Outage)> = Vec::new();
        for row in
            sqlx::query("SELECT start_at, end_at, node FROM service_outages WHERE end_at > $1")
                .bind(db(earliest))
                .fetch_all(&mut *w.tx)
                .await?
        {
            outages.push((
                row.try_get("node")?,
                Outage {
                    start: secs(row.try_get("start_at")?),
                    end: secs(row.try_get("end_at")?),
                },
            ));
        }
        // A node silent now is down, until now, for the seats it last answered for.
        for row in sqlx::query("SELECT id, last_seen FROM nodes WHERE last_seen < $1")
            .bind(db(now.saturating_sub(unreachable_after)))
            .fetch_all(&mut *w.tx)
            .await?
        {
            outages.push((
                Some(row.try_get("id")?),
                Outage {
                    start: secs(row.try_get("last_seen")?),
                    end: now,
                },
            ));
        }
        for (id, node, last_heartbeat, heartbeat_s) in seats {
            let relevant: Vec<Outage> = outages
                .iter()
                .filter(|(n, _)| n.as_deref().is_none_or(|n| n == node))
                .map(|(_, o)| *o)
                .collect();
            if !reclaim::due(last_heartbeat, heartbeat_s, now, &relevant) {
                report.spared += 1;
                continue;
            }
            let done = sqlx::query(
                "UPDATE seats SET status = 'reclaimed', ended_at = $2, holds_until = $2, end_cause = 'expired' \
                 WHERE id = $1 AND status = 'alive'",
            )
            .bind(&id)
            .bind(db(now))
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
            if done == 1 {
                let data = json!({ "seat_id": id, "node": node, "last_heartbeat": last_heartbeat, "heartbeat_s": heartbeat_s, "cause": "expired" });
                enqueue(&mut w, WebhookEventType::SeatReclaimed, &data, now).await?;
                report.reclaimed.push(id);
            }
        }
    }
    w.commit().await?;
    Ok(report)
}

/// A node back after being silent longer than `unreachable_after` records the gap as an
/// outage for the seats it answered for (call before refreshing its heartbeat).
pub(crate) async fn record_node_gap(
    store: &Store,
    node: &str,
    now: u64,
    unreachable_after: u64,
) -> Result<(), StoreError> {
    let last: Option<i64> = sqlx::query("SELECT last_seen FROM nodes WHERE id = $1")
        .bind(node)
        .fetch_optional(store.pool())
        .await?
        .map(|r| r.try_get("last_seen"))
        .transpose()?;
    if let Some(last) = last.map(secs)
        && now > last.saturating_add(unreachable_after)
    {
        sqlx::query("INSERT INTO service_outages (start_at, end_at, cause, node) VALUES ($1, $2, 'node_unreachable', $3)")
            .bind(db(last))
            .bind(db(now))
            .bind(node)
            .execute(store.pool())
            .await?;
    }
    Ok(())
}
