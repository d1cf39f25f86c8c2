//! `POST /api/v1/telemetry`: field verifiers' batched stats (any API token: give verifiers a
//! viewer token), checked strictly and aggregated in memory (`telemetry.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lifeline_api::{Role, TelemetryAccepted, TelemetryReport};

use crate::AppState;
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::problem::AppError;

/// Refuses a report beyond the caller's rate, before authentication and the body.
pub(crate) async fn telemetry_rate(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    match state
        .telemetry_limit()
        .take(crate::limits::client_ip(&parts))
    {
        Err(wait) => crate::limits::too_many(wait, "telemetry reports"),
        Ok(()) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
    }
}

/// 202 with how many verdicts were counted.
pub(crate) async fn report(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(report): JsonBody<TelemetryReport>,
) -> Result<(StatusCode, Json<TelemetryAccepted>), AppError> {
    caller.require(Role::Viewer)?;
    let now = crate::clock::now();
    crate::telemetry::check(&report, now)?;
    let counted = state.metrics().edge().record(&report, now)?;
    Ok((StatusCode::ACCEPTED, Json(TelemetryAccepted { counted })))
}
