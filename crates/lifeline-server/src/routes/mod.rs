//! HTTP handlers, one module per resource. Each admin handler names the role it needs: as an
//! extractor (`Admin(caller)`, `Operator(caller)`: required for handlers that take a body, so
//! the role is checked before the body is read) or with `caller.require(role)` first thing.

pub(crate) mod admin;
pub(crate) mod drill_runs;
pub(crate) mod drills;
pub(crate) mod faults;
pub(crate) mod incidents;
pub(crate) mod licenses;
pub(crate) mod map;
pub(crate) mod metrics;
pub(crate) mod overrides;
pub(crate) mod overview;
pub(crate) mod public;
pub(crate) mod seats;
pub(crate) mod telemetry;
pub(crate) mod webhooks;
