//! A value read from the store and kept for a while: the key ring, the active overrides, the
//! revoked set, the status list, the store's figures for `/metrics`. Reads are single-flight:
//! while one caller re-reads a stale value, the others answer from the previous one; while
//! one reads a value there is none of yet, the others wait for it; never do all query the
//! store at once.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// A snapshot re-read when older than its refresh period.
#[derive(Debug)]
pub(crate) struct Snapshot<T> {
    current: RwLock<Option<(Instant, Arc<T>)>>,
    refreshing: AtomicBool,
    /// Held by the caller reading a value there is none of (or re-reading a stale one).
    loading: tokio::sync::Mutex<()>,
    every: Duration,
}

impl<T> Snapshot<T> {
    /// A snapshot of `value`, read now, re-read every `every`.
    pub(crate) fn new(value: Arc<T>, every: Duration) -> Self {
        Self {
            current: RwLock::new(Some((Instant::now(), value))),
            refreshing: AtomicBool::new(false),
            loading: tokio::sync::Mutex::new(()),
            every,
        }
    }

    /// A snapshot that has not been read yet (the first caller reads it).
    pub(crate) fn empty(every: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            refreshing: AtomicBool::new(false),
            loading: tokio::sync::Mutex::new(()),
            every,
        }
    }

    /// The value: the snapshot while it is fresh; else, when another caller is already
    /// re-reading it, the previous one (a moment older); else `load`'s (remembered).
    pub(crate) async fn get<E, F>(&self, load: impl FnOnce() -> F) -> Result<Arc<T>, E>
    where
        F: Future<Output = Result<Arc<T>, E>>,
    {
        let snapshot = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match snapshot {
            Some((at, value)) if at.elapsed() < self.every => Ok(value),
            Some((_, value)) if self.refreshing.swap(true, Ordering::AcqRel) => Ok(value),
            // Stale (this caller re-reads it), or none yet: one caller reads it, the others
            // wait for that read and take its value.
            _ => {
                let _one = self.loading.lock().await;
                let now_fresh = self
                    .current
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                    .filter(|(at, _)| at.elapsed() < self.every);
                if let Some((_, value)) = now_fresh {
                    self.refreshing.store(false, Ordering::Release);
                    return Ok(value);
                }
                let loaded = load().await;
                self.refreshing.store(false, Ordering::Release);
                let value = loaded?;
                self.set(value.clone());
                Ok(value)
            }
        }
    }

    /// The value held, however old (none before the first read).
    pub(crate) fn peek(&self) -> Option<Arc<T>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, v)| v.clone())
    }

    /// Replaces the value (just re-read, or changed by this node).
    pub(crate) fn set(&self, value: Arc<T>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), value));
    }

    /// Forgets the value: the next caller re-reads it.
    pub(crate) fn invalidate(&self) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn fresh_values_are_kept_stale_ones_reread_once() {
        let snap = Snapshot::new(Arc::new(1), Duration::from_secs(60));
        let v: Result<_, ()> = snap.get(|| async { Ok(Arc::new(2)) }).await;
        assert_eq!(*v.unwrap(), 1, "fresh: not re-read");
        snap.invalidate();
        let v: Result<_, ()> = snap.get(|| async { Ok(Arc::new(3)) }).await;
        assert_eq!(*v.unwrap(), 3, "forgotten: re-read");
        let stale = Snapshot::new(Arc::new(1), Duration::ZERO);
        stale.refreshing.store(true, Ordering::Release);
        let v: Result<_, ()> = stale.get(|| async { Ok(Arc::new(2)) }).await;
        assert_eq!(
            *v.unwrap(),
            1,
            "stale while another re-reads: the previous value"
        );
        stale.refreshing.store(false, Ordering::Release);
        let v: Result<_, &str> = stale.get(|| async { Err("down") }).await;
        assert_eq!(v.unwrap_err(), "down");
        let v: Result<_, ()> = stale.get(|| async { Ok(Arc::new(4)) }).await;
        assert_eq!(*v.unwrap(), 4, "a failed re-read does not block the next");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_callers_of_an_empty_snapshot_read_it_once() {
        let snap = Arc::new(Snapshot::<u32>::empty(Duration::from_secs(60)));
        let reads = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (snap, reads) = (snap.clone(), reads.clone());
            tasks.push(tokio::spawn(async move {
                let v: Result<_, ()> = snap
                    .get(|| async {
                        reads.fetch_add(1, Ordering::AcqRel);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(Arc::new(7))
                    })
                    .await;
                *v.unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(reads.load(Ordering::Acquire), 1, "one read for 32 callers");
    }
}
