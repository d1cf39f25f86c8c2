//! Fault injection for drills: present only when the server runs with
//! `--danger-fault-injection` (the routes `GET`/`PUT /api/v1/faults` do not exist otherwise).
//! Admin only; every change is audited before it takes effect (after, when it ends a store
//! lock). Each fault is real where it can be: a partition drops connections at accept, a
//! locked store is an exclusive lock on the real database; a skewed clock skews the one clock
//! every part of this node reads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lifeline_api::{FaultRequest, FaultState, Faults};
use tokio::sync::oneshot;

use crate::AppState;
use crate::problem::AppError;
use crate::store::{Backend, Store, StoreError};

/// The longest a fault set may last by itself.
pub const MAX_FAULT_MS: u64 = 3_600_000;
/// `hang_validate_ms` at most (a client gives up long before).
const MAX_HANG_MS: u64 = 120_000;
/// Answers remembered for `replay_answers`.
const MAX_REMEMBERED: usize = 4096;
/// `validate` bodies read by the replay layer at most (the route's own limit is larger, but a
/// validate request is a token of a few KiB).
const MAX_VALIDATE_BODY: usize = 256 * 1024;

/// This node's simulated faults.
#[derive(Debug, Default)]
pub(crate) struct FaultInjector {
    inner: Mutex<Inner>,
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

    fn state(&self) -> FaultState {
        self.inner
            .lock()
            .map(|i| FaultState {
                faults: i.faults.clone(),
                until_ms: i.until_ms,
            })
            .unwrap_or_default()
    }

    /// Whether this node is cut off.
    pub(crate) fn partitioned(&self) -> bool {
        self.inner.lock().is_ok_and(|i| i.faults.partition)
    }
}

/// Checks a request before anything happens.
fn check(req: &FaultRequest) -> Result<(), AppError> {
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

/// `GET /api/v1/faults`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
) -> Result<axum::Json<FaultState>, AppError> {
    caller.require(lifeline_api::Role::Admin)?;
    Ok(axum::Json(state.faults()?.state()))
}

/// `PUT /api/v1/faults`: replaces the fault set (audited as `fault.injected`).
pub(crate) async fn put(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    crate::problem::JsonBody(req): crate::problem::JsonBody<FaultRequest>,
) -> Result<axum::Json<FaultState>, AppError> {
    check(&req)?;
    let injector = state.faults()?;
    let before = injector.state();
    let after = serde_json::to_value(&req).unwrap_or_default();
    let before_json = serde_json::to_value(&before).unwrap_or_default();
    let releasing_lock = before.faults.store_locked && !req.faults.store_locked;
    if releasing_lock {
        // The audit row needs the store: release first.
        release_lock(injector);
    }
    let mut w = state.store().write().await?;
    w.audit(
        &caller.actor(),
        "fault.injected",
        state.node_id(),
        Some(&before_json),
        Some(&after),
    )
    .await?;
    w.commit().await?;
    if req.age_signing_key_s > 0 {
        age_active_key(state.store(), req.age_signing_key_s).await?;
        state.reload_keys().await?;
    }
    apply(&state, req).await?;
    Ok(axum::Json(injector.state()))
}

/// Puts a fault set in force and starts the timer that clears it.
async fn apply(state: &AppState, req: FaultRequest) -> Result<(), AppError> {
    let injector = state.faults()?;
    let lock_wanted = req.faults.store_locked;
    let had_lock = injector.inner.lock().is_ok_and(|i| i.lock.is_some());
    if !lock_wanted {
        release_lock(injector);
    }
    if lock_wanted && !had_lock {
        let release = lock_store(state.store().clone()).await?;
        if let Ok(mut i) = injector.inner.lock() {
            i.lock = Some(release);
        }
    }
    install(state, injector, req.faults, req.for_ms)
}

/// Puts `faults` in force (the store lock already taken or released) and starts the timer
/// that clears them.
fn install(
    state: &AppState,
    injector: &FaultInjector,
    faults: Faults,
    for_ms: Option<u64>,
) -> Result<(), AppError> {
    crate::clock::set_offset(faults.clock_offset_s);
    let now = crate::clock::now_ms();
    let generation = {
        let mut i = injector.inner.lock().map_err(|_| {
            AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the fault state is poisoned",
            )
        })?;
        i.generation = i.generation.wrapping_add(1);
        i.faults = faults;
        i.until_ms = for_ms.map(|ms| now.saturating_add(ms));
        if !i.faults.replay_answers && i.first_answers.len() >= MAX_REMEMBERED {
            i.first_answers.clear();
        }
        i.generation
    };
    if let Some(ms) = for_ms {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let Ok(injector) = state.faults() else { return };
            let current = injector
                .inner
                .lock()
                .is_ok_and(|i| i.generation == generation);
            if current {
                release_lock(injector);
                let _ = install(&state, injector, Faults::default(), None);
                eprintln!("lifeline-server: faults cleared (their time ran out)");
            }
        });
    }
    Ok(())
}

fn release_lock(injector: &FaultInjector) {
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
        .map_err(|_| StoreError("the store lock task ended".into()))??;
    Ok(release_tx)
}

/// Moves the active key's `not_before` back by `secs`.
async fn age_active_key(store: &Store, secs: u64) -> Result<(), StoreError> {
    let by = i64::try_from(secs).unwrap_or(i64::MAX);
    sqlx::query("UPDATE signing_keys SET not_before = not_before - $1 WHERE status = 'active'")
        .bind(by)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The `validate` route's fault layer: replays the first answer given to the same request;
/// otherwise passes the request on (remembering its answer). A hang is injected inside the
/// handler (`AppState::injected_validate_delay`), where its latency is measured.
pub(crate) async fn validate_layer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(injector) = state.faults() else {
        return next.run(request).await;
    };
    let faults = injector.current();
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_VALIDATE_BODY).await else {
        return AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is too large",
        )
        .into_response();
    };
    let key = bytes.to_vec();
    if faults.replay_answers {
        let old = injector
            .inner
            .lock()
            .ok()
            .and_then(|i| i.first_answers.get(&key).cloned());
        if let Some(old) = old {
            return (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                old,
            )
                .into_response();
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(answer) = axum::body::to_bytes(body, MAX_VALIDATE_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(mut i) = injector.inner.lock()
        && i.first_answers.len() < MAX_REMEMBERED
    {
        i.first_answers
            .entry(key)
            .or_insert_with(|| answer.to_vec());
    }
    Response::from_parts(parts, Body::from(answer))
}
