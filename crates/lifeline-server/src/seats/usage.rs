//! Seat figures for `/metrics` and the overview: seats by product, licenses nearly full.

use sqlx::Row;

use super::records::{db, secs};
use crate::store::{Store, StoreError};

/// Seats by product, for `/metrics`: (product, live seats, seats sold on licenses that are
/// neither revoked nor past their grace).
pub(crate) async fn by_product(
    store: &Store,
    now: u64,
) -> Result<Vec<(String, u64, u64)>, StoreError> {
    let mut out: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
    for row in sqlx::query(
        "SELECT l.product AS product, COUNT(*) AS n FROM seats s JOIN licenses l ON l.id = s.license_id \
         WHERE s.status IN ('alive', 'borrowed') OR (s.status = 'released' AND s.holds_until > $1) \
         GROUP BY l.product",
    )
    .bind(db(now))
    .fetch_all(store.pool())
    .await?
    {
        out.entry(row.try_get("product")?).or_default().0 = secs(row.try_get("n")?);
    }
    for row in sqlx::query(
        "SELECT product, CAST(SUM(seats) AS BIGINT) AS n FROM licenses \
         WHERE seats IS NOT NULL AND revoked_at IS NULL AND expires_at + grace_s > $1 GROUP BY product",
    )
    .bind(db(now))
    .fetch_all(store.pool())
    .await?
    {
        out.entry(row.try_get("product")?).or_default().1 = secs(row.try_get("n")?);
    }
    Ok(out
        .into_iter()
        .map(|(p, (used, sold))| (p, used, sold))
        .collect())
}

/// Licenses (not revoked) using at least 90 % of their seats at `now`, fullest first.
pub(crate) async fn nearly_full(
    store: &Store,
    now: u64,
    limit: u32,
) -> Result<Vec<lifeline_api::NearlyFull>, StoreError> {
    let rows = sqlx::query(
        "SELECT l.id AS id, l.licensee AS licensee, l.product AS product, l.seats AS seats, COUNT(s.id) AS n \
         FROM licenses l JOIN seats s ON s.license_id = l.id \
         WHERE l.seats IS NOT NULL AND l.seats > 0 AND l.revoked_at IS NULL \
         AND (s.status IN ('alive', 'borrowed') OR (s.status = 'released' AND s.holds_until > $1)) \
         GROUP BY l.id, l.licensee, l.product, l.seats \
         HAVING COUNT(s.id) * 10 >= l.seats * 9 \
         ORDER BY COUNT(s.id) * 1000 / l.seats DESC, l.id LIMIT $2",
    )
    .bind(db(now))
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(lifeline_api::NearlyFull {
                license_id: row.try_get("id")?,
                licensee: row.try_get("licensee")?,
                product: row.try_get("product")?,
                in_use: secs(row.try_get("n")?),
                seats: secs(row.try_get("seats")?),
            })
        })
        .collect()
}
