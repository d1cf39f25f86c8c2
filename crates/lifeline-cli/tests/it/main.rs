//! The CLI's integration tests, one binary (one link of the world instead of eight): each
//! module was a test file of its own. `cargo test -p lifeline-cli --test it -- MODULE::`
//! runs one module (`make pg-test` runs `failover::` on PostgreSQL, `make console-e2e` the
//! ignored `console::` test).

mod cli;
mod common;
mod console;
mod demo;
mod drills;
mod failover;
mod interop;
mod limits;
mod logs;
mod monitoring;
mod seats;
mod server;
mod telemetry;
