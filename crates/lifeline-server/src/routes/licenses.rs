//! `/api/v1/licenses`: issue (idempotent), list and search, get, revoke, extend.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use lifeline_api::{
    BulkIssue, BulkIssued, ExtendLicense, IssueLicense, License, LicensePage, RevokeLicense, Role,
};
use serde_json::json;

use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::body::JsonBody;
use crate::ids::PathId;
use crate::licenses::{self, ListQuery};
use crate::problem::AppError;

pub(crate) async fn issue(
    State(state): State<AppState>,
    Operator(caller): Operator,
    headers: HeaderMap,
    JsonBody(req): JsonBody<IssueLicense>,
) -> Result<(StatusCode, Json<License>), AppError> {
    let now = crate::clock::now();
    let key = idempotency_key(&headers)?;
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
    let license = licenses::issue_in(
        &mut w,
        &ring,
        &state.status_list_uri(),
        &caller.actor(),
        &req,
        now,
        key.as_deref(),
    )
    .await?;
    w.commit().await?;
    state.store_figures_changed();
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
    PathId(id): PathId,
) -> Result<Json<License>, AppError> {
    caller.require(Role::Viewer)?;
    licenses::get(state.store(), &id, crate::clock::now())
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no license {id:?}")))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Operator(caller): Operator,
    PathId(id): PathId,
    JsonBody(req): JsonBody<RevokeLicense>,
) -> Result<Json<License>, AppError> {
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
    state.hot().invalidate_revocations();
    state.store_figures_changed();
    Ok(Json(license))
}

/// Re-signs a license with a later expiry (operator).
pub(crate) async fn extend(
    State(state): State<AppState>,
    Operator(caller): Operator,
    PathId(id): PathId,
    JsonBody(req): JsonBody<ExtendLicense>,
) -> Result<Json<License>, AppError> {
    if req.reason.trim().is_empty() || req.reason.len() > 1024 {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reason",
            "reason must be 1 to 1024 characters",
        ));
    }
    // Fresh keys: sign with the key that is active now, and know every key that signed.
    let ring = state.reload_keys().await?;
    let license = licenses::extend(
        state.store(),
        &ring,
        &caller.actor(),
        &id,
        req.expires_at,
        &req.reason,
        crate::clock::now(),
    )
    .await?;
    state.hot().invalidate_versions();
    state.store_figures_changed();
    Ok(Json(license))
}

/// At most this many licenses per bulk request.
pub const MAX_BULK: usize = 10_000;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    match headers.get("idempotency-key") {
        Some(v) => Ok(Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 128)
                .ok_or_else(|| {
                    AppError::invalid("Idempotency-Key must be 1 to 128 visible ASCII characters")
                })?
                .to_owned(),
        )),
        None => Ok(None),
    }
}

/// Issues up to 10,000 licenses in one transaction: all or nothing. With an
/// `Idempotency-Key`, a retry of a committed batch returns that batch instead of issuing again.
pub(crate) async fn bulk(
    State(state): State<AppState>,
    Operator(caller): Operator,
    headers: HeaderMap,
    JsonBody(req): JsonBody<BulkIssue>,
) -> Result<(StatusCode, Json<BulkIssued>), AppError> {
    let n = req.licenses.len();
    if n == 0 || n > MAX_BULK {
        return Err(AppError::invalid(format!(
            "a bulk request holds 1 to {MAX_BULK} licenses, not {n}"
        )));
    }
    let now = crate::clock::now();
    let key = idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some((existing, hashes)) = licenses::by_bulk_key(state.store(), key, n, now).await?
    {
        let same = existing.len() == n
            && req
                .licenses
                .iter()
                .zip(&hashes)
                .all(|(r, h)| licenses::request_hash(r) == *h);
        if !same {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different batch",
            ));
        }
        return Ok((StatusCode::OK, Json(BulkIssued { licenses: existing })));
    }
    for (i, r) in req.licenses.iter().enumerate() {
        licenses::check_request(r, now).map_err(|e| e.about_item(&format!("licenses[{i}]")))?;
    }
    let ring = state.keys().await?;
    let reqs = req.licenses;
    let first_idx = licenses::allocate_status(state.store(), n).await?;
    let uri = state.status_list_uri();
    let (signed, reqs) = tokio::task::spawn_blocking(move || {
        (
            licenses::sign_many(&ring, &reqs, now, first_idx, &uri),
            reqs,
        )
    })
    .await
    .map_err(|e| AppError::internal(format!("the signing task failed: {e}")))?;
    let signed = signed?;
    let rows: Vec<licenses::NewRow<'_>> = signed
        .iter()
        .zip(&reqs)
        .enumerate()
        .map(|(i, (l, r))| licenses::NewRow {
            license: l,
            status_idx: Some(first_idx + u64::try_from(i).unwrap_or(u64::MAX)),
            idempotency_key: key.as_ref().map(|k| format!("{k}/{i}")),
            request_hash: key.as_ref().map(|_| licenses::request_hash(r)),
        })
        .collect();
    let mut w = state.store().write().await?;
    licenses::insert_rows(&mut w, &rows).await?;
    let ids: Vec<&str> = signed.iter().map(|l| l.id.as_str()).collect();
    let after = json!({ "count": n, "ids": ids, "kid": signed.first().map(|l| l.kid.clone()) });
    let subject = format!(
        "bulk:{}..{}",
        ids.first().unwrap_or(&""),
        ids.last().unwrap_or(&"")
    );
    w.audit(
        &caller.actor(),
        "license.bulk_issued",
        &subject,
        None,
        Some(&after),
    )
    .await?;
    w.commit().await?;
    state.store_figures_changed();
    Ok((StatusCode::CREATED, Json(BulkIssued { licenses: signed })))
}
