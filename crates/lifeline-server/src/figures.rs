//! The store's figures `/metrics` reports (licenses by state, expiring soon, seats by
//! product, unresolved incidents, the webhook backlog): a census over every license, so it is read at most once per
//! [`STORE_FIGURES_REFRESH`] however many scrape, and at once after this node changes them.
//! Anonymous scrapes cannot make the store scan on demand.

use std::sync::Arc;
use std::time::Duration;

use lifeline_api::StateCounts;
use sqlx::Row as _;

use crate::AppState;
use crate::store::{Store, StoreError};

/// How old the store's figures in `/metrics` may be (a change made on this node shows at
/// once; another node's within this).
pub(crate) const STORE_FIGURES_REFRESH: Duration = Duration::from_secs(5);

/// What `/metrics` reports from the store.
#[derive(Clone, Debug, Default)]
pub(crate) struct StoreFigures {
    /// Licenses by state.
    pub(crate) counts: StateCounts,
    /// Valid licenses expiring within 7 and 30 days.
    pub(crate) expiring: Vec<u64>,
    /// Seats by product: (product, in use, sold).
    pub(crate) seats: Vec<(String, u64, u64)>,
    /// Incidents not resolved (open or acknowledged): warning, critical.
    pub(crate) incidents_open: [u64; 2],
    /// Webhook messages neither delivered nor given up.
    pub(crate) webhook_backlog: u64,
}

async fn load(store: &Store, now: u64) -> Result<StoreFigures, StoreError> {
    let (counts, expiring) =
        crate::licenses::census(store, now, &[7 * 86_400, 30 * 86_400]).await?;
    let seats = crate::seats::by_product(store, now).await?;
    let mut incidents_open = [0u64; 2];
    for row in sqlx::query(
        "SELECT severity, COUNT(*) AS n FROM incidents WHERE status <> 'resolved' GROUP BY severity",
    )
    .fetch_all(store.pool())
    .await?
    {
        let severity: String = row.try_get("severity")?;
        let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
        match severity.as_str() {
            "warning" => incidents_open[0] = n,
            _ => incidents_open[1] = n,
        }
    }
    let backlog: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL",
    )
    .fetch_one(store.pool())
    .await?
    .try_get("n")?;
    Ok(StoreFigures {
        counts,
        expiring,
        seats,
        incidents_open,
        webhook_backlog: u64::try_from(backlog).unwrap_or(0),
    })
}

impl AppState {
    /// The store's figures for `/metrics`, at most [`STORE_FIGURES_REFRESH`] old.
    pub(crate) async fn store_figures(&self) -> Result<Arc<StoreFigures>, StoreError> {
        self.figures_snapshot()
            .get(|| async {
                self.count_store_figure_read();
                load(self.store(), crate::clock::now()).await.map(Arc::new)
            })
            .await
    }
}
