//! Fault injection for drills (the injector; its routes are `routes/faults.rs`): present only when the server runs with
//! `--danger-fault-injection` (the routes `GET`/`PUT /api/v1/faults` do not exist otherwise).
//! Admin only; every change is audited before it takes effect (after, when it ends a store
//! lock). Each fault is real where it can be: a partition drops connections at accept, a
//! locked store is an exclusive lock on the real database; a skewed clock skews the one clock
//! every part of this node reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifeline_api::{FaultRequest, FaultState, Faults};
use tokio::sync::oneshot;

use crate::problem::AppError;
use crate::store::{Backend, Store, StoreError};

/// The longest a fault set may last by itself.
pub const MAX_FAULT_MS: u64 = 3_600_000;
/// `hang_validate_ms` at most (a client gives up long before).
const MAX_HANG_MS: u64 = 120_000;
/// Answers remembered for `replay_answers`.
const MAX_REMEMBERED: usize = 4096;

/// This node's simulated faults (clones share them).
#[derive(Clone, Debug, Default)]
pub(crate) struct FaultInjector {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    faults: Faults,
    until_ms: Option<u64>,
    /// Bumped at every change, so a timer only clears the set it was started for.
    generation: u64,
    /// Releases the store lock when sent (or dropped).
    lock: Option<oneshot::Sender<()>>,
    /// The first answer given per `validate` body.
    first_answers: HashMap<Vec<u8>, Vec<u8>>,
}

impl FaultInjector {
    /// The faults in force now.
    pub(crate) fn current(&self) -> Faults {
        self.inner
            .lock()
            .map(|i| i.faults.clone())
            .unwrap_or_default()
    }

    /// The faults in force and until when.
    pub(crate) fn state(&self) -> FaultState {
        self.inner
            .lock()
            .map(|i| FaultState {
                faults: i.faults.clone(),
                until_ms: i.until_ms,
            })
            .unwrap_or_default()
    }

    /// The first answer given to this `validate` body, if remembered.
    pub(crate) fn first_answer(&self, body: &[u8]) -> Option<Vec<u8>> {
        self.inner
            .lock()
            .ok()
            .and_then(|i| i.first_answers.get(body).cloned())
    }

    /// Remembers the first answer given to this `validate` body.
    pub(crate) fn remember_answer(&self, body: Vec<u8>, answer: &[u8]) {
        if let Ok(mut i) = self.inner.lock()
            && i.first_answers.len() < MAX_REMEMBERED
        {
            i.first_answers
                .entry(body)
                .or_insert_with(|| answer.to_vec());
        }
    }

    /// Whether this node is cut off.
    pub(crate) fn partitioned(&self) -> bool {
        self.inner.lock().is_ok_and(|i| i.faults.partition)
    }
}

/// Checks a request before anything happens.
pub(crate) fn check(req: &FaultRequest) -> Result<(), AppError> {
    let f = &req.faults;
    if req.for_ms.is_some_and(|ms| ms == 0 || ms > MAX_FAULT_MS) {
        return Err(AppError::invalid(format!(
            "for_ms: between 1 and {MAX_FAULT_MS}"
        )));
    }
    if f.partition && req.for_ms.is_none() {
        return Err(AppError::invalid(
            "partition needs for_ms: a cut-off node cannot be reached to clear it",
        ));
    }
    if f.hang_validate_ms > MAX_HANG_MS {
        return Err(AppError::invalid(format!(
            "hang_validate_ms: at most {MAX_HANG_MS}"
        )));
    }
    if f.clock_offset_s.unsigned_abs() > 10 * 365 * 86_400 {
        return Err(AppError::invalid("clock_offset_s: at most ten years"));
    }
    if req.age_signing_key_s > 10 * 365 * 86_400 {
        return Err(AppError::invalid("age_signing_key_s: at most ten years"));
    }
    Ok(())
}

/// Puts a fault set in force and starts the timer that clears it.
pub(crate) async fn apply(
    store: &Store,
    injector: &FaultInjector,
    req: FaultRequest,
) -> Result<(), AppError> {
    let lock_wanted = req.faults.store_locked;
    let had_lock = injector.inner.lock().is_ok_and(|i| i.lock.is_some());
    if !lock_wanted {
        release_lock(injector);
    }
    if lock_wanted && !had_lock {
        let release = lock_store(store.clone()).await?;
        if let Ok(mut i) = injector.inner.lock() {
            i.lock = Some(release);
        }
    }
    install(injector, req.faults, req.for_ms)
}

/// Puts `faults` in force (the store lock already taken or released) and starts the timer
/// that clears them.
fn install(injector: &FaultInjector, faults: Faults, for_ms: Option<u64>) -> Result<(), AppError> {
    crate::clock::set_offset(faults.clock_offset_s);
    let now = crate::clock::now_ms();
    let generation = {
        let mut i = injector
            .inner
            .lock()
            .map_err(|_| AppError::internal("the fault state is poisoned"))?;
        i.generation = i.generation.wrapping_add(1);
        i.faults = faults;
        i.until_ms = for_ms.map(|ms| now.saturating_add(ms));
        if !i.faults.replay_answers && i.first_answers.len() >= MAX_REMEMBERED {
            i.first_answers.clear();
        }
        i.generation
    };
    if let Some(ms) = for_ms {
        let injector = injector.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let injector = &injector;
            let current = injector
                .inner
                .lock()
                .is_ok_and(|i| i.generation == generation);
            if current {
                release_lock(injector);
                let _ = install(injector, Faults::default(), None);
                tracing::info!("faults cleared (their time ran out)");
            }
        });
    }
    Ok(())
}

/// Releases the store lock, if this node holds one.
pub(crate) fn release_lock(injector: &FaultInjector) {
    let sender = injector.inner.lock().ok().and_then(|mut i| i.lock.take());
    if let Some(sender) = sender {
        let _ = sender.send(());
    }
}

/// Takes an exclusive lock on the database with a connection of its own, held until the
/// returned sender fires (or drops).
async fn lock_store(store: Store) -> Result<oneshot::Sender<()>, StoreError> {
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let (locked_tx, locked_rx) = oneshot::channel::<Result<(), StoreError>>();
    tokio::spawn(async move {
        let mut conn = match store.pool().acquire().await {
            Ok(c) => c,
            Err(e) => {
                let _ = locked_tx.send(Err(e.into()));
                return;
            }
        };
        let begin = match store.backend() {
            Backend::Sqlite => sqlx::query("BEGIN EXCLUSIVE").execute(&mut *conn).await,
            Backend::Postgres => {
                match sqlx::query("BEGIN").execute(&mut *conn).await {
                    Ok(_) => {
                        sqlx::query(
                            "LOCK TABLE licenses, audit_events, audit_head, nodes, incidents IN ACCESS EXCLUSIVE MODE",
                        )
                        .execute(&mut *conn)
                        .await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = begin {
            let _ = locked_tx.send(Err(e.into()));
            return;
        }
        let _ = locked_tx.send(Ok(()));
        let _ = release_rx.await;
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    });
    locked_rx
        .await
        .map_err(|_| StoreError::TaskEnded("the store lock task"))??;
    Ok(release_tx)
}

/// Moves the active key's `not_before` back by `secs`.
pub(crate) async fn age_active_key(store: &Store, secs: u64) -> Result<(), StoreError> {
    let by = i64::try_from(secs).unwrap_or(i64::MAX);
    sqlx::query("UPDATE signing_keys SET not_before = not_before - $1 WHERE status = 'active'")
        .bind(by)
        .execute(store.pool())
        .await?;
    Ok(())
}
