use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::failure::CliError;

mod fleet;

/// Run the license server (API at /api/v1, public keys at /.well-known/lifeline/keys.json).
///
/// With no --db, the data lives in an embedded SQLite file under --data-dir. On first start
/// an admin API token is generated, printed once and written to DATA_DIR/admin-token (0600),
/// unless LIFELINE_ADMIN_TOKEN sets it.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Database: sqlite://PATH or postgres://USER@HOST/DB (several nodes may share one).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Directory for the embedded database and the bootstrap admin token.
    #[arg(long, default_value = "lifeline-data", value_name = "DIR")]
    data_dir: PathBuf,
    /// Seed demo data (products, licenses in every state, a rotated key) into an empty store
    /// and bring it to life: a built-in fleet of verifiers checks the demo licenses through
    /// validate and posts telemetry (with a slow host and bursts of forged tokens now and
    /// then), and one drill runs a minute after the start. `--demo=data`: the data only.
    #[arg(long, num_args = 0..=1, default_missing_value = "live", value_enum, value_name = "WHAT")]
    demo: Option<Demo>,
    /// Validations per second allowed per client address (0: unlimited).
    #[arg(long, default_value_t = 200.0, value_name = "N")]
    validate_rate: f64,
    /// The URL clients use to reach this service (names the status list inside licenses);
    /// default http://LISTEN.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Serve the web console from DIR (its built dist directory: index.html and the hashed
    /// .js/.wasm/.css files) at every path the API does not own.
    #[arg(long, env = "LIFELINE_CONSOLE_DIR", value_name = "DIR")]
    console: Option<PathBuf>,
    /// Incident rules: a JSON object overriding any of the defaults (thresholds, window,
    /// intervals, `disabled` rules); see the server's RulesConfig.
    #[arg(long, value_name = "FILE.json")]
    rules: Option<PathBuf>,
    /// The dependency map's owners and declarations (GET /api/v1/map): a JSON object with
    /// `owners` (component id or kind → owner), `default_owner`, `store_replica` and
    /// `override_keys` (the offline emergency keys: `[{"kid": …, "not_after": …}]`).
    #[arg(long, value_name = "FILE.json")]
    owners: Option<PathBuf>,
    /// A replica of the store the nodes can fail over to (declared for the dependency map;
    /// overrides the owners file's `store_replica`). With it and a second node, the store is
    /// no longer a single point of failure.
    #[arg(long, value_name = "URL")]
    store_replica: Option<String>,
    /// How often this node evaluates the incident rules, seconds (overrides the rules file;
    /// default 10).
    #[arg(long, value_name = "SECS")]
    evaluate_every: Option<u64>,
    /// DANGER, for drills only: expose `GET`/`PUT /api/v1/faults` (admin only, audited), which
    /// make this node simulate faults (partition, hang, clock skew, replayed answers, locked
    /// store). Never in production.
    #[arg(long)]
    danger_fault_injection: bool,
    /// Let webhooks point at loopback, link-local and private addresses (a lab, tests). By
    /// default such targets are refused when registered and before every delivery.
    #[arg(long)]
    allow_private_webhooks: bool,
    /// Scheduled drills: a JSON file `{"drills": [{"name": "one-node-down", "every_s":
    /// 86400, "first_after_s": 600}]}`; each run's report is stored here (Drills page).
    #[arg(long, value_name = "FILE.json")]
    drills: Option<PathBuf>,
    /// For drill labs: stop when standard input closes (the lab that started this node holds
    /// its other end, so the node never outlives it, however the lab ends).
    #[arg(long, hide = true)]
    exit_with_stdin: bool,
    /// How log lines are written to stderr: `text` for people, `json` (one object a line)
    /// for log shippers. Which lines: `RUST_LOG` (default `info,sqlx=warn`; e.g.
    /// `RUST_LOG=lifeline_server=debug` adds a line per request with its id).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    log_format: LogFormat,
}

/// `--demo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Demo {
    /// The data, the fleet and the first drill.
    Live,
    /// The data only.
    Data,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Sends the server's log lines to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) -> Result<(), CliError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&spec)
            .map_err(|e| {
                CliError::new(format!("RUST_LOG={spec:?}: {e}"))
                    .hint("e.g. RUST_LOG=info or RUST_LOG=lifeline_server=debug")
            })?,
        // sqlx logs every statement at info: its warnings only, unless asked.
        _ => tracing_subscriber::EnvFilter::new("info,sqlx=warn"),
    };
    // Colours for a person at a terminal only: a file or a log shipper gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| CliError::new(format!("cannot set up logging: {e}")))
}

/// The rules: the file's, else the defaults; `--evaluate-every` wins over both.
fn rules(args: &Args) -> Result<lifeline_server::RulesConfig, CliError> {
    let mut rules = match &args.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| CliError::new(format!("{}: not a rules file: {e}", path.display())))?
        }
        None => lifeline_server::RulesConfig::default(),
    };
    if let Some(secs) = args.evaluate_every {
        rules.evaluate_every_s = secs;
    }
    rules
        .check()
        .map_err(|e| CliError::new(format!("rules: {e}")))?;
    Ok(rules)
}

/// The dependency map's settings: the owners file's, `--store-replica` winning.
fn map_config(args: &Args) -> Result<lifeline_server::MapConfig, CliError> {
    let mut config = match &args.owners {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
            serde_json::from_str(&text).map_err(|e| {
                CliError::new(format!("{}: not an owners file: {e}", path.display()))
            })?
        }
        None => lifeline_server::MapConfig::default(),
    };
    if let Some(url) = &args.store_replica {
        config.store_replica = Some(url.clone());
    }
    config
        .check()
        .map_err(|e| CliError::new(format!("owners: {e}")))?;
    Ok(config)
}

/// The admin token the demo fleet uses: the first start's, LIFELINE_ADMIN_TOKEN, or the one
/// in the data directory.
fn fleet_token(bound: &lifeline_server::Bound) -> Option<String> {
    bound
        .first_admin_token()
        .map(str::to_owned)
        .or_else(|| std::env::var("LIFELINE_ADMIN_TOKEN").ok())
        .or_else(|| {
            std::fs::read_to_string(bound.admin_token_file())
                .ok()
                .map(|t| t.trim().to_owned())
        })
        .filter(|t| !t.is_empty())
}

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    init_logging(args.log_format)?;
    let admin_token = std::env::var("LIFELINE_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if admin_token.as_ref().is_some_and(|t| t.len() < 24) {
        return Err(CliError::new("LIFELINE_ADMIN_TOKEN is too short")
            .hint("use at least 24 random characters"));
    }
    let rules = rules(args)?;
    let map = map_config(args)?;
    if args.exit_with_stdin {
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            eprintln!("lifeline: standard input closed (--exit-with-stdin): stopping");
            std::process::exit(0);
        });
    }
    let config = lifeline_server::ServeConfig {
        listen: args.listen,
        db: args.db.clone(),
        data_dir: args.data_dir.clone(),
        admin_token,
        demo: args.demo.is_some(),
        public_url: args.public_url.clone(),
        console_dir: args.console.clone(),
        limits: lifeline_server::Limits {
            validate: lifeline_server::Rate {
                per_sec: args.validate_rate,
                burst: args.validate_rate * 2.0,
            },
            ..lifeline_server::Limits::default()
        },
        rules,
        delivery: lifeline_server::DeliveryConfig {
            allow_private: args.allow_private_webhooks,
            ..lifeline_server::DeliveryConfig::default()
        },
        map,
        fault_injection: args.danger_fault_injection,
        // Drills from the console: each in a lab of its own, as `lifeline drill run` does.
        drill_launcher: Some(std::sync::Arc::new(crate::drill::ChildDrills)),
    };
    let url = match &args.public_url {
        Some(url) => url.clone(),
        None if args.listen.ip().is_unspecified() => {
            format!("http://127.0.0.1:{}", args.listen.port())
        }
        None => format!("http://{}", args.listen),
    };
    if let Some(path) = &args.drills {
        let schedule = crate::drill::Schedule::load(path)?;
        schedule.start(url.clone(), args.data_dir.join("admin-token"));
    }
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
    runtime
        .block_on(async {
            let bound = lifeline_server::bind(config).await?;
            if let Some(token) = bound.first_admin_token() {
                // Shown once, to the person starting the server: not a log line.
                eprintln!(
                    "lifeline: first start: admin token (shown once, also in {}):\n  {token}",
                    bound.admin_token_file().display()
                );
            }
            if args.demo == Some(Demo::Live) {
                // The fleet talks to this very node, whatever --public-url says.
                let local = bound.local_addr();
                let here = if local.ip().is_unspecified() {
                    format!("http://127.0.0.1:{}", local.port())
                } else {
                    format!("http://{local}")
                };
                match fleet_token(&bound) {
                    Some(token) => fleet::start(here, token),
                    None => eprintln!(
                        "lifeline: demo fleet off: no admin token (set LIFELINE_ADMIN_TOKEN or keep {})",
                        bound.admin_token_file().display()
                    ),
                }
            }
            bound.run().await
        })
        .map_err(|e| CliError::new(format!("server: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
