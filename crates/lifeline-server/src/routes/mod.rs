//! HTTP handlers, one module per resource. Each admin handler starts with `caller.require(role)`.

pub(crate) mod admin;
pub(crate) mod drills;
pub(crate) mod incidents;
pub(crate) mod licenses;
pub(crate) mod map;
pub(crate) mod overrides;
pub(crate) mod overview;
pub(crate) mod public;
pub(crate) mod telemetry;
pub(crate) mod webhooks;
