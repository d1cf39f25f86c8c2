//! The HTTP API over real stores, driven through the router (`oneshot`): every test runs on
//! a SQLite file and, when `LIFELINE_TEST_PG` names a PostgreSQL server (`make test` starts
//! one), on a fresh PostgreSQL database too (those are `#[ignore]`d otherwise).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use lifeline_core::KeySet;
use lifeline_server::{AppState, Limits, Rate, Store, app, bootstrap_admin, create_token};
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) struct Server {
    pub(crate) router: Router,
    pub(crate) admin: String,
    pub(crate) state: AppState,
    pub(crate) url: String,
    pub(crate) _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

/// A fresh, empty database URL for one test.
pub(crate) async fn fresh_db(db: Db, dir: &std::path::Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("test.db").display()),
        Db::Postgres => {
            let base = std::env::var("LIFELINE_TEST_PG")
                .expect("LIFELINE_TEST_PG names a PostgreSQL server (make test sets it)");
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            let name = format!(
                "lifeline_{}",
                dir.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            );
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let (prefix, _) = base.rsplit_once('/').unwrap();
            format!("{prefix}/{name}")
        }
    }
}

pub(crate) async fn server(db: Db) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db(db, dir.path()).await;
    node(&url, dir).await
}

/// A server node over the store at `url` (several nodes may share one PostgreSQL database).
pub(crate) async fn node(url: &str, dir: tempfile::TempDir) -> Server {
    let store = Store::open(url).await.unwrap();
    let admin = match bootstrap_admin(&store, dir.path(), None).await.unwrap() {
        Some(token) => token,
        None => {
            create_token(
                &store,
                "test",
                "node admin",
                lifeline_api::Role::Admin,
                None,
            )
            .await
            .unwrap()
            .token
        }
    };
    // Generous limits: these tests make many failed attempts from one (unknown) address.
    let limits = Limits {
        validate: Rate {
            per_sec: 10_000.0,
            burst: 10_000.0,
        },
        auth_failures: Rate {
            per_sec: 10_000.0,
            burst: 10_000.0,
        },
        telemetry: Rate {
            per_sec: 10_000.0,
            burst: 10_000.0,
        },
        public: Rate {
            per_sec: 10_000.0,
            burst: 10_000.0,
        },
    };
    let state = AppState::with_limits(store, "http://lifeline.test", limits)
        .await
        .unwrap();
    // The tests' webhook receivers listen on 127.0.0.1 (`webhooks.rs` checks the refusal of
    // private targets on a state with the defaults).
    state.set_delivery(lifeline_server::DeliveryConfig {
        allow_private: true,
        ..lifeline_server::DeliveryConfig::default()
    });
    Server {
        router: app(state.clone()),
        admin,
        state,
        url: url.to_owned(),
        _dir: dir,
    }
}

impl Server {
    pub(crate) async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.raw(method, uri, token, body.map(|b| b.to_string()), &[])
            .await
    }

    pub(crate) async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let is_problem = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/problem+json");
        let lines = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/x-ndjson");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = if lines {
            // JSON lines: an array of them.
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
                .into()
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if !status.is_success() {
            assert!(
                is_problem,
                "{method} {uri}: errors are problem+json: {json}"
            );
            assert!(
                json["code"].is_string(),
                "{method} {uri}: problem has a code"
            );
            assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {uri}: 500"
            );
        }
        (status, json)
    }

    pub(crate) async fn admin(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(method, uri, Some(&self.admin), body).await
    }

    pub(crate) async fn product(&self, id: &str) {
        let (s, _) = self
            .admin(
                "POST",
                "/api/v1/products",
                Some(json!({"id": id, "name": id})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }

    pub(crate) async fn issue(&self, body: Value) -> Value {
        let (s, license) = self.admin("POST", "/api/v1/licenses", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{license}");
        license
    }

    /// `POST /api/v1/validate` for `token`: the response body (any status).
    pub(crate) async fn validate(&self, token: &Value) -> Value {
        self.call(
            "POST",
            "/api/v1/validate",
            None,
            Some(json!({ "token": token })),
        )
        .await
        .1
    }

    pub(crate) async fn jwks(&self) -> KeySet {
        let (s, jwks) = self
            .call("GET", "/.well-known/lifeline/keys.json", None, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap()
    }
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(crate) fn license_body(product: &str, licensee: &str) -> Value {
    json!({"product": product, "licensee": licensee, "entitlements": ["export"], "expires_at": now() + 86_400, "grace_s": 3600, "seats": 3, "metadata": {"order": "A-1"}})
}

pub(crate) async fn count(s: &Server) -> usize {
    let (_, page) = s.admin("GET", "/api/v1/licenses?limit=500", None).await;
    page["items"].as_array().unwrap().len()
}

mod alerts;
mod audit;
mod authz;
mod compromise;
mod console;
mod drills;
mod incidents;
mod licenses;
mod live;
mod map;
mod nodes;
mod overrides;
mod overview;
mod public;
mod refresh;
mod seats;
mod security;
mod webhooks;

/// Declares each shared test twice: on SQLite, and on PostgreSQL (ignored unless
/// `LIFELINE_TEST_PG` is set: `make pg-test`).
macro_rules! on_every_backend {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$module::$name(super::server(super::Db::Sqlite).await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            #[ignore = "needs PostgreSQL: `make test` starts one and sets LIFELINE_TEST_PG"]
            async fn $name() {
                super::$module::$name(super::server(super::Db::Postgres).await).await;
            })*
        }
    };
}

on_every_backend!(
    public::health_readiness_openapi_and_public_keys,
    public::status_list_marks_exactly_the_revoked_licenses,
    public::metrics_count_validations_requests_and_licenses,
    public::hostile_ids_are_refused_before_the_store_and_never_echoed_whole,
    public::anonymous_scrapes_read_the_store_once_per_period,
    licenses::issued_licenses_verify_offline_with_the_published_keys,
    licenses::idempotency_key_makes_retries_safe,
    licenses::listing_filters_and_paginates,
    licenses::revocation_shows_in_records_validation_and_audit,
    licenses::key_rotation_keeps_old_licenses_valid,
    licenses::bulk_issue_is_all_or_nothing_and_idempotent,
    licenses::demo_data_has_every_state_and_a_rotated_key,
    licenses::extension_re_signs_the_same_license_with_a_later_expiry,
    licenses::search_matches_id_prefixes_and_licensee_substrings,
    audit::audit_filters_and_pages_both_ways,
    overview::overview_counts_states_and_shows_the_last_hour,
    incidents::telemetry_is_checked_aggregated_and_exported,
    incidents::each_rule_opens_one_incident_and_resolves_when_clear,
    incidents::incidents_are_acknowledged_and_annotated,
    incidents::nodes_evaluating_together_open_one_incident,
    map::the_store_is_a_single_point_of_failure_until_a_second_node_and_a_replica,
    map::the_map_shows_owners_key_health_and_services_from_telemetry,
    webhooks::webhooks_are_signed_retried_and_disabled,
    webhooks::the_outbox_survives_a_restart,
    webhooks::a_hanging_endpoint_delays_only_itself_and_private_targets_are_refused,
    overrides::short_overrides_are_signed_at_once_and_verify_offline,
    overrides::long_overrides_wait_for_a_second_admin,
    overrides::bad_override_input_is_refused_and_writes_nothing,
    overrides::overrides_rescue_covered_licenses_until_revoked,
    overrides::a_revoked_license_stays_revoked_under_an_override,
    overrides::overrides_keep_working_across_a_key_rotation,
    seats::seats_are_granted_up_to_the_limit_reused_renewed_and_released,
    seats::bad_seat_requests_get_precise_answers,
    seats::floating_seats_are_reclaimed_after_heartbeat_s_of_service_time_only,
    seats::node_locked_seats_stay_and_borrowed_seats_come_back,
    seats::a_released_seat_lingers_and_operators_release_with_a_reason,
    seats::concurrent_activations_on_two_nodes_never_pass_the_limit,
    seats::seats_show_in_metrics_and_webhooks,
    seats::refused_and_surging_activations_open_incidents,
    security::every_admin_route_denies_by_default_and_checks_roles,
    security::session_names_the_callers_token,
    security::bad_input_gets_precise_4xx_and_writes_nothing,
    security::out_of_bounds_input_is_refused_alike_on_every_path,
    security::a_tampered_audit_log_is_detected,
    refresh::validate_hands_an_outdated_client_the_current_license,
    compromise::a_leaked_key_is_recovered_in_one_call_with_no_lockout_and_no_forgery,
    compromise::compromise_requests_are_checked_and_change_nothing_when_refused,
);
