//! `/api/v1/incidents` (list and read: viewer; acknowledge and notes: operator) and
//! `GET /api/v1/nodes` (viewer).

use axum::Json;
use axum::extract::{Query, State};
use lifeline_api::{Incident, IncidentDetail, IncidentNote, IncidentStatus, NodeInfo, Role};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::body::JsonBody;
use crate::ids::PathId;
use crate::incidents;
use crate::problem::AppError;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only incidents in this status.
    status: Option<IncidentStatus>,
    /// Only incidents of this rule.
    rule: Option<String>,
    /// Opened at or after (unix seconds).
    since: Option<u64>,
    /// At most this many, 1–500 (default 100).
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
}

/// `GET /api/v1/incidents?status=&rule=&since=&limit=`: newest first (`since`: opened at or
/// after, unix seconds).
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Incident>>, AppError> {
    caller.require(Role::Viewer)?;
    let Query(q) = query.map_err(|e| AppError::invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("limit must be 1 to 500"));
    }
    let filter = incidents::ListFilter {
        status: q.status,
        rule: q.rule,
        since: q.since,
    };
    Ok(Json(incidents::list(state.store(), &filter, limit).await?))
}

/// `GET /api/v1/incidents/{id}`: with its timeline.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<IncidentDetail>, AppError> {
    caller.require(Role::Viewer)?;
    detail(&state, &id).await
}

async fn detail(state: &AppState, id: &str) -> Result<Json<IncidentDetail>, AppError> {
    incidents::get(state.store(), id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no incident {id:?}")))
}

/// `POST /api/v1/incidents/{id}/acknowledge` (operator).
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<IncidentDetail>, AppError> {
    caller.require(Role::Operator)?;
    incidents::acknowledge(state.store(), &caller.actor(), &id, crate::clock::now()).await?;
    detail(&state, &id).await
}

/// `POST /api/v1/incidents/{id}/notes` `{text}` (operator).
pub(crate) async fn note(
    State(state): State<AppState>,
    Operator(caller): Operator,
    PathId(id): PathId,
    JsonBody(req): JsonBody<IncidentNote>,
) -> Result<Json<IncidentDetail>, AppError> {
    incidents::note(
        state.store(),
        &caller.actor(),
        &id,
        &req.text,
        crate::clock::now(),
    )
    .await?;
    detail(&state, &id).await
}

/// `POST /api/v1/incidents/{id}/resolve` `{text}` (operator): resolved, saying why.
pub(crate) async fn resolve(
    State(state): State<AppState>,
    Operator(caller): Operator,
    PathId(id): PathId,
    JsonBody(req): JsonBody<IncidentNote>,
) -> Result<Json<IncidentDetail>, AppError> {
    incidents::resolve_by_operator(
        state.store(),
        &caller.actor(),
        &id,
        &req.text,
        crate::clock::now(),
    )
    .await?;
    detail(&state, &id).await
}

/// `GET /api/v1/nodes`: the nodes sharing the store, with their heartbeats.
pub(crate) async fn nodes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<NodeInfo>>, AppError> {
    caller.require(Role::Viewer)?;
    let unreachable_after = state.rules().node_unreachable_after_s;
    Ok(Json(
        crate::nodes::list(state.store(), crate::clock::now(), unreachable_after).await?,
    ))
}
