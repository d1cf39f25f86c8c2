//! `lifeline check --telemetry`: the checks' verdicts (counts by state and reason, latency
//! histogram: the core's `TelemetryBatch`) posted in batches to the first reachable node's
//! `POST /api/v1/telemetry`, after every `--telemetry-every` checks or
//! `--telemetry-every-s` seconds and at the end of the run.
//!
//! Telemetry never changes a verdict or the exit code: a post that fails is said once on
//! stderr (never with the token) and its verdicts go with the next post when the failure may
//! pass (no node reachable, 429, 5xx); a refusal that will not pass (401, 422) drops them.

use std::time::{Duration, Instant};

use lifeline_core::{TelemetryBatch, TelemetryReport, UnixTime, Verdict, telemetry_name};

/// An API token: never shown by `Debug`, never printed.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// The telemetry flags of `lifeline check`.
#[derive(Debug, clap::Args)]
pub(crate) struct TelemetryArgs {
    /// Post the checks' verdict counts and latencies to the first reachable node's
    /// /api/v1/telemetry (in batches while --count loops, and at the end). Never changes a
    /// verdict or the exit code; a failed post is said once on stderr.
    #[arg(long)]
    telemetry: bool,
    /// The service name telemetry reports (1 to 128 of A-Z a-z 0-9 . _ - : /).
    #[arg(long, default_value = "lifeline-check", value_parser = service_name, value_name = "NAME")]
    service: String,
    /// API token for telemetry (a viewer token is enough; default:
    /// $LIFELINE_TELEMETRY_TOKEN). Never printed.
    #[arg(
        long,
        env = "LIFELINE_TELEMETRY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    telemetry_token: Option<Secret>,
    /// Post a batch after this many checks.
    #[arg(long, default_value_t = 100, value_name = "N")]
    telemetry_every: u32,
    /// Post a batch when this many seconds passed since the last post.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    telemetry_every_s: u64,
}

fn service_name(s: &str) -> Result<String, String> {
    if lifeline_core::telemetry_name_ok(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "must be 1 to {} of A-Z a-z 0-9 . _ - : /",
            lifeline_core::MAX_TELEMETRY_NAME
        ))
    }
}

/// This process's default instance name: `HOSTNAME:PID`.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host = telemetry_name(host.trim(), "host");
    let name = format!("{host}:{}", std::process::id());
    telemetry_name(&name, "lifeline-check")
}

/// Batches verdicts and posts them.
pub(crate) struct Reporter {
    urls: Vec<String>,
    token: Secret,
    service: String,
    instance: String,
    every_checks: u32,
    every: Duration,
    timeout: Duration,
    batch: TelemetryBatch,
    since_post: u32,
    last_post: Instant,
    warned: bool,
}

/// Why a post did not deliver, and whether its verdicts should go with the next one.
struct Failed {
    why: String,
    retry: bool,
}

impl Reporter {
    /// `None` without `--telemetry`, or (said on stderr) without a token.
    pub(crate) fn new(
        args: &TelemetryArgs,
        urls: &[String],
        instance: Option<&str>,
        timeout_ms: u64,
    ) -> Option<Self> {
        if !args.telemetry {
            return None;
        }
        let Some(token) = args
            .telemetry_token
            .clone()
            .filter(|t| !t.0.trim().is_empty())
        else {
            eprintln!(
                "lifeline check: --telemetry needs --telemetry-token or $LIFELINE_TELEMETRY_TOKEN; \
                 checking without telemetry"
            );
            return None;
        };
        let instance = match instance {
            Some(name) => telemetry_name(name, "lifeline-check"),
            None => default_instance(),
        };
        Some(Self {
            urls: urls.to_vec(),
            token,
            service: args.service.clone(),
            instance,
            every_checks: args.telemetry_every.max(1),
            every: Duration::from_secs(args.telemetry_every_s),
            timeout: Duration::from_millis(timeout_ms.max(1)),
            batch: TelemetryBatch::new(),
            since_post: 0,
            last_post: Instant::now(),
            warned: false,
        })
    }

    /// Records one check's verdict and how long the check took.
    pub(crate) fn record(&mut self, verdict: &Verdict, took: Duration, now: UnixTime) {
        self.batch.record(verdict, took.as_secs_f64(), now);
        self.since_post = self.since_post.saturating_add(1);
    }

    /// Posts the batch when `--telemetry-every` checks or `--telemetry-every-s` seconds
    /// have passed since the last post.
    pub(crate) fn tick(&mut self, now: UnixTime) {
        if self.since_post >= self.every_checks || self.last_post.elapsed() >= self.every {
            self.flush(now);
        }
    }

    /// Posts what the batch holds (the end of the run).
    pub(crate) fn flush(&mut self, now: UnixTime) {
        if self.batch.is_empty() {
            return;
        }
        self.since_post = 0;
        self.last_post = Instant::now();
        let report = match self.batch.drain(&self.service, &self.instance, now) {
            Ok(r) => r,
            Err(e) => return self.warn(&e.to_string()),
        };
        if let Err(failed) = self.post(&report) {
            if failed.retry {
                self.batch.restore(&report);
            }
            self.warn(&failed.why);
        }
    }

    fn warn(&mut self, why: &str) {
        if !self.warned {
            self.warned = true;
            eprintln!(
                "lifeline check: telemetry not delivered: {why} (verdicts are unaffected; \
                 later telemetry failures are not reported)"
            );
        }
    }

    /// The first node that answers at all gets the report.
    fn post(&self, report: &TelemetryReport) -> Result<(), Failed> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .build()
            .into();
        let bearer = format!("Bearer {}", self.token.0);
        let mut unreachable = Vec::new();
        for url in &self.urls {
            let url = format!("{}/api/v1/telemetry", url.trim_end_matches('/'));
            let mut response = match agent
                .post(&url)
                .header("Authorization", &bearer)
                .send_json(report)
            {
                Ok(r) => r,
                Err(e) => {
                    unreachable.push(format!("{url}: {}", transport(&e)));
                    continue;
                }
            };
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(());
            }
            let code = response
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_json::<serde_json::Value>()
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            return Err(Failed {
                why: format!("{url} answered HTTP {status}{code}"),
                retry: status == 429 || status >= 500,
            });
        }
        Err(Failed {
            why: format!("no node reachable ({})", unreachable.join("; ")),
            retry: true,
        })
    }
}

/// A transport error in a few words (ureq's messages never hold request headers).
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        other => other.to_string(),
    }
}
