//! `GET /api/v1/overview`: licenses by state, what expires soon, seat utilisation, and this
//! node's validation traffic over the last hour.

use axum::Json;
use axum::extract::State;
use lifeline_api::{Overview, Role};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::AppError;

/// What "expiring soon" means: 30 days.
pub const EXPIRING_WINDOW_SECS: u64 = 30 * 86_400;
/// How many of the licenses expiring soon the overview lists.
const EXPIRING_LISTED: u32 = 10;

pub(crate) async fn overview(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Overview>, AppError> {
    caller.require(Role::Viewer)?;
    let now = crate::clock::now();
    let (mut licenses, expiring) =
        crate::licenses::census(state.store(), now, &[EXPIRING_WINDOW_SECS]).await?;
    let active = state.active_overrides().await?;
    let scopes = active.rescuing_scopes(lifeline_core::UnixTime::from_secs(now));
    licenses.overridden = crate::licenses::count_overridden(state.store(), now, &scopes).await?;
    let expiring_soon =
        crate::licenses::expiring_soon(state.store(), now, EXPIRING_WINDOW_SECS, EXPIRING_LISTED)
            .await?;
    let series = state.metrics().series();
    let edge = state.metrics().edge();
    let open_incidents = crate::incidents::count_unresolved(state.store()).await?;
    let seats = crate::seats::by_product(state.store(), now)
        .await?
        .into_iter()
        .map(|(product, in_use, sold)| lifeline_api::ProductSeats {
            product,
            in_use,
            sold,
        })
        .collect();
    let seats_nearly_full = crate::seats::nearly_full(state.store(), now, 10).await?;
    Ok(Json(Overview {
        now,
        licenses,
        expiring_window_s: EXPIRING_WINDOW_SECS,
        expiring_soon_total: expiring.first().copied().unwrap_or(0),
        expiring_soon,
        validation: series.minutes(now),
        failures_by_reason: series.reasons(now),
        edge: edge.minutes(now),
        edge_failures_by_reason: edge.reasons(now),
        services: edge.services(now),
        open_incidents,
        seats,
        seats_nearly_full,
    }))
}
