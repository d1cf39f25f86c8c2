//! The overview page and the telemetry field verifiers send.

use serde::{Deserialize, Serialize};

use crate::licenses::License;

/// Licenses by the server's state (`GET /api/v1/overview`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StateCounts {
    /// Usable, not expired.
    pub valid: u64,
    /// Expired, inside grace.
    pub grace: u64,
    /// Past expiry and grace.
    pub expired: u64,
    /// Revoked.
    pub revoked: u64,
    /// Past expiry (in grace or expired, not revoked) and covered by an active override
    /// that can keep them usable (effect `valid` or `extend_grace`).
    #[serde(default)]
    pub overridden: u64,
}

/// One minute of this node's `validate` traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MinuteStats {
    /// Start of the minute, unix seconds.
    pub start: u64,
    /// Validation requests answered.
    pub requests: u64,
    /// Requests answered with an error status (4xx/5xx) instead of a verdict.
    pub errors: u64,
    /// Verdicts that were not usable (`invalid`).
    pub failures: u64,
    /// Latency percentiles in milliseconds (upper bounds of histogram buckets); absent
    /// when the minute had no requests.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
}

/// How often one reason made a verdict unusable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReasonCount {
    /// The verdict's reason code (`expired`, `revoked`, `bad_signature`, ...).
    pub reason: String,
    /// How many verdicts over the window.
    pub count: u64,
}

/// `GET /api/v1/overview`: what an on-call engineer needs first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Overview {
    /// The server's clock, unix seconds.
    pub now: u64,
    /// All licenses by state.
    pub licenses: StateCounts,
    /// The window "expiring soon" means, seconds.
    pub expiring_window_s: u64,
    /// How many usable licenses expire within the window.
    pub expiring_soon_total: u64,
    /// The first of them, soonest first (at most 10).
    #[cfg_attr(feature = "schema", schemars(length(max = 10)))]
    pub expiring_soon: Vec<License>,
    /// This node's validation traffic, one entry per minute over the last hour, oldest first.
    #[cfg_attr(feature = "schema", schemars(length(equal = 60)))]
    pub validation: Vec<MinuteStats>,
    /// Unusable verdicts by reason over the last hour, most frequent first.
    pub failures_by_reason: Vec<ReasonCount>,
    /// Field verifiers' verdicts as this node received them through `POST
    /// /api/v1/telemetry`, one entry per minute over the last hour, oldest first:
    /// `requests` = verdicts, `failures` = `invalid` ones, `errors` = 0.
    #[serde(default)]
    pub edge: Vec<MinuteStats>,
    /// The field verifiers' unusable verdicts by reason over the last hour, most frequent
    /// first.
    #[serde(default)]
    pub edge_failures_by_reason: Vec<ReasonCount>,
    /// The services whose verifiers reported telemetry to this node in the last hour.
    #[serde(default)]
    pub services: Vec<ServiceSeen>,
    /// Incidents not yet resolved (open or acknowledged).
    #[serde(default)]
    pub open_incidents: u64,
    /// Seats by product: live and sold (products with seats only).
    #[serde(default)]
    pub seats: Vec<ProductSeats>,
    /// Licenses using at least 90 % of their seats, fullest first (at most 10).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 10)))]
    pub seats_nearly_full: Vec<NearlyFull>,
}

/// One product's seats (`GET /api/v1/overview`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProductSeats {
    /// The product.
    pub product: String,
    /// Live seats (lingering ones included).
    pub in_use: u64,
    /// Seats sold on licenses neither revoked nor past their grace.
    pub sold: u64,
}

/// A license using most of its seats (`GET /api/v1/overview`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NearlyFull {
    /// The license.
    pub license_id: String,
    /// Its licensee.
    pub licensee: String,
    /// Its product.
    pub product: String,
    /// Live seats.
    pub in_use: u64,
    /// Seats sold.
    pub seats: u64,
}

/// `POST /api/v1/telemetry`: the core's report, which verifiers drain and the server reads.
pub use lifeline_core::TelemetryReport;

/// Response of `POST /api/v1/telemetry` (202).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TelemetryAccepted {
    /// Verdicts the report added (for a cumulative report: what grew since the previous).
    pub counted: u64,
}

/// A service seen through telemetry (`GET /api/v1/overview`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceSeen {
    /// The service's name.
    pub service: String,
    /// Distinct instances that reported in the last hour.
    pub instances: u64,
    /// The latest report, unix seconds.
    pub last_seen: u64,
}
