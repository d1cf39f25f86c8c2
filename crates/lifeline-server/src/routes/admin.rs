//! Products, keys, API tokens (and the caller's own session) and the audit log.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use lifeline_api::{
    ApiTokenCreated, AuditIntegrity, AuditPage, CompromiseKey, CompromiseLine, CreateApiToken,
    CreateProduct, Product, Role, SessionInfo, SigningKeyInfo,
};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use crate::auth::{Admin, Caller};
use crate::body::JsonBody;
use crate::ids::PathId;
use crate::problem::AppError;
use crate::store::{AuditFilter, StoreError};
use crate::{AppState, audit};

pub(crate) async fn create_product(
    State(state): State<AppState>,
    Admin(caller): Admin,
    JsonBody(req): JsonBody<CreateProduct>,
) -> Result<(StatusCode, Json<Product>), AppError> {
    let id_ok = !req.id.is_empty()
        && req.id.len() <= 64
        && req
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !id_ok {
        return Err(AppError::invalid(
            "product id must be 1 to 64 of a-z, 0-9, '.', '_', '-'",
        ));
    }
    if req.name.trim().is_empty() || req.name.len() > 256 {
        return Err(AppError::invalid("name must be 1 to 256 characters"));
    }
    let now = crate::clock::now();
    let mut w = state.store().write().await?;
    let exists = sqlx::query("SELECT id FROM products WHERE id = $1")
        .bind(&req.id)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(StoreError::from)?;
    if exists.is_some() {
        return Err(AppError::conflict(format!("product {:?} exists", req.id)));
    }
    sqlx::query("INSERT INTO products (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&req.id)
        .bind(&req.name)
        .bind(i64::try_from(now).unwrap_or(i64::MAX))
        .execute(&mut *w.tx)
        .await
        .map_err(StoreError::from)?;
    let product = Product {
        id: req.id,
        name: req.name,
        created_at: now,
    };
    w.audit(
        &caller.actor(),
        "product.created",
        &product.id,
        None,
        Some(&json!(product)),
    )
    .await?;
    w.commit().await?;
    Ok((StatusCode::CREATED, Json(product)))
}

pub(crate) async fn list_products(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Product>>, AppError> {
    caller.require(Role::Viewer)?;
    let rows = sqlx::query("SELECT id, name, created_at FROM products ORDER BY id")
        .fetch_all(state.store().pool())
        .await
        .map_err(StoreError::from)?;
    let products = rows
        .iter()
        .map(|r| {
            Ok(Product {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: u64::try_from(r.try_get::<i64, _>("created_at")?).unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::from)?;
    Ok(Json(products))
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SigningKeyInfo>>, AppError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.keys().await?.infos.clone()))
}

pub(crate) async fn rotate_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SigningKeyInfo>>, AppError> {
    caller.require(Role::Admin)?;
    crate::keys::rotate(state.store(), &caller.actor()).await?;
    Ok(Json(state.reload_keys().await?.infos.clone()))
}

/// `POST /api/v1/keys/{kid}/compromise` (admin): checked first (422, 404, 409 as plain
/// problems), then run on its own task — a client that goes away does not stop it halfway —
/// while the answer streams its progress as NDJSON lines.
pub(crate) async fn compromise_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    PathId(kid): PathId,
    JsonBody(req): JsonBody<CompromiseKey>,
) -> Result<axum::response::Response, AppError> {
    crate::compromise::check(&req)?;
    crate::compromise::preflight(&state, &kid).await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<CompromiseLine>();
    let actor = caller.actor();
    tokio::spawn(async move {
        let progress = tx.clone();
        let result = crate::compromise::compromise(&state, &actor, &kid, &req, |done, total| {
            let _ = progress.send(CompromiseLine::Progress { done, total });
        })
        .await;
        let last = match result {
            Ok(report) => CompromiseLine::Done(report),
            Err(e) => {
                tracing::error!(
                    kid,
                    code = e.code(),
                    detail = e.detail(),
                    "key compromise stopped"
                );
                CompromiseLine::Failed {
                    code: e.code().to_owned(),
                    detail: e.detail().to_owned(),
                }
            }
        };
        let _ = tx.send(last);
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::new(crate::json_lines::JsonLines::new(rx)),
    )
        .into_response())
}

pub(crate) async fn create_token(
    State(state): State<AppState>,
    Admin(caller): Admin,
    JsonBody(req): JsonBody<CreateApiToken>,
) -> Result<(StatusCode, Json<ApiTokenCreated>), AppError> {
    lifeline_api::bounds::check_text("name", &req.name, 128)?;
    if let Some(at) = req.expires_at {
        // An API token that is already expired (or lasts past any license) is a mistake.
        lifeline_api::bounds::check_expiry("expires_at", at, crate::clock::now())?;
    }
    if let Some(principal) = &req.principal {
        lifeline_api::bounds::check_text("principal", principal, 128)?;
    }
    let created = crate::auth::mint_token(
        state.store(),
        &caller,
        &req.name,
        req.role,
        req.expires_at,
        req.principal.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/session`: who the bearer token is. Any role.
pub(crate) async fn session(caller: Caller) -> Result<Json<SessionInfo>, AppError> {
    caller.require(Role::Viewer)?;
    Ok(Json(SessionInfo {
        token_id: caller.id,
        name: caller.name,
        role: caller.role,
        expires_at: caller.expires_at,
        principal: caller.principal,
    }))
}

/// Order of an audit page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Order {
    /// Oldest first; page on with `after`.
    #[default]
    Asc,
    /// Newest first; page on with `before`.
    Desc,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Only events with `seq` > `after` (ascending pages: pass `next_after`).
    after: Option<u64>,
    /// Only events with `seq` < `before` (descending pages: pass `next_before`).
    before: Option<u64>,
    /// Only events on this subject (exact), e.g. a license id.
    #[schemars(length(max = 256))]
    subject: Option<String>,
    /// Only this action (exact), or every action with this prefix when it ends with `.`,
    /// e.g. `license.`.
    #[schemars(length(max = 256))]
    action: Option<String>,
    /// `asc`: oldest first (default); `desc`: newest first.
    #[serde(default)]
    order: Order,
    /// At most this many, 1–1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
}

/// The longest `subject` or `action` filter.
const MAX_FILTER_CHARS: usize = 256;

pub(crate) async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, AppError> {
    caller.require(Role::Viewer)?;
    let Query(q) = query.map_err(|e| AppError::invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid("limit must be 1 to 1000"));
    }
    for (name, value) in [("subject", &q.subject), ("action", &q.action)] {
        if value
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.chars().count() > MAX_FILTER_CHARS)
        {
            return Err(AppError::invalid(format!(
                "{name} must be 1 to {MAX_FILTER_CHARS} characters"
            )));
        }
    }
    let descending = q.order == Order::Desc;
    let filter = AuditFilter {
        after: q.after,
        before: q.before,
        subject: q.subject,
        action: q.action,
        descending,
    };
    let items = state.store().audit_events(&filter, limit).await?;
    // A full page may have more behind it; the cursor is the last seq in reading order.
    let last = (items.len() == limit as usize)
        .then(|| items.last().map(|e| e.seq))
        .flatten();
    let (next_after, next_before) = if descending {
        (None, last)
    } else {
        (last, None)
    };
    Ok(Json(AuditPage {
        items,
        next_after,
        next_before,
    }))
}

/// Walks the whole chain and says whether it is intact.
pub(crate) async fn audit_verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AuditIntegrity>, AppError> {
    caller.require(Role::Viewer)?;
    let (mut seq, mut hash) = (0, audit::GENESIS.to_owned());
    loop {
        let batch = state
            .store()
            .audit_events(&AuditFilter::after(seq), 1000)
            .await?;
        if batch.is_empty() {
            break;
        }
        match audit::verify_run(seq, &hash, &batch) {
            Ok((s, h)) => (seq, hash) = (s, h),
            Err(brk) => {
                return Ok(Json(AuditIntegrity {
                    intact: false,
                    events: seq,
                    head: None,
                    problem: Some(brk.to_string()),
                }));
            }
        }
    }
    Ok(Json(AuditIntegrity {
        intact: true,
        events: seq,
        head: Some(hash),
        problem: None,
    }))
}
