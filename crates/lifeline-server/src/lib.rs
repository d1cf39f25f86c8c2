//! The Lifeline license server: a library (`app(state) -> Router`) and [`serve`], which the
//! `lifeline serve` command runs.
//!
//! It issues licenses (signed by the core's `LicenseSigner`), revokes them, rotates signing
//! keys, answers online validation with the core's verdict plus a signed lease, and records
//! every change in a hash-chained audit log written in the same transaction as the change.
//!
//! # What this crate does not do
//! - It makes no verification decision of its own: `validate` asks `lifeline-core` and only
//!   adds what the store knows (revocation, active overrides, which the core applies).
//! - It does not terminate TLS: run it behind a proxy that does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use lifeline_api::{ApiTokenCreated, Role};
use serde_json::json;
use tokio::sync::RwLock;

mod audit;
mod auth;
mod background;
mod clock;
mod console;
mod deliver;
pub mod demo;
mod faults;
mod hot;
mod incidents;
mod keys;
mod licenses;
mod limits;
mod listen;
mod map;
mod metrics;
mod nodes;
mod overrides;
mod problem;
mod routes;
mod rules;
mod series;
mod store;
mod telemetry;
mod webhooks;

pub use audit::{ChainBreak, GENESIS, verify_run};
pub use auth::{TOKEN_PREFIX, hash_secret};
pub use console::{ASSET_CACHE_CONTROL, INDEX_CACHE_CONTROL, with_console};
pub use deliver::{DeliveryConfig, DeliveryReport};
pub use faults::MAX_FAULT_MS;
pub use hot::{LEASE_REUSE, REVOCATION_REFRESH};
pub use incidents::Evaluation;
pub use keys::KeyRing;
pub use licenses::new_id as new_license_id;
pub use limits::{BODY_READ_TIMEOUT, Limiter, MAX_BODY_BYTES_IN_FLIGHT, Rate};
pub use listen::HEADER_READ_TIMEOUT;
pub use map::{DeclaredKey, MapConfig, UNASSIGNED};
pub use metrics::{KEY_MAX_AGE_SECS, Metrics};
pub use overrides::{
    MAX_OVERRIDE_SECS, MAX_UNAPPROVED_OVERRIDE_SECS, OVERRIDE_BUNDLE_MEDIA_TYPE,
    OVERRIDE_BUNDLE_TTL_SECS,
};
pub use problem::AppError;
pub use routes::licenses::MAX_BULK;
pub use routes::overview::EXPIRING_WINDOW_SECS;
pub use routes::public::{LEASE_TTL_SECS, STATUS_LIST_TTL_SECS};
pub use rules::{RULES, RulesConfig};
pub use series::VALIDATE_LATENCY_BOUNDS_SECS;
pub use store::{AuditFilter, Backend, Store, StoreError};
pub use telemetry::{MAX_INSTANCES, MAX_REASONS, MAX_SERVICES};
pub use webhooks::{SECRET_PREFIX as WEBHOOK_SECRET_PREFIX, sign as sign_webhook};

/// The checks the handlers run on a decoded request body before anything is signed or
/// stored; each refusal is the 4xx problem the API answers. Public for the fuzz targets
/// (`fuzz/`), which feed them every body the JSON decoder accepts.
pub mod checks {
    pub use crate::licenses::check_request as issue_license;
    pub use crate::overrides::check as create_override;
    pub use crate::telemetry::check as telemetry_report;
    pub use crate::webhooks::check_url as webhook_url;
}

/// Request bodies larger than this are refused (413) before parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The limit for `POST /api/v1/licenses/bulk` (10,000 licenses).
pub const MAX_BULK_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Cached key rings are re-read from the store after this long (other nodes may rotate).
const KEY_REFRESH: Duration = Duration::from_secs(5);
/// Each node re-reads the active overrides after this long: a change made on another node
/// reaches this one's `validate` and bundle within it (on the node that made it, at once).
pub const OVERRIDE_REFRESH: Duration = Duration::from_secs(5);

/// Shared state of all handlers.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    keys: RwLock<(Instant, Arc<KeyRing>)>,
    overrides: RwLock<(Instant, Arc<overrides::ActiveOverrides>)>,
    hot: hot::HotPath,
    /// Single-flight refreshes: while one request re-reads the keys or the overrides, the
    /// others answer from the previous snapshot instead of all querying the store at once.
    keys_refreshing: std::sync::atomic::AtomicBool,
    overrides_refreshing: std::sync::atomic::AtomicBool,
    failed_auth: AtomicU64,
    metrics: Metrics,
    public_url: String,
    validate_limit: Limiter,
    telemetry_limit: Limiter,
    auth_failure_limit: Limiter,
    body_budget: limits::BodyBudget,
    node_id: String,
    started_at: u64,
    rules: std::sync::RwLock<Arc<RulesConfig>>,
    delivery: std::sync::RwLock<Arc<DeliveryConfig>>,
    map: std::sync::RwLock<Arc<MapConfig>>,
    /// Set only by `--danger-fault-injection`.
    faults: std::sync::OnceLock<faults::FaultInjector>,
    /// When this node last wrote its heartbeat (a monotonic clock, unaffected by a skewed
    /// one): `/readyz` fails when it is stale, as the store then refuses writes.
    /// `None` until the first heartbeat (a state without the background loops never stalls).
    heartbeat_ok_at: std::sync::Mutex<Option<Instant>>,
}

/// Rate limits per client address.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `POST /api/v1/validate`.
    pub validate: Rate,
    /// Failed authentications; once spent, that address's admin requests get 429 for a while.
    pub auth_failures: Rate,
    /// `POST /api/v1/telemetry`.
    pub telemetry: Rate,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            validate: Rate {
                per_sec: 200.0,
                burst: 400.0,
            },
            auth_failures: Rate {
                per_sec: 0.2,
                burst: 20.0,
            },
            telemetry: Rate {
                per_sec: 50.0,
                burst: 200.0,
            },
        }
    }
}

impl AppState {
    /// State over an open store; creates the first signing key if there is none.
    /// `public_url` is where clients reach this service (it names the status list in tokens).
    pub async fn new(store: Store, public_url: &str) -> Result<Self, StoreError> {
        Self::with_limits(store, public_url, Limits::default()).await
    }

    /// Like [`Self::new`] with explicit rate limits.
    pub async fn with_limits(
        store: Store,
        public_url: &str,
        limits: Limits,
    ) -> Result<Self, StoreError> {
        let ring = keys::load_or_init(&store).await?;
        let (active, _) = overrides::load_active(&store, &ring.set, clock::now()).await?;
        let node_id = format!("node-{}", &licenses::new_id()?);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                keys: RwLock::new((Instant::now(), ring)),
                overrides: RwLock::new((Instant::now(), Arc::new(active))),
                hot: hot::HotPath::new(),
                keys_refreshing: std::sync::atomic::AtomicBool::new(false),
                overrides_refreshing: std::sync::atomic::AtomicBool::new(false),
                failed_auth: AtomicU64::new(0),
                metrics: Metrics::default(),
                public_url: public_url.trim_end_matches('/').to_owned(),
                validate_limit: Limiter::new(limits.validate),
                telemetry_limit: Limiter::new(limits.telemetry),
                auth_failure_limit: Limiter::new(limits.auth_failures),
                body_budget: limits::BodyBudget::new(),
                node_id,
                started_at: clock::now(),
                rules: std::sync::RwLock::new(Arc::new(RulesConfig::default())),
                delivery: std::sync::RwLock::new(Arc::new(DeliveryConfig::default())),
                map: std::sync::RwLock::new(Arc::new(MapConfig::default())),
                faults: std::sync::OnceLock::new(),
                heartbeat_ok_at: std::sync::Mutex::new(None),
            }),
        })
    }

    /// Turns on fault injection (`--danger-fault-injection`): the routes `GET`/`PUT
    /// /api/v1/faults` exist in routers made after this. For drills only, never in production.
    pub fn enable_fault_injection(&self) {
        let _ = self.inner.faults.set(faults::FaultInjector::default());
    }

    /// Whether fault injection is on.
    pub fn fault_injection(&self) -> bool {
        self.inner.faults.get().is_some()
    }

    /// The fault injector (a 404 when fault injection is off).
    pub(crate) fn faults(&self) -> Result<&faults::FaultInjector, AppError> {
        self.inner.faults.get().ok_or_else(|| {
            AppError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "fault injection is off (lifeline serve --danger-fault-injection)",
            )
        })
    }

    /// How long a hanging-node fault makes `validate` wait, if one is injected.
    pub(crate) fn injected_validate_delay(&self) -> Option<Duration> {
        let ms = self.inner.faults.get()?.current().hang_validate_ms;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// Whether a partition fault cuts this node off now.
    pub(crate) fn partitioned(&self) -> bool {
        self.inner
            .faults
            .get()
            .is_some_and(faults::FaultInjector::partitioned)
    }

    /// This node's id, generated when the state was created (`GET /api/v1/nodes`).
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// The incident rules in force.
    pub fn rules(&self) -> Arc<RulesConfig> {
        self.inner
            .rules
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the incident rules (checked: see [`RulesConfig::check`]).
    pub fn set_rules(&self, rules: RulesConfig) -> Result<(), String> {
        rules.check()?;
        *self
            .inner
            .rules
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rules);
        Ok(())
    }

    /// How webhook messages are delivered.
    pub fn delivery(&self) -> Arc<DeliveryConfig> {
        self.inner
            .delivery
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the webhook delivery settings.
    pub fn set_delivery(&self, delivery: DeliveryConfig) {
        *self
            .inner
            .delivery
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(delivery);
    }

    /// The dependency map's owners and declarations (`serve --owners`, `--store-replica`).
    pub fn map_config(&self) -> Arc<MapConfig> {
        self.inner
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the dependency map's owners and declarations (checked: see
    /// [`MapConfig::check`]).
    pub fn set_map_config(&self, config: MapConfig) -> Result<(), String> {
        config.check()?;
        *self
            .inner
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
        Ok(())
    }

    /// Registers this node in the store, or refreshes its heartbeat, as of `now` (unix
    /// seconds). `serve` does it every `heartbeat_every_s`.
    pub async fn heartbeat(&self, now: u64) -> Result<(), StoreError> {
        nodes::heartbeat(
            &self.inner.store,
            &self.inner.node_id,
            &self.inner.public_url,
            self.inner.started_at,
            now,
        )
        .await?;
        if let Ok(mut at) = self.inner.heartbeat_ok_at.lock() {
            *at = Some(Instant::now());
        }
        Ok(())
    }

    /// How long this node's writes have been failing, seconds: the age of its last written
    /// heartbeat beyond two heartbeat intervals (0 when writes work).
    pub(crate) fn store_write_stall(&self) -> u64 {
        let since = self
            .inner
            .heartbeat_ok_at
            .lock()
            .ok()
            .and_then(|at| at.map(|at| at.elapsed().as_secs()))
            .unwrap_or(0);
        let allowed = self
            .rules()
            .heartbeat_every_s
            .saturating_mul(2)
            .saturating_add(1);
        since.saturating_sub(allowed)
    }

    /// Removes this node's heartbeat row (it stops cleanly: not "unreachable").
    pub async fn leave(&self) -> Result<(), StoreError> {
        nodes::remove(&self.inner.store, &self.inner.node_id).await
    }

    /// Evaluates the incident rules on this node's figures as of `now` (unix seconds): opens
    /// an incident per new finding, resolves those whose condition cleared. `serve` does it
    /// every `evaluate_every_s`; tests and drills call it with the `now` they need.
    pub async fn evaluate_rules(&self, now: u64) -> Result<Evaluation, StoreError> {
        incidents::evaluate(self, &self.rules(), now).await
    }

    /// One webhook delivery pass: sends the messages due at `now` (unix seconds; the
    /// attempt's `webhook-timestamp`). `serve` runs one every `every_ms`.
    pub async fn deliver_webhooks(&self, now: u64) -> Result<DeliveryReport, StoreError> {
        deliver::deliver(&self.inner.store, &self.delivery(), now).await
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The key ring, re-read from the store when older than a few seconds.
    pub async fn keys(&self) -> Result<Arc<KeyRing>, StoreError> {
        let stale = {
            let (loaded, ring) = &*self.inner.keys.read().await;
            if loaded.elapsed() < KEY_REFRESH {
                return Ok(ring.clone());
            }
            ring.clone()
        };
        if self.inner.keys_refreshing.swap(true, Ordering::AcqRel) {
            return Ok(stale);
        }
        let fresh = self.reload_keys().await;
        self.inner.keys_refreshing.store(false, Ordering::Release);
        fresh
    }

    /// Re-reads the key ring now.
    pub async fn reload_keys(&self) -> Result<Arc<KeyRing>, StoreError> {
        let ring = keys::load_or_init(&self.inner.store).await?;
        *self.inner.keys.write().await = (Instant::now(), ring.clone());
        Ok(ring)
    }

    /// The active overrides (each verified against the key ring), re-read from the store
    /// when older than [`OVERRIDE_REFRESH`].
    pub(crate) async fn active_overrides(
        &self,
    ) -> Result<Arc<overrides::ActiveOverrides>, StoreError> {
        let stale = {
            let (loaded, active) = &*self.inner.overrides.read().await;
            if loaded.elapsed() < OVERRIDE_REFRESH {
                return Ok(active.clone());
            }
            active.clone()
        };
        if self.inner.overrides_refreshing.swap(true, Ordering::AcqRel) {
            return Ok(stale);
        }
        let fresh = self.reload_overrides().await;
        self.inner
            .overrides_refreshing
            .store(false, Ordering::Release);
        fresh
    }

    /// Re-reads the active overrides now (after a change on this node, so that it applies
    /// and publishes the change at once). A token signed by a key this node has not seen yet
    /// makes it re-read the keys first.
    pub(crate) async fn reload_overrides(
        &self,
    ) -> Result<Arc<overrides::ActiveOverrides>, StoreError> {
        let now = clock::now();
        let ring = self.keys().await?;
        let (mut active, unknown_key) =
            overrides::load_active(&self.inner.store, &ring.set, now).await?;
        if unknown_key {
            let ring = self.reload_keys().await?;
            active = overrides::load_active(&self.inner.store, &ring.set, now)
                .await?
                .0;
        }
        let active = Arc::new(active);
        *self.inner.overrides.write().await = (Instant::now(), active.clone());
        Ok(active)
    }

    /// The `iss` of the overrides this server signs: its public URL.
    pub(crate) fn override_issuer(&self) -> &str {
        if self.inner.public_url.is_empty() {
            "lifeline-server"
        } else {
            &self.inner.public_url
        }
    }

    /// The URI of the status list, as licenses name it.
    pub fn status_list_uri(&self) -> String {
        format!("{}/api/v1/status-list", self.inner.public_url)
    }

    /// The validate hot path's caches.
    pub(crate) fn hot(&self) -> &hot::HotPath {
        &self.inner.hot
    }

    /// This node's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Failed authentications since start.
    pub fn failed_auth_count(&self) -> u64 {
        self.inner.failed_auth.load(Ordering::Relaxed)
    }

    pub(crate) fn note_failed_auth(&self, ip: std::net::IpAddr) {
        self.inner.failed_auth.fetch_add(1, Ordering::Relaxed);
        let _ = self.inner.auth_failure_limit.take(ip);
    }

    pub(crate) fn validate_limit(&self) -> &Limiter {
        &self.inner.validate_limit
    }

    pub(crate) fn telemetry_limit(&self) -> &Limiter {
        &self.inner.telemetry_limit
    }

    pub(crate) fn auth_failure_limit(&self) -> &Limiter {
        &self.inner.auth_failure_limit
    }

    pub(crate) fn body_budget(&self) -> &limits::BodyBudget {
        &self.inner.body_budget
    }
}

/// The HTTP API. Unknown routes answer 404 problem+json (`GET /`: a short HTML page saying
/// how to serve the console; see [`with_console`]).
pub fn app(state: AppState) -> Router {
    use routes::{
        admin, incidents, licenses, map, overrides, overview, public, telemetry, webhooks,
    };
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
        .route(
            "/api/v1/drills",
            post(routes::drills::store).get(routes::drills::list),
        )
        .route("/api/v1/drills/{id}", get(routes::drills::get))
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
        .with_state(state)
}

/// Creates an API token and audits it; the secret is returned once.
pub async fn create_token(
    store: &Store,
    actor: &str,
    name: &str,
    role: Role,
    expires_at: Option<u64>,
) -> Result<ApiTokenCreated, StoreError> {
    let secret = auth::new_secret().map_err(|e| StoreError(e.to_string()))?;
    insert_token(store, actor, name, role, expires_at, &secret).await
}

async fn insert_token(
    store: &Store,
    actor: &str,
    name: &str,
    role: Role,
    expires_at: Option<u64>,
    secret: &str,
) -> Result<ApiTokenCreated, StoreError> {
    let id = licenses::new_id()?;
    let mut w = store.write().await?;
    sqlx::query("INSERT INTO api_tokens (id, name, role, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(name)
        .bind(role.as_str())
        .bind(auth::hash_secret(secret))
        .bind(clock::now_i64())
        .bind(expires_at.map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
        .execute(&mut *w.tx)
        .await?;
    // The audit log names the token, never its secret.
    let after = json!({ "id": id, "name": name, "role": role, "expires_at": expires_at });
    w.audit(actor, "token.created", &id, None, Some(&after))
        .await?;
    w.commit().await?;
    Ok(ApiTokenCreated {
        id,
        name: name.to_owned(),
        role,
        token: secret.to_owned(),
        expires_at,
    })
}

/// How `lifeline serve` runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Database URL; `None` means `sqlite://DATA_DIR/lifeline.db`.
    pub db: Option<String>,
    /// Directory for the embedded database and the bootstrap admin token.
    pub data_dir: PathBuf,
    /// The first admin token (`LIFELINE_ADMIN_TOKEN`); generated when absent.
    pub admin_token: Option<String>,
    /// Seed demo data into an empty store.
    pub demo: bool,
    /// Where clients reach the service; defaults to `http://LISTEN`.
    pub public_url: Option<String>,
    /// Rate limits per client address.
    pub limits: Limits,
    /// A built console (Trunk's `dist`) to serve next to the API (see [`with_console`]).
    pub console_dir: Option<PathBuf>,
    /// The incident rules (`--rules FILE.json`), evaluated every `evaluate_every_s`.
    pub rules: RulesConfig,
    /// Webhook delivery (retries, timeout, when an endpoint is disabled).
    pub delivery: DeliveryConfig,
    /// The dependency map's owners and declarations (`--owners FILE.json`,
    /// `--store-replica URL`).
    pub map: MapConfig,
    /// `--danger-fault-injection`: the fault routes for drills (never in production).
    pub fault_injection: bool,
}

/// Ensures an admin token exists. With `LIFELINE_ADMIN_TOKEN` set, that secret is registered;
/// otherwise, on first start, one is generated, written to `DATA_DIR/admin-token` (0600) and
/// returned so the caller can print it once.
pub async fn bootstrap_admin(
    store: &Store,
    data_dir: &Path,
    given: Option<&str>,
) -> Result<Option<String>, StoreError> {
    if let Some(secret) = given {
        let known = sqlx::query("SELECT id FROM api_tokens WHERE token_hash = $1")
            .bind(auth::hash_secret(secret))
            .fetch_optional(store.pool())
            .await?;
        if known.is_none() {
            insert_token(
                store,
                "system",
                "bootstrap admin (LIFELINE_ADMIN_TOKEN)",
                Role::Admin,
                None,
                secret,
            )
            .await?;
        }
        return Ok(None);
    }
    let any_admin = sqlx::query(
        "SELECT id FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1",
    )
    .fetch_optional(store.pool())
    .await?;
    if any_admin.is_some() {
        return Ok(None);
    }
    let created = create_token(store, "system", "bootstrap admin", Role::Admin, None).await?;
    write_private(
        &data_dir.join("admin-token"),
        format!("{}\n", created.token).as_bytes(),
    )
    .map_err(|e| StoreError(format!("cannot write the admin token file: {e}")))?;
    Ok(Some(created.token))
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

/// Opens the store, bootstraps, and serves until Ctrl-C / SIGTERM.
pub async fn serve(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    // A bad console directory fails the start before anything is touched.
    let console = config
        .console_dir
        .as_deref()
        .map(console::Console::open)
        .transpose()?;
    std::fs::create_dir_all(&config.data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The database (and its WAL) hold private signing keys: owner-only directory.
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let url = match &config.db {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", config.data_dir.join("lifeline.db").display()),
    };
    let store = Store::open(&url).await?;
    #[cfg(unix)]
    if store.backend() == Backend::Sqlite && config.db.is_none() {
        use std::os::unix::fs::PermissionsExt;
        // The database holds private signing keys: owner-only.
        let _ = std::fs::set_permissions(
            config.data_dir.join("lifeline.db"),
            std::fs::Permissions::from_mode(0o600),
        );
    }
    if let Some(token) =
        bootstrap_admin(&store, &config.data_dir, config.admin_token.as_deref()).await?
    {
        eprintln!(
            "lifeline: first start: admin token (shown once, also in {}):",
            config.data_dir.join("admin-token").display()
        );
        eprintln!("  {token}");
    }
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let state = AppState::with_limits(store, &public_url, config.limits).await?;
    state.set_rules(config.rules.clone())?;
    state.set_delivery(config.delivery.clone());
    state.set_map_config(config.map.clone())?;
    if config.fault_injection {
        state.enable_fault_injection();
        eprintln!(
            "lifeline: DANGER: fault injection is on (PUT /api/v1/faults, admin only, audited); for drills, never in production"
        );
    }
    if config.demo
        && demo::seed(&state)
            .await
            .map_err(|e| format!("demo data: {}", e.code()))?
    {
        eprintln!(
            "lifeline: seeded demo data (2 products, licenses in every state, a rotated key)"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    eprintln!("lifeline: serving on http://{local}");
    let router = match console {
        Some(console) => {
            eprintln!("lifeline: console at http://{local}/");
            console.mount(app(state.clone()))
        }
        None => app(state.clone()),
    };
    let background = background::start(&state).await;
    let partitioned = {
        let state = state.clone();
        move || state.partitioned()
    };
    listen::run(listener, router, partitioned, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    background.stop(&state).await;
    Ok(())
}
