//! `lifeline serve`: opens the store, makes sure an admin token exists, and serves the API
//! (and the console) until Ctrl-C / SIGTERM, with the node's background loops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use lifeline_api::Role;

use crate::auth::{create_token, insert_token};
use crate::store::{Backend, Store, StoreError};
use crate::{
    AppState, DeliveryConfig, Limits, MapConfig, RulesConfig, app, auth, background, console, demo,
    listen,
};

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
    /// Runs drills when asked (`POST /api/v1/drill-runs`, the console's Run button); with
    /// `demo`, also [`demo::FIRST_DRILL`] once, [`demo::FIRST_DRILL_AFTER`] after the start.
    /// `None`: such requests are refused (503).
    pub drill_launcher: Option<std::sync::Arc<dyn crate::DrillLauncher>>,
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
            let spec = auth::NewToken {
                name: "bootstrap admin (LIFELINE_ADMIN_TOKEN)",
                role: Role::Admin,
                expires_at: None,
                principal: None,
                minted_by: None,
            };
            insert_token(store, "system", &spec, secret).await?;
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
    let path = data_dir.join("admin-token");
    write_private(&path, format!("{}\n", created.token).as_bytes())
        .map_err(|source| StoreError::File { path, source })?;
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

/// A server that has opened its store, bootstrapped and bound its address: [`Bound::run`]
/// serves. Between the two, the caller may show [`Bound::first_admin_token`] (the library
/// never prints or logs a secret).
#[derive(Debug)]
pub struct Bound {
    state: AppState,
    router: axum::Router,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    admin_token: Option<String>,
    admin_token_file: PathBuf,
    demo: bool,
}

impl Bound {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The admin token generated on the first start (also written, 0600, to
    /// [`Self::admin_token_file`]); `None` on later starts or with `LIFELINE_ADMIN_TOKEN`.
    pub fn first_admin_token(&self) -> Option<&str> {
        self.admin_token.as_deref()
    }

    /// Where the first admin token was written.
    pub fn admin_token_file(&self) -> &Path {
        &self.admin_token_file
    }

    /// Serves until Ctrl-C / SIGTERM, with the node's background loops.
    pub async fn run(self) -> Result<(), Box<dyn std::error::Error>> {
        let Self {
            state,
            router,
            listener,
            demo,
            ..
        } = self;
        let background = background::start(&state).await;
        if demo {
            demo::schedule_first_drill(&state);
        }
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
}

/// Opens the store, bootstraps, and serves until Ctrl-C / SIGTERM ([`bind`], then
/// [`Bound::run`]; a generated first admin token is only in its file).
pub async fn serve(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    bind(config).await?.run().await
}

/// Opens the store (migrating it), makes sure an admin token exists, seeds demo data when
/// asked, and binds the address.
pub async fn bind(config: ServeConfig) -> Result<Bound, Box<dyn std::error::Error>> {
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
    let admin_token =
        bootstrap_admin(&store, &config.data_dir, config.admin_token.as_deref()).await?;
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
        tracing::warn!(
            "DANGER: fault injection is on (PUT /api/v1/faults, admin only, audited); for drills, never in production"
        );
    }
    if let Some(launcher) = &config.drill_launcher {
        state.set_drill_launcher(launcher.clone());
    }
    if config.demo
        && demo::seed(&state)
            .await
            .map_err(|e| format!("demo data: {}", e.code()))?
    {
        tracing::info!("seeded demo data (2 products, licenses in every state, a rotated key)");
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    tracing::info!(node = state.node_id(), store = ?state.store().backend(), "serving on http://{local}");
    let router = match console {
        Some(console) => {
            tracing::info!("console at http://{local}/");
            console.mount(app(state.clone()))
        }
        None => app(state.clone()),
    };
    Ok(Bound {
        state,
        router,
        listener,
        local,
        admin_token,
        admin_token_file: config.data_dir.join("admin-token"),
        demo: config.demo,
    })
}
