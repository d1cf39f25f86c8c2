//! `/api/v1/licenses`: issue (idempotent), list, get, revoke.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use lifeline_api::{IssueLicense, License, LicensePage, RevokeLicense, Role};

use crate::AppState;
use crate::auth::Caller;
use crate::licenses::{self, ListQuery};
use crate::problem::{AppError, JsonBody};

pub(crate) async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<IssueLicense>,
) -> Result<(StatusCode, Json<License>), AppError> {
    caller.require(Role::Operator)?;
    let now = crate::clock::now();
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 128)
                .ok_or_else(|| {
                    AppError::invalid("Idempotency-Key must be 1 to 128 visible ASCII characters")
                })?
                .to_owned(),
        ),
        None => None,
    };
    if let Some(key) = &key
        && let Some((existing, hash)) =
            licenses::by_idempotency_key(state.store(), key, now).await?
    {
        if hash != licenses::request_hash(&req) {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
        return Ok((StatusCode::OK, Json(existing)));
    }
    licenses::check_request(&req, now)?;
    let ring = state.keys().await?;
    let mut w = state.store().write().await?;
    let license =
        licenses::issue_in(&mut w, &ring, &caller.actor(), &req, now, key.as_deref()).await?;
    w.commit().await?;
    Ok((StatusCode::CREATED, Json(license)))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LicensePage>, AppError> {
    caller.require(Role::Viewer)?;
    let Query(q) = query.map_err(|e| AppError::invalid(e.body_text()))?;
    let (items, next_cursor) = licenses::list(state.store(), &q, crate::clock::now()).await?;
    Ok(Json(LicensePage { items, next_cursor }))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<License>, AppError> {
    caller.require(Role::Viewer)?;
    licenses::get(state.store(), &id, crate::clock::now())
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no license {id:?}")))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RevokeLicense>,
) -> Result<Json<License>, AppError> {
    caller.require(Role::Operator)?;
    if req.reason.trim().is_empty() || req.reason.len() > 1024 {
        return Err(AppError::invalid("reason must be 1 to 1024 characters"));
    }
    let license = licenses::revoke(
        state.store(),
        &caller.actor(),
        &id,
        &req.reason,
        crate::clock::now(),
    )
    .await?;
    Ok(Json(license))
}
