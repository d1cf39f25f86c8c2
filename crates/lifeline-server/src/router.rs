//! The HTTP API's routes: which handler answers which path, and the layers around them.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::limits::{self, MAX_BODY_BYTES, MAX_BULK_BODY_BYTES};
use crate::problem::AppError;
use crate::routes::{
    admin, drills, faults, incidents, licenses, map, metrics, overrides, overview, public,
    telemetry, webhooks,
};
use crate::{AppState, console, request_id};

/// The HTTP API. Unknown routes answer 404 problem+json (`GET /`: a short HTML page saying
/// how to serve the console; see [`with_console`]).
pub fn app(state: AppState) -> Router {
    let mut validate = post(public::validate).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        public::validate_rate,
    ));
    let mut router = Router::new();
    if state.fault_injection() {
        validate = validate.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::validate_layer,
        ));
        router = router.route("/api/v1/faults", get(faults::get).put(faults::put));
    }
    router
        .route("/healthz", get(public::healthz))
        .route("/metrics", get(metrics::scrape))
        .route("/readyz", get(public::readyz))
        .route("/.well-known/lifeline/keys.json", get(public::keys))
        .route("/api/v1/openapi.json", get(public::openapi))
        .route("/api/v1/validate", validate)
        .route("/api/v1/status-list", get(public::status_list))
        .route(
            "/api/v1/telemetry",
            post(telemetry::report).layer(axum::middleware::from_fn_with_state(
                state.clone(),
                telemetry::telemetry_rate,
            )),
        )
        .route(
            "/api/v1/products",
            post(admin::create_product).get(admin::list_products),
        )
        .route(
            "/api/v1/licenses",
            post(licenses::issue).get(licenses::list),
        )
        .route(
            "/api/v1/licenses/bulk",
            post(licenses::bulk).layer(DefaultBodyLimit::max(MAX_BULK_BODY_BYTES)),
        )
        .route("/api/v1/licenses/{id}", get(licenses::get))
        .route("/api/v1/licenses/{id}/revoke", post(licenses::revoke))
        .route("/api/v1/licenses/{id}/extend", post(licenses::extend))
        .route(
            "/api/v1/overrides",
            post(overrides::create).get(overrides::list),
        )
        .route("/api/v1/overrides/bundle", get(overrides::bundle))
        .route("/api/v1/overrides/{id}", get(overrides::get))
        .route("/api/v1/overrides/{id}/approve", post(overrides::approve))
        .route("/api/v1/overrides/{id}/revoke", post(overrides::revoke))
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::get))
        .route(
            "/api/v1/incidents/{id}/acknowledge",
            post(incidents::acknowledge),
        )
        .route("/api/v1/incidents/{id}/notes", post(incidents::note))
        .route("/api/v1/nodes", get(incidents::nodes))
        .route("/api/v1/drills", post(drills::store).get(drills::list))
        .route("/api/v1/drills/{id}", get(drills::get))
        .route("/api/v1/map", get(map::map))
        .route(
            "/api/v1/webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/api/v1/webhooks/{id}",
            axum::routing::delete(webhooks::delete),
        )
        .route("/api/v1/session", get(admin::session))
        .route("/api/v1/overview", get(overview::overview))
        .route("/api/v1/keys", get(admin::list_keys))
        .route("/api/v1/keys/rotate", post(admin::rotate_keys))
        .route("/api/v1/tokens", post(admin::create_token))
        .route("/api/v1/audit", get(admin::audit_log))
        .route("/api/v1/audit/verify", get(admin::audit_verify))
        .fallback(console::not_served)
        .method_not_allowed_fallback(|| async {
            AppError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(limits::announced_body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_id::layer))
        .with_state(state)
}
