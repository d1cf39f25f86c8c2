//! The Lifeline server's HTTP API as plain serde types: what the server accepts and returns,
//! and what the CLI and the console send and read. No HTTP framework, no logic.
//!
//! Times are unix seconds. Every error response is an RFC 9457 `application/problem+json`
//! [`Problem`] with a stable `code`.

mod admin;
pub mod bounds;
mod common;
mod drills;
mod incidents;
mod licenses;
mod map;
mod overrides;
mod overview;
mod seats;
mod webhooks;

pub use admin::*;
pub use common::*;
pub use drills::*;
pub use incidents::*;
pub use licenses::*;
pub use map::*;
pub use overrides::*;
pub use overview::*;
pub use seats::*;
pub use webhooks::*;
