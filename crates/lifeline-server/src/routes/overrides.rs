//! `/api/v1/overrides`: create (operator), approve (admin, another token than the creator's),
//! revoke (operator), list and get (viewer), and the public signed bundle of the active ones.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use lifeline_api::{CreateOverride, OverrideRecord, OverrideStatus, RevokeOverride, Role};
use lifeline_core::UnixTime;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::body::JsonBody;
use crate::ids::PathId;
use crate::overrides::{self, OVERRIDE_BUNDLE_MEDIA_TYPE, OVERRIDE_BUNDLE_TTL_SECS};
use crate::problem::AppError;

/// After a change: this node applies and publishes it at once (other nodes within
/// `OVERRIDE_REFRESH`). The change is committed; a failed re-read only delays that.
async fn refresh(state: &AppState) {
    if let Err(e) = state.reload_overrides().await {
        tracing::warn!(error = %e, "re-reading the active overrides");
    }
}

/// `POST /api/v1/overrides`: 201 with an active override, or 202 with one pending approval
/// (it ends more than 72 hours ahead).
pub(crate) async fn create(
    State(state): State<AppState>,
    Operator(caller): Operator,
    JsonBody(req): JsonBody<CreateOverride>,
) -> Result<(StatusCode, Json<OverrideRecord>), AppError> {
    let now = crate::clock::now();
    overrides::check(&req, now)?;
    // Fresh keys: sign with the key that is active now (another node may have rotated).
    let ring = state.reload_keys().await?;
    let record = overrides::create(
        state.store(),
        &ring,
        state.override_issuer(),
        &caller,
        &req,
        now,
    )
    .await?;
    let status = if record.status == OverrideStatus::Active {
        refresh(&state).await;
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(record)))
}

/// `POST /api/v1/overrides/{id}/approve` (admin).
pub(crate) async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<OverrideRecord>, AppError> {
    caller.require(Role::Admin)?;
    let ring = state.reload_keys().await?;
    let record = overrides::approve(
        state.store(),
        &ring,
        state.override_issuer(),
        &caller,
        &id,
        crate::clock::now(),
    )
    .await?;
    refresh(&state).await;
    Ok(Json(record))
}

/// `POST /api/v1/overrides/{id}/revoke` (operator).
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Operator(caller): Operator,
    PathId(id): PathId,
    JsonBody(req): JsonBody<RevokeOverride>,
) -> Result<Json<OverrideRecord>, AppError> {
    let record = overrides::revoke(
        state.store(),
        &caller,
        &id,
        &req.reason,
        crate::clock::now(),
    )
    .await?;
    refresh(&state).await;
    Ok(Json(record))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only overrides in this status (default: all).
    status: Option<OverrideStatus>,
    /// At most this many, 1–500 (default 100).
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
}

/// `GET /api/v1/overrides?status=&limit=` (viewer): newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<OverrideRecord>>, AppError> {
    caller.require(Role::Viewer)?;
    let Query(q) = query.map_err(|e| AppError::invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("limit must be 1 to 500"));
    }
    let items = overrides::list(state.store(), q.status, limit, crate::clock::now()).await?;
    Ok(Json(items))
}

/// `GET /api/v1/overrides/{id}` (viewer).
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<OverrideRecord>, AppError> {
    caller.require(Role::Viewer)?;
    overrides::get(state.store(), &id, crate::clock::now())
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no override {id:?}")))
}

/// `GET /api/v1/overrides/bundle` (public, like the key set and the status list): the
/// active overrides as one token signed by the active key (`typ`
/// `lifeline-override-bundle+jwt`, fresh for [`OVERRIDE_BUNDLE_TTL_SECS`]), from this node's
/// cache of active overrides.
pub(crate) async fn bundle(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let active = state.active_overrides().await?;
    let ring = state.keys().await?;
    let now = crate::clock::now();
    let tokens = active.tokens(UnixTime::from_secs(now));
    let jwt = ring.active.sign_override_bundle(
        now,
        now.saturating_add(OVERRIDE_BUNDLE_TTL_SECS),
        &tokens,
    );
    Ok((
        [
            (header::CONTENT_TYPE, OVERRIDE_BUNDLE_MEDIA_TYPE),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        jwt,
    ))
}
