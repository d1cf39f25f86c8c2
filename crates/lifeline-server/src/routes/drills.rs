//! `/api/v1/drills`: drill reports. `lifeline drill run NAME --report-to URL` stores one
//! (admin: a report is evidence, so not anyone may write it); the console's Drills page lists
//! them (viewer).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use lifeline_api::{DrillReport, Role, StoredDrillReport};
use serde::Deserialize;
use sqlx::Row;

use crate::AppState;
use crate::auth::{Admin, Caller};
use crate::body::JsonBody;
use crate::ids::PathId;
use crate::problem::AppError;
use crate::store::StoreError;

/// Reports listed at most.
const MAX_LISTED: i64 = 200;

/// `POST /api/v1/drills`: 201 with the stored report.
pub(crate) async fn store(
    State(state): State<AppState>,
    Admin(caller): Admin,
    JsonBody(report): JsonBody<DrillReport>,
) -> Result<(StatusCode, Json<StoredDrillReport>), AppError> {
    let stored = insert_report(&state, &caller.actor(), report).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Checks and stores a report (audited `drill.reported`), received from `actor`.
pub(crate) async fn insert_report(
    state: &AppState,
    actor: &str,
    report: DrillReport,
) -> Result<StoredDrillReport, AppError> {
    check(&report)?;
    let id = crate::ids::new_id()?;
    let now = crate::clock::now();
    let json = serde_json::to_string(&report).map_err(AppError::internal)?;
    let mut w = state.store().write().await?;
    sqlx::query(
        "INSERT INTO drill_reports (id, name, passed, started_at, received_at, received_from, report) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&report.name)
    .bind(i64::from(report.passed))
    .bind(i64::try_from(report.started_at).unwrap_or(i64::MAX))
    .bind(i64::try_from(now).unwrap_or(i64::MAX))
    .bind(actor)
    .bind(&json)
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?;
    let summary = serde_json::json!({ "name": report.name, "passed": report.passed });
    w.audit(actor, "drill.reported", &id, None, Some(&summary))
        .await?;
    w.commit().await?;
    Ok(StoredDrillReport {
        id,
        received_at: now,
        received_from: actor.to_owned(),
        report,
    })
}

fn check(report: &DrillReport) -> Result<(), AppError> {
    let kebab = !report.name.is_empty()
        && report.name.len() <= 64
        && report
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !kebab {
        return Err(AppError::invalid(
            "name: a drill name in kebab-case (a-z, 0-9, -), at most 64 characters",
        ));
    }
    if report.expectations.is_empty() {
        return Err(AppError::invalid(
            "expectations: a drill report states at least one expectation",
        ));
    }
    let met = report.expectations.iter().all(|e| e.met);
    if met != report.passed {
        return Err(AppError::invalid(
            "passed: must be true exactly when every expectation was met",
        ));
    }
    Ok(())
}

/// `GET /api/v1/drills` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only this drill.
    name: Option<String>,
    /// At most this many, newest first (50; at most 200).
    #[schemars(range(min = 1, max = 200))]
    limit: Option<i64>,
}

/// `GET /api/v1/drills`: newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<StoredDrillReport>>, AppError> {
    caller.require(Role::Viewer)?;
    // A query that does not parse is a problem like every other refusal (not text/plain).
    let Query(q) = query.map_err(|e| AppError::invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_LISTED).contains(&limit) {
        return Err(AppError::invalid(format!(
            "limit: between 1 and {MAX_LISTED}"
        )));
    }
    let rows = sqlx::query(
        "SELECT id, received_at, received_from, report FROM drill_reports \
         WHERE ($1 IS NULL OR name = $1) ORDER BY received_at DESC, id DESC LIMIT $2",
    )
    .bind(q.name)
    .bind(limit)
    .fetch_all(state.store().pool())
    .await
    .map_err(StoreError::from)?;
    Ok(Json(rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// `GET /api/v1/drills/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<StoredDrillReport>, AppError> {
    caller.require(Role::Viewer)?;
    let row = sqlx::query(
        "SELECT id, received_at, received_from, report FROM drill_reports WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(state.store().pool())
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::not_found(format!("no drill report {id:?}")))?;
    Ok(Json(from_row(&row)?))
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredDrillReport, StoreError> {
    let report: String = row.try_get("report")?;
    let received_at: i64 = row.try_get("received_at")?;
    Ok(StoredDrillReport {
        id: row.try_get("id")?,
        received_at: u64::try_from(received_at).unwrap_or(0),
        received_from: row.try_get("received_from")?,
        report: serde_json::from_str(&report)
            .map_err(|e| StoreError::corrupt("a stored drill report", e))?,
    })
}
