//! Fault injection (`lifeline serve --danger-fault-injection` only) and drill reports.

use serde::{Deserialize, Serialize};

/// The faults a node simulates. All off by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The node is cut off: it drops every connection (the API too), stops its heartbeat and
    /// its rule evaluation. Needs `for_ms`, since nothing can reach the node to clear it.
    pub partition: bool,
    /// Every `validate` waits this long before it is answered (a hanging node), ms.
    pub hang_validate_ms: u64,
    /// This node's clock reads this many seconds ahead (negative: behind).
    pub clock_offset_s: i64,
    /// `validate` answers with the first answer this node gave for the same request (a
    /// replayed old lease), when it has one.
    pub replay_answers: bool,
    /// The node holds an exclusive lock on the store: other writers wait, then fail.
    pub store_locked: bool,
}

/// `PUT /api/v1/faults`: the faults from now on (replacing the previous set).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// The faults.
    #[serde(default)]
    pub faults: Faults,
    /// Clear them by themselves after this long, ms (at most an hour).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 3_600_000)))]
    pub for_ms: Option<u64>,
    /// Once: move the active signing key's start this many seconds back, as if it had been in
    /// use that long (past the maximum key age it is overdue for rotation).
    #[serde(default)]
    pub age_signing_key_s: u64,
}

/// `GET`/`PUT /api/v1/faults`: what the node simulates now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FaultState {
    /// The faults in force.
    pub faults: Faults,
    /// When they clear by themselves, unix ms.
    pub until_ms: Option<u64>,
}

/// Every drill `lifeline drill list` names, in its order (the console lists them too, so a
/// drill never run shows; a CLI test keeps this list and the drills in step).
pub const DRILL_NAMES: [&str; 16] = [
    "expired-signing-key",
    "key-rotated-mid-traffic",
    "one-node-down",
    "all-nodes-down",
    "node-hanging",
    "corrupted-license-file",
    "corrupted-lease-cache",
    "clock-skewed-ahead",
    "clock-set-back",
    "replayed-old-lease",
    "revoked-during-outage",
    "store-unavailable",
    "seat-race",
    "crashed-clients",
    "heartbeat-outage",
    "signing-key-leaked",
];

/// A drill's measured times, ms from the fault's injection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DrillTimes {
    /// Until the fault was detected (an incident opened, or readiness lost); `None`: not
    /// detected by the servers.
    pub detect_ms: Option<u64>,
    /// From the fault's end until verifiers got online answers again and the incident (if
    /// any) resolved; `None`: did not recover within the drill.
    pub recover_ms: Option<u64>,
    /// The whole drill.
    pub total_ms: u64,
}

/// What the drill's verifiers saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerifierOutcomes {
    /// Checks made.
    pub checks: u64,
    /// Checks whose verdict was usable.
    pub usable: u64,
    /// Checks that refused a license that should have been usable (users locked out).
    pub lockouts: u64,
    /// Verdicts by state.
    pub states: std::collections::BTreeMap<String, u64>,
    /// Verdicts by reason (verdicts without one are not counted here).
    pub reasons: std::collections::BTreeMap<String, u64>,
}

/// One expectation of a drill and whether it held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DrillExpectation {
    /// What was expected.
    pub expected: String,
    /// Whether it held.
    pub met: bool,
    /// What was seen.
    pub observed: String,
}

/// A drill's report (`lifeline drill run NAME --json`; stored by `POST /api/v1/drills`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DrillReport {
    /// The drill (kebab-case).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[a-z0-9-]{1,64}$")))]
    pub name: String,
    /// The fault injected.
    pub fault: String,
    /// Every expectation met.
    pub passed: bool,
    /// Started at, unix seconds.
    pub started_at: u64,
    /// What detected the fault (an incident rule, `readyz`), if anything did.
    pub detected_by: Option<String>,
    /// Measured times.
    pub times: DrillTimes,
    /// What verifiers saw.
    pub verifiers: VerifierOutcomes,
    /// The expectations, each with what was seen.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub expectations: Vec<DrillExpectation>,
    /// Anything else worth reading.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A stored drill report (`GET /api/v1/drills`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StoredDrillReport {
    /// Its id.
    pub id: String,
    /// When the server received it, unix seconds.
    pub received_at: u64,
    /// Who sent it (API token).
    pub received_from: String,
    /// The report.
    pub report: DrillReport,
}

/// `POST /api/v1/drill-runs`: run a drill on this node now (the console's **Run** button).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StartDrill {
    /// A drill of `lifeline drill list` ([`DRILL_NAMES`]).
    pub name: String,
}

/// Where a drill run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DrillRunStatus {
    /// Its lab is up and the fault is being rehearsed.
    Running,
    /// Finished, every expectation met; its report is stored.
    Passed,
    /// Finished, an expectation failed; its report is stored.
    Failed,
    /// Could not run (its lab did not start, it timed out); no report. `error` says why.
    Error,
}

/// A drill run started on this node (`GET /api/v1/drill-runs`): its progress while it runs,
/// its stored report when it is done. Runs are kept in the node's memory (the last 20); the
/// reports are in the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DrillRun {
    /// The run's id.
    pub id: String,
    /// The drill.
    pub name: String,
    /// Who started it (an API token's actor, or `demo` for the demo's own run).
    pub started_by: String,
    /// Started at, unix seconds.
    pub started_at: u64,
    /// Finished at, unix seconds, once it is done.
    pub finished_at: Option<u64>,
    /// Where it is.
    pub status: DrillRunStatus,
    /// What it has done so far, one line a step, oldest first (at most the last 50).
    pub steps: Vec<String>,
    /// The stored report's id (`GET /api/v1/drills/{id}`), once it is done.
    pub report_id: Option<String>,
    /// Why it could not run (status `error`).
    pub error: Option<String>,
}
