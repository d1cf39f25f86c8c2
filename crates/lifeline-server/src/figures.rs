//! The store's figures `/metrics` reports (licenses by state, expiring soon, seats by
//! product): a census over every license, so it is read at most once per
//! [`STORE_FIGURES_REFRESH`] however many scrape, and at once after this node changes them.
//! Anonymous scrapes cannot make the store scan on demand.

use std::sync::Arc;
use std::time::Duration;

use lifeline_api::StateCounts;

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
}

async fn load(store: &Store, now: u64) -> Result<StoreFigures, StoreError> {
    let (counts, expiring) =
        crate::licenses::census(store, now, &[7 * 86_400, 30 * 86_400]).await?;
    let seats = crate::seats::by_product(store, now).await?;
    Ok(StoreFigures {
        counts,
        expiring,
        seats,
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
