//! The HTTP API's routes: which handler answers which path, its documentation (the served
//! OpenAPI document is generated from this list, see [`crate::openapi`]), and the layers
//! around them.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use lifeline_api::{self as api, Role};
use serde_json::{Map, Value};

use crate::limits::{self, MAX_BODY_BYTES, MAX_BULK_BODY_BYTES};
use crate::openapi::{Api, Doc};
use crate::problem::AppError;
use crate::routes::{
    admin, drill_runs, drills, faults, incidents, licenses, map, metrics, overrides, overview,
    public, seats, telemetry, webhooks,
};
use crate::{AppState, console, request_id};

/// A JSON object without a declared shape (health answers).
type Object = Map<String, Value>;

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const IDEMPOTENCY: &str = "Makes retries safe: a retry with the same key and body answers what the first issued; the same key with another body is 409";

/// The HTTP API. Unknown routes answer 404 problem+json (`GET /`: a short HTML page saying
/// how to serve the console; see [`crate::console::with_console`]).
pub fn app(state: AppState) -> Router {
    let mut api = Api::new();
    if state.fault_injection() {
        api = api
            .route(
                "/api/v1/faults",
                Doc::get("drills", "The faults this node simulates. Exists only when the server runs with --danger-fault-injection (404 otherwise).")
                    .role(Role::Admin)
                    .ok::<api::FaultState>(),
                faults::get,
            )
            .route(
                "/api/v1/faults",
                Doc::put("drills", "Replace the simulated faults (audited as fault.injected before they take effect). Exists only with --danger-fault-injection. Refusals: 400 (422 for a body that does not decode) when partition has no for_ms, for_ms outside 1..3600000, hang_validate_ms over 120000, offsets over ten years.")
                    .role(Role::Admin)
                    .body::<api::FaultRequest>()
                    .ok::<api::FaultState>(),
                faults::put,
            );
    }
    let validate_state = state.clone();
    let telemetry_state = state.clone();
    let seat_state = state.clone();
    let metrics_state = state.clone();
    let status_state = state.clone();
    let document = api.document();
    api.route(
            "/healthz",
            Doc::get("health", "Liveness").ok::<Object>(),
            public::healthz,
        )
        .route_layered(
            "/metrics",
            Doc::get("health", "Prometheus metrics (the store's figures at most 5 s old; rate limited per address)").ok_text("text/plain"),
            metrics::scrape,
            |scrape| {
                scrape.layer(axum::middleware::from_fn_with_state(
                    metrics_state,
                    public::public_rate,
                ))
            },
        )
        .route(
            "/readyz",
            Doc::get("health", "Readiness: the store answers").ok::<Object>(),
            public::readyz,
        )
        .route(
            "/.well-known/lifeline/keys.json",
            Doc::get("keys", "The public key set (JWKS)").ok_jwks(),
            public::keys,
        )
        .route(
            "/.well-known/lifeline/issued/{kid}",
            Doc::get("keys", "The issued list of compromised key `kid` (`lifeline-issued+jwt`: a 256-bit digest of every license token it signed, signed by an uncompromised key); 404 when the key has none").ok::<String>(),
            public::issued_list,
        )
        .route(
            "/api/v1/openapi.json",
            Doc::get("meta", "This document (generated from the router and the API's types)").ok::<Object>(),
            document,
        )
        .route_layered(
            "/api/v1/validate",
            Doc::post("validate", "Validate a license: the core's verdict, revocation, and a signed lease")
                .body::<api::ValidateRequest>()
                .ok::<api::ValidateResponse>(),
            public::validate,
            |validate| {
                let validate = if validate_state.fault_injection() {
                    validate.layer(axum::middleware::from_fn_with_state(
                        validate_state.clone(),
                        faults::validate_layer,
                    ))
                } else {
                    validate
                };
                validate.layer(axum::middleware::from_fn_with_state(
                    validate_state,
                    public::validate_rate,
                ))
            },
        )
        .route_layered(
            "/api/v1/status-list",
            Doc::get("validate", "Signed revocation status list (Token Status List, typ statuslist+jwt; rebuilt at most once a second; rate limited per address)")
                .ok_text("application/statuslist+jwt"),
            public::status_list,
            |list| {
                list.layer(axum::middleware::from_fn_with_state(
                    status_state,
                    public::public_rate,
                ))
            },
        )
        .route_layered(
            "/api/v1/telemetry",
            Doc::post("telemetry", "Report a field verifier's verdicts over a window (the shape of lifeline_core::VerifyStats; camelCase names, as verifier.stats() returns them, are accepted). Any API token (give verifiers a viewer token); rate limited per address. Counted in the minute received, aggregated per service in memory on the receiving node (the overview's edge figures, lifeline_edge_verdicts_total, the edge rules). Refusals are 422 with code invalid_name, invalid_window, unknown_state, invalid_reason, too_many_reasons, invalid_latency_bounds, inconsistent_counts or too_many_services (more than 256 services on this node).")
                .role(Role::Viewer)
                .body::<api::TelemetryReport>()
                .reply::<api::TelemetryAccepted>(202),
            telemetry::report,
            |report| {
                report.layer(axum::middleware::from_fn_with_state(
                    telemetry_state,
                    telemetry::telemetry_rate,
                ))
            },
        )
        .route(
            "/api/v1/products",
            Doc::post("products", "Create a product")
                .role(Role::Admin)
                .body::<api::CreateProduct>()
                .reply::<api::Product>(201),
            admin::create_product,
        )
        .route(
            "/api/v1/products",
            Doc::get("products", "List products").role(Role::Viewer).ok::<Vec<api::Product>>(),
            admin::list_products,
        )
        .route(
            "/api/v1/licenses",
            Doc::post("licenses", "Issue a license (Idempotency-Key header makes retries safe)")
                .role(Role::Operator)
                .header(IDEMPOTENCY_KEY, IDEMPOTENCY)
                .body::<api::IssueLicense>()
                .reply::<api::License>(201),
            licenses::issue,
        )
        .route(
            "/api/v1/licenses",
            Doc::get("licenses", "List licenses")
                .role(Role::Viewer)
                .query::<crate::licenses::ListQuery>()
                .ok::<api::LicensePage>(),
            licenses::list,
        )
        .route_layered(
            "/api/v1/licenses/bulk",
            Doc::post("licenses", "Issue up to 10,000 licenses in one transaction (all or nothing; Idempotency-Key makes retries safe)")
                .role(Role::Operator)
                .header(IDEMPOTENCY_KEY, IDEMPOTENCY)
                .body::<api::BulkIssue>()
                .reply::<api::BulkIssued>(201)
                .ok::<api::BulkIssued>(),
            licenses::bulk,
            |bulk| bulk.layer(DefaultBodyLimit::max(MAX_BULK_BODY_BYTES)),
        )
        .route(
            "/api/v1/licenses/{id}",
            Doc::get("licenses", "One license").role(Role::Viewer).ok::<api::License>(),
            licenses::get,
        )
        .route(
            "/api/v1/licenses/{id}/revoke",
            Doc::post("licenses", "Revoke a license")
                .role(Role::Operator)
                .body::<api::RevokeLicense>()
                .ok::<api::License>(),
            licenses::revoke,
        )
        .route(
            "/api/v1/licenses/{id}/extend",
            Doc::post("licenses", "Extend a license: re-signed with the active key, same id and claims, a later exp")
                .role(Role::Operator)
                .body::<api::ExtendLicense>()
                .ok::<api::License>(),
            licenses::extend,
        )
        .route_layered(
            "/api/v1/seats",
            Doc::post("seats", "Activate a seat: the machine's own when it has one (200), a free one (201), or a signed refusal (200, state refused: seats_exhausted, license_unusable, no_seats). The license token in the body is the credential; the answer carries the license's verdict and a seat lease (typ lifeline-seat+jwt) signed by this node. Rate limited per address like validate.")
                .body::<api::ActivateSeat>()
                .reply::<api::SeatAnswer>(201)
                .ok::<api::SeatAnswer>(),
            seats::activate,
            |activate| activate.layer(axum::middleware::from_fn_with_state(seat_state.clone(), seats::seat_rate)),
        )
        .route_layered(
            "/api/v1/seats/{id}/heartbeat",
            Doc::post("seats", "Renew a held seat's lease (before lease_expires_at). Refusals, signed: seat_expired (reclaimed: activate again), seat_released, fingerprint_mismatch, license_unusable.")
                .body::<api::SeatHolder>()
                .ok::<api::SeatAnswer>(),
            seats::heartbeat,
            |heartbeat| heartbeat.layer(axum::middleware::from_fn_with_state(seat_state.clone(), seats::seat_rate)),
        )
        .route_layered(
            "/api/v1/seats/{id}",
            Doc::delete("seats", "Release a seat (idempotent: 204 whether it was held or had already ended). It still counts for the license's linger_s. A seat of another machine: a signed fingerprint_mismatch refusal.")
                .body::<api::SeatHolder>()
                .no_content()
                .ok::<api::SeatAnswer>(),
            seats::release,
            |release| release.layer(axum::middleware::from_fn_with_state(seat_state.clone(), seats::seat_rate)),
        )
        .route_layered(
            "/api/v1/seats/{id}/borrow",
            Doc::post("seats", "Borrow a held seat for planned offline use until `until` (at most the license's borrow_max_s ahead, never past the license's end; else a signed borrow_not_allowed refusal). The seat lease then lasts until `until`.")
                .body::<api::BorrowSeat>()
                .ok::<api::SeatAnswer>(),
            seats::borrow,
            |borrow| borrow.layer(axum::middleware::from_fn_with_state(seat_state.clone(), seats::seat_rate)),
        )
        .route(
            "/api/v1/seats/{id}/revoke",
            Doc::post("seats", "Release a seat on its machine's behalf, with a reason (audited as seat.released). Already ended: 409.")
                .role(Role::Operator)
                .body::<api::ForceReleaseSeat>()
                .ok::<api::Seat>(),
            seats::revoke,
        )
        .route(
            "/api/v1/licenses/{id}/seats",
            Doc::get("seats", "A license's seats (live ones first, then the most recent; at most 1000) with its seat policy and the live count")
                .role(Role::Operator)
                .ok::<api::LicenseSeats>(),
            seats::list,
        )
        .route(
            "/api/v1/overrides",
            Doc::post("overrides", "Create a temporary override. Ending within 72 hours: signed at once with the active key (201, active). Later, up to 30 days: stored pending a second admin's approval (202, pending_approval). Refusals are 422 with code invalid_reason, invalid_incident, expiry_in_past, expiry_too_far, invalid_scope or invalid_effect.")
                .role(Role::Operator)
                .body::<api::CreateOverride>()
                .reply::<api::OverrideRecord>(201)
                .reply::<api::OverrideRecord>(202),
            overrides::create,
        )
        .route(
            "/api/v1/overrides",
            Doc::get("overrides", "List overrides, newest first")
                .role(Role::Viewer)
                .query::<overrides::ListQuery>()
                .ok::<Vec<api::OverrideRecord>>(),
            overrides::list,
        )
        .route(
            "/api/v1/overrides/bundle",
            Doc::get("overrides", "The active overrides as one signed token (typ lifeline-override-bundle+jwt, payload {iat, exp = iat + 300, overrides: [override token, ...]}); verify with the public keys (lifeline-core OverrideBundle::verify). Cache-Control: public, max-age=60. Each node serves its cache of active overrides (re-read every 5 s).")
                .ok_text("application/lifeline-override-bundle+jwt"),
            overrides::bundle,
        )
        .route(
            "/api/v1/overrides/{id}",
            Doc::get("overrides", "One override").role(Role::Viewer).ok::<api::OverrideRecord>(),
            overrides::get,
        )
        .route(
            "/api/v1/overrides/{id}/approve",
            Doc::post("overrides", "Approve a pending override: signed now (iat = approval time, approved_by in the token). The approving API token must not be the one that created it (403 same_person); an override that is not pending is a conflict (409).")
                .role(Role::Admin)
                .ok::<api::OverrideRecord>(),
            overrides::approve,
        )
        .route(
            "/api/v1/overrides/{id}/revoke",
            Doc::post("overrides", "Revoke a pending or active override (already revoked or expired: 409). The server stops applying and publishing it, but a token already handed out verifies offline until its exp: keep overrides short.")
                .role(Role::Operator)
                .body::<api::RevokeOverride>()
                .ok::<api::OverrideRecord>(),
            overrides::revoke,
        )
        .route(
            "/api/v1/incidents",
            Doc::get("incidents", "Incidents opened by the rules engine, newest first")
                .role(Role::Viewer)
                .query::<incidents::ListQuery>()
                .ok::<Vec<api::Incident>>(),
            incidents::list,
        )
        .route(
            "/api/v1/incidents/{id}",
            Doc::get("incidents", "One incident with its timeline")
                .role(Role::Viewer)
                .ok::<api::IncidentDetail>(),
            incidents::get,
        )
        .route(
            "/api/v1/incidents/{id}/acknowledge",
            Doc::post("incidents", "Acknowledge an open incident (acknowledged or resolved already: 409). It still resolves by itself when its condition clears.")
                .role(Role::Operator)
                .ok::<api::IncidentDetail>(),
            incidents::acknowledge,
        )
        .route(
            "/api/v1/incidents/{id}/resolve",
            Doc::post("incidents", "Resolve an incident, saying why (`text`, 1 to 4096 characters; resolved already: 409). The way an action's incident (key_compromised) ends; a rule's opens again if its condition still holds.")
                .role(Role::Operator)
                .body::<api::IncidentNote>()
                .ok::<api::IncidentDetail>(),
            incidents::resolve,
        )
        .route(
            "/api/v1/incidents/{id}/notes",
            Doc::post("incidents", "Add a note to an incident's timeline (any status; 422 invalid_note unless 1 to 4096 characters)")
                .role(Role::Operator)
                .body::<api::IncidentNote>()
                .ok::<api::IncidentDetail>(),
            incidents::note,
        )
        .route(
            "/api/v1/nodes",
            Doc::get("incidents", "The server nodes sharing the store, with their heartbeats (a clean stop removes a node; a node silent for a day is forgotten)")
                .role(Role::Viewer)
                .ok::<Vec<api::NodeInfo>>(),
            incidents::nodes,
        )
        .route(
            "/api/v1/drills",
            Doc::post("drills", "Store a drill report (lifeline drill run NAME --report-to URL). Refusals: 400 when the name is not kebab-case, there is no expectation, or passed disagrees with the expectations.")
                .role(Role::Admin)
                .body::<api::DrillReport>()
                .reply::<api::StoredDrillReport>(201),
            drills::store,
        )
        .route(
            "/api/v1/drills",
            Doc::get("drills", "Drill reports, newest first")
                .role(Role::Viewer)
                .query::<drills::ListQuery>()
                .ok::<Vec<api::StoredDrillReport>>(),
            drills::list,
        )
        .route(
            "/api/v1/drills/{id}",
            Doc::get("drills", "One drill report").role(Role::Viewer).ok::<api::StoredDrillReport>(),
            drills::get,
        )
        .route(
            "/api/v1/drill-runs",
            Doc::post("drills", "Run a drill on this node now, as `lifeline drill run NAME` does (its own lab of nodes and verifiers); 202 with the run, which goes on in the background and stores its report when it ends. Refusals: 409 drill_running while a drill runs on this node (one at a time, never queued), 422 unknown_drill, 503 drills_unavailable when the server was not started by `lifeline serve`.")
                .role(Role::Operator)
                .body::<api::StartDrill>()
                .reply::<api::DrillRun>(202),
            drill_runs::start,
        )
        .route(
            "/api/v1/drill-runs",
            Doc::get("drills", "The drill runs started on this node, newest first (the last 20, kept in memory): status, steps so far, the report's id when done")
                .role(Role::Viewer)
                .ok::<Vec<api::DrillRun>>(),
            drill_runs::list,
        )
        .route(
            "/api/v1/drill-runs/{id}",
            Doc::get("drills", "One drill run on this node: its steps while it runs, its report's id when done").role(Role::Viewer).ok::<api::DrillRun>(),
            drill_runs::get,
        )
        .route(
            "/api/v1/map",
            Doc::get("incidents", "The dependency map: components (signing keys, the emergency override key, nodes, the store and its declared replica, status list, override bundle, webhook endpoints, verifier services learned from telemetry) with owner and health, \"depends on\" edges, single points of failure and each component's blast radius")
                .role(Role::Viewer)
                .ok::<api::DependencyMap>(),
            map::map,
        )
        .route(
            "/api/v1/webhooks",
            Doc::post("webhooks", "Add a webhook endpoint (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature v1 HMAC-SHA256). The signing secret is returned once. Refusals: 422 invalid_url (http or https only), invalid_events; 409 beyond 100 endpoints.")
                .role(Role::Admin)
                .body::<api::CreateWebhook>()
                .reply::<api::WebhookCreated>(201),
            webhooks::create,
        )
        .route(
            "/api/v1/webhooks",
            Doc::get("webhooks", "The webhook endpoints (never their secrets)")
                .role(Role::Admin)
                .ok::<Vec<api::Webhook>>(),
            webhooks::list,
        )
        .route(
            "/api/v1/webhooks/{id}",
            Doc::delete("webhooks", "Delete a webhook endpoint: its undelivered messages are dropped")
                .role(Role::Admin)
                .no_content(),
            webhooks::delete,
        )
        .route(
            "/api/v1/session",
            Doc::get("tokens", "The caller's API token: id, name, role, expiry (any role; the console signs in with it)")
                .role(Role::Viewer)
                .ok::<api::SessionInfo>(),
            admin::session,
        )
        .route(
            "/api/v1/overview",
            Doc::get("meta", "Licenses by state, what expires within 30 days, and this node's validation traffic over the last hour")
                .role(Role::Viewer)
                .ok::<api::Overview>(),
            overview::overview,
        )
        .route(
            "/api/v1/keys",
            Doc::get("keys", "Signing keys (public parts)")
                .role(Role::Viewer)
                .ok::<Vec<api::SigningKeyInfo>>(),
            admin::list_keys,
        )
        .route(
            "/api/v1/keys/{kid}/compromise",
            Doc::post("keys", "The key leaked: rotate if it is active, re-sign every license it signed with the active key, publish its issued list and mark it compromised (in one transaction), audit, webhook key.compromised, open incident key_compromised. Answers application/x-ndjson: progress lines, then the result (kind done) or the error (kind failed). 404 no such key, 409 already_compromised, 422 invalid_field.")
                .role(Role::Admin)
                .body::<api::CompromiseKey>()
                .ok::<api::CompromiseLine>(),
            admin::compromise_key,
        )
        .route(
            "/api/v1/keys/rotate",
            Doc::post("keys", "Rotate: a new active key; the old one keeps verifying")
                .role(Role::Admin)
                .ok::<Vec<api::SigningKeyInfo>>(),
            admin::rotate_keys,
        )
        .route(
            "/api/v1/tokens",
            Doc::post("tokens", "Create an API token (secret shown once)")
                .role(Role::Admin)
                .body::<api::CreateApiToken>()
                .reply::<api::ApiTokenCreated>(201),
            admin::create_token,
        )
        .route(
            "/api/v1/audit",
            Doc::get("audit", "The audit log")
                .role(Role::Viewer)
                .query::<admin::AuditQuery>()
                .ok::<api::AuditPage>(),
            admin::audit_log,
        )
        .route(
            "/api/v1/audit/verify",
            Doc::get("audit", "Check the audit hash chain")
                .role(Role::Viewer)
                .ok::<api::AuditIntegrity>(),
            admin::audit_verify,
        )
        .finish()
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
