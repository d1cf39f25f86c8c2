//! Seats: machines activated against a license (node-locked or floating), held by
//! heartbeats, released, borrowed, and reclaimed only after `heartbeat_s` of *service time*
//! without a heartbeat (`reclaim.rs`, pure: time Lifeline could not take heartbeats never
//! counts against a seat). `records.rs` keeps them in the store, `writer.rs` commits a
//! node's seat writes in groups, `outages.rs` sweeps them,
//! `usage.rs` sums them up, `activity.rs` counts refusals and activations for the rules; the
//! handlers are in `routes/seats.rs`; every node sweeps every `seat_sweep_every_s`
//! (`sweep.rs`: `AppState::sweep_seats`).

pub(crate) mod activity;
pub(crate) mod outages;
mod reclaim;
pub(crate) mod records;
mod sweep;
mod usage;
mod writer;

pub use outages::SweepReport;
pub(crate) use records::{
    Activated, Activation, Change, SeatChange, SeatRow, count_live, for_license, force_release,
    keyed_fingerprint,
};
pub(crate) use usage::{by_product, nearly_full};
pub(crate) use writer::SeatWriter;
