//! The server's one clock. The core never reads a clock; the shells do, here.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, unix seconds.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Now, unix seconds, as the databases store it.
pub(crate) fn now_i64() -> i64 {
    i64::try_from(now()).unwrap_or(i64::MAX)
}
