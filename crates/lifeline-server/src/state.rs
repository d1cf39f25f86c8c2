//! The state every handler shares: the store, this node's snapshots of what it reads often
//! (key ring, active overrides), its caches, counters, limits and settings. Domain modules
//! extend [`AppState`] with what they do (`incidents.rs`: the rule evaluation); this file
//! imports none of the modules that use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::deliver::{self, DeliveryConfig, DeliveryReport};
use crate::faults::FaultInjector;
use crate::hot::HotPath;
use crate::keys::{self, KeyRing};
use crate::limits::{BodyBudget, Limiter, Rate};
use crate::map::MapConfig;
use crate::metrics::Metrics;
use crate::overrides::{self, ActiveOverrides};
use crate::rules::RulesConfig;
use crate::snapshot::Snapshot;
use crate::store::{Store, StoreError};
use crate::{clock, ids, nodes};

/// Cached key rings are re-read from the store after this long: another node's rotation or
/// key compromise (mark and issued list together) applies here within it. Cheap: the keys'
/// rows and the lists' ids (a list already verified is kept, not read again).
const KEY_REFRESH: Duration = Duration::from_secs(1);
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
    keys: Snapshot<KeyRing>,
    overrides: Snapshot<ActiveOverrides>,
    hot: HotPath,
    failed_auth: AtomicU64,
    metrics: Metrics,
    public_url: String,
    validate_limit: Limiter,
    telemetry_limit: Limiter,
    auth_failure_limit: Limiter,
    /// Failed authentications per presented token (its first characters), whatever the
    /// address: one bad token sprayed from many addresses is limited too.
    auth_failure_token_limit: Limiter<String>,
    body_budget: BodyBudget,
    node_id: String,
    started_at: u64,
    rules: std::sync::RwLock<Arc<RulesConfig>>,
    delivery: std::sync::RwLock<Arc<DeliveryConfig>>,
    /// The webhook endpoints with a delivery task running on this node.
    webhooks_in_flight: deliver::InFlight,
    /// The store's figures for `/metrics` (`figures.rs`), and how often they were read.
    store_figures: Snapshot<crate::figures::StoreFigures>,
    store_figure_reads: AtomicU64,
    /// `/metrics` and the status list, per address (anonymous, and costly without it).
    public_limit: Limiter,
    map: std::sync::RwLock<Arc<MapConfig>>,
    /// The key of the seat fingerprints' keyed hash.
    seat_secret: Vec<u8>,
    /// This node's seat writes, committed in groups.
    seat_writer: crate::seats::SeatWriter,
    /// Set only by `--danger-fault-injection`.
    faults: std::sync::OnceLock<FaultInjector>,
    /// Drills started on this node (the console's Run button), and who runs them.
    drill_runs: crate::drill_runs::DrillRuns,
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
    /// `GET /metrics` and `GET /api/v1/status-list` (anonymous).
    pub public: Rate,
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
            public: Rate {
                per_sec: 20.0,
                burst: 40.0,
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
        let ring = keys::load_or_init(&store, None).await?;
        let (active, _) = overrides::load_active(&store, &ring.set, clock::now()).await?;
        let node_id = format!("node-{}", &ids::new_id()?);
        let seat_secret = crate::seats::records::load_or_init_secret(&store).await?;
        let seat_writer = crate::seats::SeatWriter::start(store.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                keys: Snapshot::new(ring, KEY_REFRESH),
                overrides: Snapshot::new(Arc::new(active), OVERRIDE_REFRESH),
                hot: HotPath::new(),
                failed_auth: AtomicU64::new(0),
                metrics: Metrics::default(),
                public_url: public_url.trim_end_matches('/').to_owned(),
                validate_limit: Limiter::new(limits.validate),
                telemetry_limit: Limiter::new(limits.telemetry),
                auth_failure_limit: Limiter::new(limits.auth_failures),
                auth_failure_token_limit: Limiter::new(limits.auth_failures),
                body_budget: BodyBudget::new(),
                node_id,
                started_at: clock::now(),
                rules: std::sync::RwLock::new(Arc::new(RulesConfig::default())),
                delivery: std::sync::RwLock::new(Arc::new(DeliveryConfig::default())),
                webhooks_in_flight: deliver::InFlight::default(),
                store_figures: Snapshot::empty(crate::figures::STORE_FIGURES_REFRESH),
                store_figure_reads: AtomicU64::new(0),
                public_limit: Limiter::new(limits.public),
                map: std::sync::RwLock::new(Arc::new(MapConfig::default())),
                seat_secret,
                seat_writer,
                faults: std::sync::OnceLock::new(),
                drill_runs: crate::drill_runs::DrillRuns::default(),
                heartbeat_ok_at: std::sync::Mutex::new(None),
            }),
        })
    }

    /// The key of the seat fingerprints' keyed hash (the store's, the same on every node).
    pub(crate) fn seat_secret(&self) -> &[u8] {
        &self.inner.seat_secret
    }

    /// This node's seat writer (group commit of activations, heartbeats, releases).
    pub(crate) fn seat_writer(&self) -> &crate::seats::SeatWriter {
        &self.inner.seat_writer
    }

    /// Turns on fault injection (`--danger-fault-injection`): the routes `GET`/`PUT
    /// /api/v1/faults` exist in routers made after this. For drills only, never in production.
    pub fn enable_fault_injection(&self) {
        let _ = self.inner.faults.set(FaultInjector::default());
    }

    /// Lets this node run drills when asked (`POST /api/v1/drill-runs`, the console's Run
    /// button): `launcher` runs one drill to its end. Without it, such a request is refused.
    pub fn set_drill_launcher(&self, launcher: std::sync::Arc<dyn crate::DrillLauncher>) {
        self.inner.drill_runs.set_launcher(launcher);
    }

    /// This node's drill runs.
    pub(crate) fn drill_runs(&self) -> &crate::drill_runs::DrillRuns {
        &self.inner.drill_runs
    }

    /// Whether fault injection is on.
    pub fn fault_injection(&self) -> bool {
        self.inner.faults.get().is_some()
    }

    /// The fault injector, when fault injection is on.
    pub(crate) fn faults(&self) -> Option<&FaultInjector> {
        self.inner.faults.get()
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
            .is_some_and(FaultInjector::partitioned)
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
        // Back after being unreachable: the gap is an outage for the seats this node answered
        // for (their machines could not heartbeat through it).
        crate::seats::outages::record_node_gap(
            &self.inner.store,
            &self.inner.node_id,
            now,
            self.rules().node_unreachable_after_s,
        )
        .await?;
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

    /// One webhook delivery pass: sends the messages due at `now` (unix seconds; the
    /// `webhook-timestamp` of an attempt made at once), each endpoint on a task of its own,
    /// leaving out endpoints whose task from an earlier pass still runs. `serve` starts one
    /// every `every_ms`.
    pub async fn deliver_webhooks(&self, now: u64) -> Result<DeliveryReport, StoreError> {
        deliver::deliver(
            &self.inner.store,
            &self.delivery(),
            &self.inner.webhooks_in_flight,
            now,
        )
        .await
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The key ring, re-read from the store when older than a few seconds.
    pub async fn keys(&self) -> Result<Arc<KeyRing>, StoreError> {
        let store = &self.inner.store;
        let previous = self.inner.keys.peek();
        self.inner
            .keys
            .get(|| keys::load_or_init(store, previous))
            .await
    }

    /// Re-reads the key ring now.
    pub async fn reload_keys(&self) -> Result<Arc<KeyRing>, StoreError> {
        let ring = keys::load_or_init(&self.inner.store, self.inner.keys.peek()).await?;
        self.inner.keys.set(ring.clone());
        Ok(ring)
    }

    /// The active overrides (each verified against the key ring), re-read from the store
    /// when older than [`OVERRIDE_REFRESH`].
    pub(crate) async fn active_overrides(&self) -> Result<Arc<ActiveOverrides>, StoreError> {
        self.inner
            .overrides
            .get(|| self.read_active_overrides())
            .await
    }

    /// Re-reads the active overrides now (after a change on this node, so that it applies
    /// and publishes the change at once).
    pub(crate) async fn reload_overrides(&self) -> Result<Arc<ActiveOverrides>, StoreError> {
        let active = self.read_active_overrides().await?;
        self.inner.overrides.set(active.clone());
        Ok(active)
    }

    /// The active overrides as the store has them. A token signed by a key this node has
    /// not seen yet makes it re-read the keys first.
    async fn read_active_overrides(&self) -> Result<Arc<ActiveOverrides>, StoreError> {
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
        Ok(Arc::new(active))
    }

    /// The `iss` of the overrides this server signs: its public URL.
    pub(crate) fn override_issuer(&self) -> &str {
        if self.inner.public_url.is_empty() {
            "lifeline-server"
        } else {
            &self.inner.public_url
        }
    }

    /// Where clients reach this service (no trailing slash; may be empty).
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The URI of the status list, as licenses name it.
    pub fn status_list_uri(&self) -> String {
        format!("{}/api/v1/status-list", self.inner.public_url)
    }

    /// The validate hot path's caches.
    pub(crate) fn hot(&self) -> &HotPath {
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

    /// Counts a failed authentication from `ip` presenting `token` (its first characters
    /// are the key); `false` when that address or that token has spent its budget of
    /// failures (the answer is then 429, not 401). Only failures count: a token that
    /// verifies is never refused for anyone's failures, its own address's included.
    pub(crate) fn note_failed_auth(&self, ip: std::net::IpAddr, token: &str) -> bool {
        self.inner.failed_auth.fetch_add(1, Ordering::Relaxed);
        let by_ip = &self.inner.auth_failure_limit;
        let by_token = &self.inner.auth_failure_token_limit;
        // No token presented (no or a malformed header): only the address counts.
        let key: Option<String> = (!token.is_empty()).then(|| token.chars().take(16).collect());
        if !by_ip.allows(&ip) || key.as_ref().is_some_and(|k| !by_token.allows(k)) {
            return false;
        }
        let _ = by_ip.take(ip);
        if let Some(key) = key {
            let _ = by_token.take(key);
        }
        true
    }

    pub(crate) fn figures_snapshot(&self) -> &Snapshot<crate::figures::StoreFigures> {
        &self.inner.store_figures
    }

    pub(crate) fn count_store_figure_read(&self) {
        self.inner
            .store_figure_reads
            .fetch_add(1, Ordering::Relaxed);
    }

    /// How many times `/metrics` read its figures from the store since start.
    pub fn store_figure_reads(&self) -> u64 {
        self.inner.store_figure_reads.load(Ordering::Relaxed)
    }

    /// This node changed licenses or seats: `/metrics` re-reads its figures.
    pub(crate) fn store_figures_changed(&self) {
        self.inner.store_figures.invalidate();
    }

    pub(crate) fn public_limit(&self) -> &Limiter {
        &self.inner.public_limit
    }

    pub(crate) fn validate_limit(&self) -> &Limiter {
        &self.inner.validate_limit
    }

    pub(crate) fn telemetry_limit(&self) -> &Limiter {
        &self.inner.telemetry_limit
    }

    pub(crate) fn body_budget(&self) -> &BodyBudget {
        &self.inner.body_budget
    }
}
