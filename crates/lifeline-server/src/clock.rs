//! The server's one clock. The core never reads a clock; the shells do, here.
//!
//! A fault-injection drill may skew it ([`set_offset`]; only reachable with
//! `--danger-fault-injection`): one node per process, so the offset is process-wide.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Skews this process's clock by `secs` (0 restores it).
pub(crate) fn set_offset(secs: i64) {
    OFFSET_MS.store(secs.saturating_mul(1000), Ordering::Relaxed);
}

/// Now, unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    u64::try_from(real.saturating_add(OFFSET_MS.load(Ordering::Relaxed))).unwrap_or(0)
}

/// Now, unix seconds.
pub(crate) fn now() -> u64 {
    now_ms() / 1000
}

/// Now, unix seconds, as the databases store it.
pub(crate) fn now_i64() -> i64 {
    i64::try_from(now()).unwrap_or(i64::MAX)
}
