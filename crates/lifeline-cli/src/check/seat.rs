//! `lifeline check --seat`: the seat's shell. The core's `SeatKeeper` decides what to send,
//! which answers to trust, when to renew and whether the machine holds its seat (online, or
//! offline on its last lease plus the offline grace); this file does the HTTP, reads the
//! machine's default fingerprint and keeps the seat's cache file (`CACHE.seat`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lifeline_core::{KeySet, SeatCache, SeatKeeper, Standing, UnixTime};

use crate::failure::CliError;
use crate::files;

/// Hold a seat while checking (licenses with seats).
#[derive(Debug, clap::Args)]
pub(crate) struct SeatArgs {
    /// Activate a seat before the first check, renew it while checking, release it at the
    /// end (also on Ctrl-C or SIGTERM). Each verdict line then carries `seat`; the exit code
    /// is 1 unless the machine holds its seat (online, or offline within the grace).
    #[arg(long)]
    seat: bool,
    /// This machine's stable identifier (default: a hash of /etc/machine-id and the host
    /// name). The server keeps only a keyed hash of it.
    #[arg(long, value_name = "ID", requires = "seat")]
    fingerprint: Option<String>,
    /// The seat's name as operators see it (default: the host name).
    #[arg(long, value_name = "NAME", requires = "seat")]
    seat_name: Option<String>,
}

/// The seat held for one license.
pub(crate) struct SeatShell {
    keeper: SeatKeeper,
    urls: Vec<String>,
    cache: PathBuf,
    name: String,
    offline_grace_s: u64,
    timeout_ms: u64,
    /// The policy the license is checked with (a renewal in an answer must pass it).
    policy: lifeline_core::Policy,
    /// A newer version of the license a seat answer carried and the core took.
    renewed: Option<String>,
}

impl SeatShell {
    /// `None` without `--seat`. `check` is the command's arguments (nodes, cache, offline
    /// grace, timeout, the seat's own).
    pub(crate) fn new(
        check: &super::Args,
        token: &str,
        keys: &KeySet,
        policy: &lifeline_core::Policy,
    ) -> Result<Option<Self>, CliError> {
        let (args, urls, session_cache) = (&check.seat, &check.nodes, &check.cache);
        let (default_grace_s, timeout_ms) = (check.offline_grace, check.timeout_ms);
        if !args.seat {
            return Ok(None);
        }
        let fingerprint = match &args.fingerprint {
            Some(f) if lifeline_core::fingerprint_ok(f) => f.clone(),
            Some(_) => return Err(CliError::new("--fingerprint must be 1 to 256 characters")),
            None => machine_fingerprint()?,
        };
        let mut cache = session_cache.as_os_str().to_owned();
        cache.push(".seat");
        let cache = PathBuf::from(cache);
        let keeper = SeatKeeper::for_license(token, &fingerprint, keys.clone(), &load(&cache))
            .map_err(|e| CliError::new(format!("the license does not decode: {e}")))?;
        Ok(Some(Self {
            offline_grace_s: keeper.offline_grace_s(default_grace_s),
            keeper,
            urls: urls.to_vec(),
            cache,
            name: args.seat_name.clone().unwrap_or_else(host_name),
            timeout_ms,
            policy: policy.clone(),
            renewed: None,
        }))
    }

    /// Whether the seat should be (re)asked for now: none held, or its renewal time came.
    pub(crate) fn due(&self, now: UnixTime, jitter: f64) -> bool {
        self.keeper.renew_at(jitter).is_none_or(|at| now >= at)
    }

    /// Activates or renews on the first node that gives a trusted answer; where the machine
    /// stands afterwards (offline on its last lease when no node answers).
    pub(crate) fn step(&mut self, token: &str, now: UnixTime) -> Result<Standing, CliError> {
        let call = self.keeper.call();
        let body = self.keeper.body(&call, token, Some(&self.name));
        for url in &self.urls {
            let url = format!("{}{}", url.trim_end_matches('/'), call.path());
            match post(&url, &body, self.timeout_ms) {
                Ok(answer) => match self.keeper.receive(&answer) {
                    Ok(_) => {
                        // A newer version of the license, as validate hands out.
                        match self.keeper.renewal_in(&answer, token, &self.policy, now) {
                            Some((license, Ok(_))) => self.renewed = Some(license),
                            Some((_, Err(problem))) => eprintln!(
                                "lifeline check: {url} handed out a license not taken: {problem}"
                            ),
                            None => {}
                        }
                        break;
                    }
                    Err(problem) => eprintln!("lifeline check: {url}: {problem}"),
                },
                Err(why) => eprintln!("lifeline check: {url}: {why}"),
            }
        }
        self.save()?;
        Ok(self.keeper.standing(now, self.offline_grace_s))
    }

    /// The newer license the last seat answer carried, once.
    pub(crate) fn take_renewed(&mut self) -> Option<String> {
        self.renewed.take()
    }

    /// Where the machine stands without asking.
    pub(crate) fn standing(&self, now: UnixTime) -> Standing {
        self.keeper.standing(now, self.offline_grace_s)
    }

    /// Gives the seat back (the first node that answers); forgets it either way, so the next
    /// run activates.
    pub(crate) fn release(&mut self, token: &str) -> Result<(), CliError> {
        if let Some((path, body)) = self.keeper.release(token) {
            let released = self.urls.iter().any(|url| {
                let url = format!("{}{path}", url.trim_end_matches('/'));
                delete(&url, &body, self.timeout_ms)
            });
            if !released {
                eprintln!(
                    "lifeline check: no node took the seat back: it is reclaimed once its heartbeats stop"
                );
            }
        }
        self.keeper.forget();
        self.save()
    }

    fn save(&self) -> Result<(), CliError> {
        let json = serde_json::to_vec_pretty(&self.keeper.cache())
            .map_err(|e| CliError::new(format!("cannot encode the seat cache: {e}")))?;
        files::replace_atomically(&self.cache, &json).map_err(|e| {
            CliError::new(format!(
                "cannot write the seat cache {}: {e}",
                self.cache.display()
            ))
        })
    }
}

fn agent(timeout_ms: u64) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_millis(timeout_ms.max(1))))
        .build()
        .into()
}

/// POSTs `body`; the answer's bytes when the status is 2xx.
fn post(url: &str, body: &serde_json::Value, timeout_ms: u64) -> Result<Vec<u8>, String> {
    let mut response = agent(timeout_ms)
        .post(url)
        .send_json(body)
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(lifeline_core::MAX_ANSWER_BYTES as u64)
        .read_to_vec()
        .map_err(|e| format!("reading the answer: {e}"))?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    Ok(bytes)
}

/// DELETEs with a body; whether the node took it (2xx).
fn delete(url: &str, body: &serde_json::Value, timeout_ms: u64) -> bool {
    agent(timeout_ms)
        .delete(url)
        .force_send_body()
        .send_json(body)
        .is_ok_and(|r| r.status().is_success())
}

/// The seat cache, or none when missing or not one (never trusted blindly: the keeper
/// verifies the lease it holds).
fn load(path: &Path) -> SeatCache {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// This machine's default fingerprint (`lifeline_core::machine_fingerprint` of
/// /etc/machine-id and the host name): stable across runs and reboots.
fn machine_fingerprint() -> Result<String, CliError> {
    let id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            CliError::new("no machine id (/etc/machine-id) to fingerprint this machine: pass --fingerprint ID")
        })?;
    Ok(lifeline_core::machine_fingerprint(&id, &host_name()))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown host".to_owned())
}
