//! `GET`/`PUT /api/v1/faults` (admin, audited) and the `validate` route's fault layer: the
//! routes of fault injection, which exist only with `--danger-fault-injection`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lifeline_api::{FaultRequest, FaultState, Role};

use crate::AppState;
use crate::auth::{Admin, Caller};
use crate::body::JsonBody;
use crate::faults::{self, FaultInjector};
use crate::problem::AppError;

/// `validate` bodies read by the replay layer at most (the route's own limit is larger, but a
/// validate request is a token of a few KiB).
const MAX_VALIDATE_BODY: usize = 256 * 1024;

/// The fault injector (a 404 when fault injection is off).
fn injector(state: &AppState) -> Result<&FaultInjector, AppError> {
    state.faults().ok_or_else(|| {
        AppError::not_found("fault injection is off (lifeline serve --danger-fault-injection)")
    })
}

/// `GET /api/v1/faults`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<FaultState>, AppError> {
    caller.require(Role::Admin)?;
    Ok(axum::Json(injector(&state)?.state()))
}

/// `PUT /api/v1/faults`: replaces the fault set (audited as `fault.injected`).
pub(crate) async fn put(
    State(state): State<AppState>,
    Admin(caller): Admin,
    JsonBody(req): JsonBody<FaultRequest>,
) -> Result<axum::Json<FaultState>, AppError> {
    faults::check(&req)?;
    let injector = injector(&state)?;
    let before = injector.state();
    let after = serde_json::to_value(&req).unwrap_or_default();
    let before_json = serde_json::to_value(&before).unwrap_or_default();
    let releasing_lock = before.faults.store_locked && !req.faults.store_locked;
    if releasing_lock {
        // The audit row needs the store: release first.
        faults::release_lock(injector);
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
        faults::age_active_key(state.store(), req.age_signing_key_s).await?;
        state.reload_keys().await?;
    }
    faults::apply(state.store(), injector, req).await?;
    Ok(axum::Json(injector.state()))
}

/// The `validate` route's fault layer: replays the first answer given to the same request;
/// otherwise passes the request on (remembering its answer). A hang is injected inside the
/// handler (`AppState::injected_validate_delay`), where its latency is measured.
pub(crate) async fn validate_layer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(injector) = state.faults() else {
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
    if faults.replay_answers
        && let Some(old) = injector.first_answer(&key)
    {
        return (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            old,
        )
            .into_response();
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
    injector.remember_answer(key, &answer);
    Response::from_parts(parts, Body::from(answer))
}
