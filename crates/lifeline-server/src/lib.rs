//! The Lifeline license server: a library (`app(state) -> Router`) and [`serve`], which the
//! `lifeline serve` command runs.
//!
//! It issues licenses (signed by the core's `LicenseSigner`), revokes them, rotates signing
//! keys, answers online validation with the core's verdict plus a signed lease, and records
//! every change in a hash-chained audit log written in the same transaction as the change.
//!
//! # What this crate does not do
//! - It makes no verification decision of its own: `validate` asks `lifeline-core` and only
//!   adds what the store knows (revocation, active overrides, which the core applies).
//! - It does not terminate TLS: run it behind a proxy that does.

mod audit;
mod auth;
mod background;
mod body;
mod clock;
mod compromise;
mod console;
mod deliver;
pub mod demo;
mod drill_runs;
mod faults;
mod figures;
mod hot;
mod ids;
mod incidents;
mod json_lines;
mod keys;
mod licenses;
mod limits;
mod listen;
mod map;
mod metrics;
mod nodes;
mod openapi;
mod overrides;
mod problem;
mod request_id;
mod router;
mod routes;
mod rules;
mod seats;
mod series;
mod serve;
mod snapshot;
mod state;
mod store;
mod telemetry;
mod transport_problems;
mod webhook_target;
mod webhooks;

pub use audit::{ChainBreak, GENESIS, verify_run};
pub use auth::{TOKEN_PREFIX, create_token, hash_secret};
pub use console::{ASSET_CACHE_CONTROL, INDEX_CACHE_CONTROL, with_console};
pub use deliver::{DeliveryConfig, DeliveryReport};
pub use drill_runs::{DRILL_TIMEOUT, DrillLauncher, KEPT_RUNS as KEPT_DRILL_RUNS};
pub use faults::MAX_FAULT_MS;
pub use hot::{LEASE_REUSE, REVOCATION_REFRESH};
pub use ids::new_id as new_license_id;
pub use incidents::Evaluation;
pub use keys::{KEY_MAX_AGE_SECS, KeyRing};
pub use limits::{
    BODY_READ_TIMEOUT, Limiter, MAX_BODY_BYTES, MAX_BODY_BYTES_IN_FLIGHT, MAX_BULK_BODY_BYTES, Rate,
};
pub use listen::HEADER_READ_TIMEOUT;
pub use map::{DeclaredKey, MapConfig, UNASSIGNED};
pub use metrics::Metrics;
pub use overrides::{
    MAX_OVERRIDE_SECS, MAX_UNAPPROVED_OVERRIDE_SECS, OVERRIDE_BUNDLE_MEDIA_TYPE,
    OVERRIDE_BUNDLE_TTL_SECS,
};
pub use problem::AppError;
pub use request_id::REQUEST_ID_HEADER;
pub use router::app;
pub use routes::licenses::MAX_BULK;
pub use routes::overview::EXPIRING_WINDOW_SECS;
pub use routes::public::{LEASE_TTL_SECS, STATUS_LIST_TTL_SECS};
pub use rules::{RULES, RulesConfig};
pub use seats::SweepReport;
pub use series::VALIDATE_LATENCY_BOUNDS_SECS;
pub use serve::{Bound, ServeConfig, bind, bootstrap_admin, serve};
pub use state::{AppState, Limits, OVERRIDE_REFRESH};
pub use store::{AuditFilter, Backend, Store, StoreError};
pub use telemetry::{MAX_INSTANCES, MAX_REASONS, MAX_SERVICES};
pub use webhooks::{SECRET_PREFIX as WEBHOOK_SECRET_PREFIX, sign as sign_webhook};

/// The checks the handlers run on a decoded request body before anything is signed or
/// stored; each refusal is the 4xx problem the API answers. Public for the fuzz targets
/// (`fuzz/`), which feed them every body the JSON decoder accepts.
pub mod checks {
    pub use crate::licenses::check_request as issue_license;
    pub use crate::overrides::check as create_override;
    pub use crate::telemetry::check as telemetry_report;
    pub use crate::webhooks::check_url as webhook_url;
}
