//! `lifeline check`: the validation client's shell. The core's `Session` decides everything
//! (which node, when, which answer to trust, the verdict online or offline); this file does
//! the I/O it asks for: HTTP with ureq, sleeping, the clocks, the cache file. With
//! `--telemetry`, posts the verdicts it gave to the server (`check/telemetry.rs`).

mod seat;
mod telemetry;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lifeline_core::{
    ClientPolicy, Next, Nodes, OfflinePolicy, Outcome, Policy, Received, Reply, Session,
    SessionCache, UnixTime, Verdict,
};
use serde_json::Value;

use crate::failure::CliError;
use crate::files;

/// Answers larger than this are a node failure (a validate answer is a few KiB).
const MAX_ANSWER_BYTES: u64 = lifeline_core::MAX_ANSWER_BYTES as u64;

/// Check a license online against redundant validation nodes, offline from the cached
/// lease when none answers. Prints one verdict (JSON) per check.
///
/// An answer counts only if its lease verifies with the key set and names this license;
/// anything else (garbage, a wrong signature, a timeout) is a node failure, never a verdict.
/// Exit 0 when the (last) verdict is usable, 1 when not, 2 on usage or I/O errors.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Validation nodes, comma-separated, e.g. http://a:8080,http://b:8080.
    #[arg(long, value_delimiter = ',', required = true, value_name = "URL,...")]
    nodes: Vec<String>,
    /// The servers' public key set (JWKS). Re-read before a check when the file changed
    /// (with `--count`: a deployment's key refresh reaches a running client).
    #[arg(long, value_name = "KEYS.json")]
    keys: String,
    /// The issued list of a compromised key (`/.well-known/lifeline/issued/KID` on the
    /// server), verified against the key set: that key's licenses on it verify, any other
    /// token of the key is refused `key_compromised`. Repeat for several keys.
    #[arg(long = "issued-list", value_name = "FILE")]
    issued_lists: Vec<String>,
    /// The lease cache (created; a corrupted one is discarded, never trusted).
    #[arg(long, value_name = "FILE")]
    cache: PathBuf,
    /// This client instance's name (named in leases and in telemetry, where it defaults to
    /// HOSTNAME:PID).
    #[arg(long)]
    instance: Option<String>,
    /// Require the license to be for this product.
    #[arg(long, value_name = "PRODUCT")]
    aud: Option<String>,
    /// Per-request timeout, milliseconds.
    #[arg(long, default_value_t = 2_000, value_name = "MS")]
    timeout_ms: u64,
    /// Deadline of one check (all attempts), milliseconds.
    #[arg(long, default_value_t = 6_000, value_name = "MS")]
    deadline_ms: u64,
    /// Offline grace for licenses that do not set `offline_grace_s`, seconds.
    #[arg(long, default_value_t = 72 * 3600, value_name = "SECONDS")]
    offline_grace: u64,
    /// Run this many checks (a steady stream), one JSON line each.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Pause between checks, milliseconds.
    #[arg(long, default_value_t = 1_000, value_name = "MS")]
    every_ms: u64,
    /// License token file; `-` reads standard input.
    #[arg(value_name = "FILE|-", default_value = "-")]
    file: String,
    /// Drills only (`lifeline drill run clock-set-back`): this client's clock reads SECONDS
    /// off (negative: behind).
    #[arg(
        long,
        hide = true,
        default_value_t = 0,
        allow_hyphen_values = true,
        value_name = "SECONDS"
    )]
    clock_offset_s: i64,
    #[command(flatten)]
    telemetry: telemetry::TelemetryArgs,
    #[command(flatten)]
    seat: seat::SeatArgs,
}

/// Set by Ctrl-C or SIGTERM while a seat is held: the checks stop and the seat is released.
static STOP: AtomicBool = AtomicBool::new(false);

pub(crate) fn run(args: &Args) -> Result<ExitCode, CliError> {
    let keys = files::read_key_set_with_lists(&args.keys, &args.issued_lists)?;
    let token = files::read_up_to(&args.file, 1024 * 1024, "license")?;
    let token = String::from_utf8_lossy(token.trim_ascii()).into_owned();
    let mut policy = Policy::new();
    if let Some(aud) = &args.aud {
        policy = policy.with_audience(aud.clone());
    }
    let mut seat = seat::SeatShell::new(args, &token, &keys, &policy)?;
    if seat.is_some() {
        ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst))
            .map_err(|e| CliError::new(format!("cannot handle Ctrl-C and SIGTERM: {e}")))?;
    }
    let mut client = Client {
        session: Session::new(
            Nodes::new(
                args.nodes.len(),
                ClientPolicy {
                    request_timeout_ms: args.timeout_ms,
                    deadline_ms: args.deadline_ms,
                    ..ClientPolicy::default()
                },
            ),
            keys,
            policy,
            OfflinePolicy {
                default_grace_s: args.offline_grace,
                ..OfflinePolicy::default()
            },
            load_cache(&args.cache),
        ),
        keys_read: modified(&args.keys),
        urls: args.nodes.clone(),
        instance: args.instance.clone(),
        started: Instant::now(),
        clock_offset_s: args.clock_offset_s,
    };
    let mut reporter = telemetry::Reporter::new(
        &args.telemetry,
        &args.nodes,
        args.instance.as_deref(),
        args.timeout_ms,
    );
    let mut token = token;
    let checked = run_checks(
        args,
        &mut client,
        &mut token,
        reporter.as_mut(),
        seat.as_mut(),
    );
    if let Some(reporter) = &mut reporter {
        reporter.flush(wall_now());
    }
    if let Some(seat) = &mut seat {
        seat.release(&token)?;
    }
    if STOP.load(Ordering::SeqCst) {
        // Interrupted (Ctrl-C, SIGTERM): the seat was given back.
        return Ok(ExitCode::from(130));
    }
    Ok(if checked? {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Sleeps `ms`, waking early when told to stop.
fn sleep_unless_stopped(ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    while !STOP.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// The checks `--count` asks for; whether the last verdict is usable.
fn run_checks(
    args: &Args,
    client: &mut Client,
    token: &mut String,
    mut reporter: Option<&mut telemetry::Reporter>,
    mut seat: Option<&mut seat::SeatShell>,
) -> Result<bool, CliError> {
    let mut usable = false;
    for i in 0..args.count.max(1) {
        if i > 0 {
            sleep_unless_stopped(args.every_ms);
        }
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        client.reload_keys_if_changed(args);
        let started = Instant::now();
        let (verdict, renewed) = client.check(token)?;
        let took = started.elapsed();
        usable = verdict.is_usable();
        save_cache(&args.cache, client.session.cache())?;
        if let Some(renewed) = renewed {
            store_renewal(&args.file, &renewed)?;
            *token = renewed;
        }
        let mut line = serde_json::to_value(&verdict)
            .map_err(|e| CliError::new(format!("cannot encode the verdict: {e}")))?;
        if let Some(seat) = seat.as_deref_mut() {
            let now = wall_now();
            let standing = if seat.due(now, jitter()) {
                seat.step(token, now)?
            } else {
                seat.standing(now)
            };
            if let Some(renewed) = seat.take_renewed() {
                store_renewal(&args.file, &renewed)?;
                *token = renewed;
            }
            usable = usable && standing.is_usable();
            if let Value::Object(fields) = &mut line {
                fields.insert(
                    "seat".into(),
                    serde_json::to_value(&standing).unwrap_or(Value::Null),
                );
            }
        }
        let line = line.to_string();
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(|e| CliError::new(format!("cannot write the verdict: {e}")))?;
        }
        if let Some(reporter) = reporter.as_deref_mut() {
            let now = wall_now();
            reporter.record(&verdict, took, now);
            if i + 1 < args.count {
                reporter.tick(now);
            }
        }
    }
    Ok(usable)
}

/// The wall clock for telemetry windows (0 before 1970: the check itself refuses that).
fn wall_now() -> UnixTime {
    UnixTime::from_secs(crate::issue::now_secs().unwrap_or_default())
}

struct Client {
    session: Session,
    /// When the key-set file was last read (its modification time).
    keys_read: Option<std::time::SystemTime>,
    urls: Vec<String>,
    instance: Option<String>,
    started: Instant,
    clock_offset_s: i64,
}

impl Client {
    /// Re-reads the key set (and issued lists) when its file changed since it was read; a
    /// file that no longer loads is said on stderr and the set in use kept.
    fn reload_keys_if_changed(&mut self, args: &Args) {
        let now = modified(&args.keys);
        if now.is_none() || now == self.keys_read {
            return;
        }
        match files::read_key_set_with_lists(&args.keys, &args.issued_lists) {
            Ok(keys) => {
                self.session.set_keys(keys);
                self.keys_read = now;
            }
            Err(e) => eprintln!("lifeline check: keeping the key set in use: {e}"),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// One check: what the session asks for, until it decides; and the license's newer
    /// version when a node handed one out (the session verified it and keeps it cached).
    fn check(&mut self, token: &str) -> Result<(Verdict, Option<String>), CliError> {
        let wall = crate::issue::now_secs()?.saturating_add_signed(self.clock_offset_s);
        let mut round =
            self.session
                .begin(token.as_bytes(), UnixTime::from_secs(wall), self.now_ms());
        loop {
            match self.session.next(&mut round, self.now_ms(), jitter()) {
                Next::Send { node, timeout_ms } => {
                    let reply = self.ask(node, round.license(), timeout_ms);
                    let reply = match &reply {
                        Ok(body) => Reply::Body(body),
                        Err(outcome) => Reply::Failed(*outcome),
                    };
                    match self.session.receive(&mut round, node, self.now_ms(), reply) {
                        Received::Verdict(verdict) => {
                            if let Some(problem) = round.renewal_problem() {
                                eprintln!(
                                    "lifeline check: node {} handed out a license not taken: {problem}",
                                    self.url(node)
                                );
                            }
                            let license = round.license();
                            let renewed = (license != token).then(|| license.to_owned());
                            return Ok((*verdict, renewed));
                        }
                        Received::Rejected(problem) => {
                            eprintln!("lifeline check: node {} failed: {problem}", self.url(node));
                        }
                        Received::Failed => {}
                    }
                }
                Next::Wait { ms } => std::thread::sleep(Duration::from_millis(ms)),
                Next::Done(verdict) => {
                    let license = round.license();
                    return Ok((*verdict, (license != token).then(|| license.to_owned())));
                }
            }
        }
    }

    fn url(&self, node: usize) -> &str {
        self.urls.get(node).map_or("?", String::as_str)
    }

    /// Sends `validate` to one node: the body of a 200, or how the request failed.
    fn ask(&self, node: usize, token: &str, timeout_ms: u64) -> Result<Vec<u8>, Outcome> {
        let url = format!("{}/api/v1/validate", self.url(node).trim_end_matches('/'));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(timeout_ms.max(1))))
            .build()
            .into();
        let body = serde_json::json!({ "token": token, "instance": self.instance });
        let mut response = match agent.post(&url).send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Timeout(_)) => return Err(Outcome::TimedOut),
            Err(_) => return Err(Outcome::Unreachable),
        };
        let status = response.status().as_u16();
        if status != 200 {
            let retry_after_ms = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000));
            return Err(Outcome::Refused {
                status,
                retry_after_ms,
            });
        }
        match response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
        {
            Ok(body) => Ok(body),
            Err(ureq::Error::Timeout(_)) => Err(Outcome::TimedOut),
            Err(_) => Err(Outcome::Invalid),
        }
    }
}

/// A file's modification time (`None` for stdin or a file that cannot be read).
fn modified(path: &str) -> Option<std::time::SystemTime> {
    (path != "-")
        .then(|| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .flatten()
}

/// Replaces the license file with the newer version a node handed out (atomically, its mode
/// kept); a license read from standard input stays in the cache only.
fn store_renewal(file: &str, renewed: &str) -> Result<(), CliError> {
    // Verified by the session or the seat keeper before it got here; decoded for the message.
    let version = lifeline_core::inspect(renewed.as_bytes())
        .ok()
        .and_then(|i| i.claims.get("ver").and_then(serde_json::Value::as_u64))
        .unwrap_or(0);
    if file == "-" {
        eprintln!(
            "lifeline check: the license was renewed (version {version}); it was read from standard input, so the new one is kept in the cache"
        );
        return Ok(());
    }
    files::replace_keeping_mode(Path::new(file), format!("{renewed}\n").as_bytes()).map_err(
        |e| {
            CliError::new(format!(
                "cannot replace the license file {file} with its renewal: {e}"
            ))
        },
    )?;
    eprintln!("lifeline check: the license was renewed (version {version}); {file} replaced");
    Ok(())
}

/// A value in `[0, 1)` from the system's random generator (0.5 if it fails).
fn jitter() -> f64 {
    let mut b = [0u8; 4];
    match getrandom::fill(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// The cache file, or an empty cache when it is missing or corrupted (said on stderr: a
/// corrupted cache is discarded and rebuilt at the next answer, never trusted).
fn load_cache(path: &Path) -> SessionCache {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return SessionCache::default(),
        Err(e) => {
            eprintln!(
                "lifeline check: cannot read the cache {}: {e}; starting empty",
                path.display()
            );
            return SessionCache::default();
        }
    };
    match serde_json::from_slice::<Value>(&bytes).and_then(serde_json::from_value::<SessionCache>) {
        Ok(cache) => cache,
        Err(e) => {
            eprintln!(
                "lifeline check: the cache {} is corrupted ({e}); discarded",
                path.display()
            );
            SessionCache::default()
        }
    }
}

fn save_cache(path: &Path, cache: &SessionCache) -> Result<(), CliError> {
    let json = serde_json::to_vec_pretty(cache)
        .map_err(|e| CliError::new(format!("cannot encode the cache: {e}")))?;
    files::replace_atomically(path, &json)
        .map_err(|e| CliError::new(format!("cannot write the cache {}: {e}", path.display())))
}
