//! `/api/v1/webhooks` (admin): create (the secret is shown once), list (never the secrets),
//! delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lifeline_api::{CreateWebhook, Role, Webhook, WebhookCreated};

use crate::AppState;
use crate::auth::{Admin, Caller};
use crate::body::JsonBody;
use crate::ids::PathId;
use crate::problem::AppError;

/// `POST /api/v1/webhooks`: 201.
pub(crate) async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    JsonBody(req): JsonBody<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookCreated>), AppError> {
    let allow_private = state.delivery().allow_private;
    let created = crate::webhooks::create(
        state.store(),
        &caller.actor(),
        &req,
        allow_private,
        crate::clock::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/webhooks`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Webhook>>, AppError> {
    caller.require(Role::Admin)?;
    Ok(Json(crate::webhooks::list(state.store()).await?))
}

/// `DELETE /api/v1/webhooks/{id}`: 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<StatusCode, AppError> {
    caller.require(Role::Admin)?;
    crate::webhooks::delete(state.store(), &caller.actor(), &id, crate::clock::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
