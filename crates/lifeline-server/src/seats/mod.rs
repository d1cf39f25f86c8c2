//! Seats: machines activated against a license (node-locked or floating), held by
//! heartbeats, released, borrowed, and reclaimed only after `heartbeat_s` of *service time*
//! without a heartbeat (`reclaim.rs`, pure: time Lifeline could not take heartbeats never
//! counts against a seat). `records.rs` keeps them in the store; the handlers are in
//! `routes/seats.rs`; every node sweeps every `seat_sweep_every_s` (`sweep.rs`:
//! `AppState::sweep_seats`).

pub(crate) mod activity;
mod reclaim;
pub(crate) mod records;
mod sweep;

pub use records::SweepReport;
pub(crate) use records::{
    Activated, Activation, Change, SeatRow, activate, by_product, change, count_live, for_license,
    force_release, keyed_fingerprint, nearly_full,
};
