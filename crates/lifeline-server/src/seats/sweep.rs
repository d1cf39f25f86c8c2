//! The seat sweep every node runs (and tests call with the time they need).

use super::outages::{self, SweepReport};
use crate::AppState;
use crate::store::StoreError;

impl AppState {
    /// One seat sweep at `now` (unix seconds): ticks the service clock, records an outage
    /// when no node swept for longer than three sweeps (or three node heartbeats, whichever
    /// is longer), ends due borrows and reclaims the floating seats due under the
    /// outage-aware rule. `serve` does it every `seat_sweep_every_s`.
    pub async fn sweep_seats(&self, now: u64) -> Result<SweepReport, StoreError> {
        let rules = self.rules();
        let gap = rules
            .seat_sweep_every_s
            .max(rules.heartbeat_every_s)
            .saturating_mul(3);
        let report = outages::sweep(self.store(), now, gap, rules.node_unreachable_after_s).await?;
        if let Some((from, to)) = report.outage {
            self.metrics().seat_reclaim_paused(to.saturating_sub(from));
        }
        if !report.reclaimed.is_empty() || report.borrows_ended > 0 {
            self.store_figures_changed();
        }
        self.metrics().seat_ended(
            "expired",
            u64::try_from(report.reclaimed.len()).unwrap_or(u64::MAX),
        );
        Ok(report)
    }
}
