//! The drill's lab: a real local setup on 127.0.0.1 — three validation nodes and one admin
//! node (`lifeline serve --danger-fault-injection`, this very binary) over one SQLite file,
//! seeded with the demo data — and verifiers, which are `lifeline check` processes streaming
//! one verdict a line. Everything lives in a temporary directory removed at the end.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifeline_api::{FaultRequest, Faults};
use serde_json::{Value, json};

use crate::failure::CliError;

#[path = "lab_seats.rs"]
mod seats;

/// Validation nodes the verifiers know.
pub(crate) const NODES: usize = 3;
/// The verifiers' pause between checks, ms.
pub(crate) const EVERY_MS: u64 = 100;
/// The verifiers' per-request timeout, ms.
pub(crate) const TIMEOUT_MS: u64 = 300;
/// The verifiers' deadline for one check, ms.
pub(crate) const DEADLINE_MS: u64 = 1_500;

/// The rules the lab's nodes run: fast enough to detect within a drill.
const RULES: &str = r#"{"evaluate_every_s": 1, "heartbeat_every_s": 1, "seat_sweep_every_s": 1, "node_unreachable_after_s": 3, "window_s": 20, "min_requests": 3}"#;

fn err(what: impl std::fmt::Display) -> CliError {
    CliError::new(format!("drill: {what}"))
}

/// One server process.
pub(crate) struct Node {
    pub(crate) url: String,
    listen: String,
    data_dir: PathBuf,
    child: Option<Child>,
}

/// The running setup.
pub(crate) struct Lab {
    dir: PathBuf,
    exe: PathBuf,
    db: String,
    token: String,
    /// Validation nodes (the verifiers' list).
    pub(crate) nodes: Vec<Node>,
    /// The admin node: operators' API during a drill that cuts the validation nodes off.
    pub(crate) admin: Node,
    agent: ureq::Agent,
    /// The license every verifier checks (a demo license issued 30 days ago).
    pub(crate) license_id: String,
    pub(crate) license_path: PathBuf,
    pub(crate) keys_path: PathBuf,
    pub(crate) cache_path: PathBuf,
}

fn free_port() -> Result<u16, CliError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(err)?;
    Ok(listener.local_addr().map_err(err)?.port())
}

fn random_hex(bytes: usize) -> Result<String, CliError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| err(format!("no randomness: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl Lab {
    /// Starts the nodes (the first seeds the demo data) and fetches a license and the keys.
    pub(crate) fn start() -> Result<Self, CliError> {
        let exe = std::env::current_exe().map_err(err)?;
        let dir = std::env::temp_dir().join(format!("lifeline-drill-{}", random_hex(6)?));
        std::fs::create_dir_all(&dir).map_err(err)?;
        std::fs::write(dir.join("rules.json"), RULES).map_err(err)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into();
        let make = |name: &str| -> Result<Node, CliError> {
            let listen = format!("127.0.0.1:{}", free_port()?);
            Ok(Node {
                url: format!("http://{listen}"),
                listen,
                data_dir: dir.join(name),
                child: None,
            })
        };
        let nodes = (0..NODES)
            .map(|i| make(&format!("node{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let admin = make("admin")?;
        let mut lab = Lab {
            db: format!("sqlite://{}", dir.join("lifeline.db").display()),
            token: format!("lifeline-drill-{}", random_hex(16)?),
            cache_path: dir.join("lease-cache.json"),
            license_path: dir.join("license.jwt"),
            keys_path: dir.join("keys.json"),
            license_id: String::new(),
            dir,
            exe,
            nodes,
            admin,
            agent,
        };
        lab.spawn_admin(true)?;
        for i in 0..NODES {
            lab.spawn(i)?;
        }
        lab.fetch_license()?;
        lab.refresh_keys()?;
        Ok(lab)
    }

    fn spawn_node(&self, node: &Node, demo: bool) -> Result<Child, CliError> {
        std::fs::create_dir_all(&node.data_dir).map_err(err)?;
        let log = std::fs::File::create(node.data_dir.join("server.log")).map_err(err)?;
        let mut cmd = Command::new(&self.exe);
        // The node reads its stdin, a pipe this lab holds: if the drill process dies without
        // stopping its lab (killed after a timeout), the pipe closes and the node stops too.
        cmd.args([
            "serve",
            "--exit-with-stdin",
            "--danger-fault-injection",
            "--validate-rate",
            "0",
        ])
        .arg("--db")
        .arg(&self.db)
        .arg("--data-dir")
        .arg(&node.data_dir)
        .arg("--listen")
        .arg(&node.listen)
        .arg("--rules")
        .arg(self.dir.join("rules.json"))
        .env("LIFELINE_ADMIN_TOKEN", &self.token)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log);
        if demo {
            cmd.arg("--demo=data");
        }
        let child = cmd
            .spawn()
            .map_err(|e| err(format!("cannot start a node: {e}")))?;
        self.wait_ready(&node.url, Duration::from_secs(60))?;
        Ok(child)
    }

    fn spawn_admin(&mut self, demo: bool) -> Result<(), CliError> {
        let child = self.spawn_node(&self.admin, demo)?;
        self.admin.child = Some(child);
        Ok(())
    }

    /// Starts validation node `i` (again).
    pub(crate) fn spawn(&mut self, i: usize) -> Result<(), CliError> {
        let node = self.nodes.get(i).ok_or_else(|| err("no such node"))?;
        let child = self.spawn_node(node, false)?;
        if let Some(node) = self.nodes.get_mut(i) {
            node.child = Some(child);
        }
        Ok(())
    }

    fn wait_ready(&self, url: &str, within: Duration) -> Result<(), CliError> {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.ready(url) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(err(format!("{url} did not get ready within {within:?}")))
    }

    /// Whether `url`'s `/readyz` says ready.
    pub(crate) fn ready(&self, url: &str) -> bool {
        let quick: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(500)))
            .build()
            .into();
        quick
            .get(format!("{url}/readyz"))
            .call()
            .is_ok_and(|r| r.status() == 200)
    }

    /// An admin request to `url`; the JSON answer and status.
    pub(crate) fn call(
        &self,
        method: &str,
        url: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), CliError> {
        let full = format!("{url}{path}");
        let auth = format!("Bearer {}", self.token);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&full).header("authorization", &auth).call(),
            ("PUT", Some(b)) => self
                .agent
                .put(&full)
                .header("authorization", &auth)
                .send_json(b),
            (_, Some(b)) => self
                .agent
                .post(&full)
                .header("authorization", &auth)
                .send_json(b),
            (_, None) => self
                .agent
                .post(&full)
                .header("authorization", &auth)
                .send_empty(),
        };
        let mut response = response.map_err(|e| err(format!("{method} {full}: {e}")))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn admin_ok(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, CliError> {
        let (status, answer) = self.call(method, &self.admin.url, path, body)?;
        if !(200..300).contains(&status) {
            return Err(err(format!("{method} {path}: HTTP {status}: {answer}")));
        }
        Ok(answer)
    }

    fn fetch_license(&mut self) -> Result<(), CliError> {
        let list = self.admin_ok("GET", "/api/v1/licenses?q=acme-corp", None)?;
        let license = list
            .get("items")
            .and_then(Value::as_array)
            .and_then(|items| items.first())
            .ok_or_else(|| err("the demo data has no acme-corp license"))?;
        let token = license.get("token").and_then(Value::as_str).unwrap_or("");
        self.license_id = license
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        std::fs::write(&self.license_path, token).map_err(err)
    }

    /// Fetches the public key set into the verifiers' keys file (what a deployment's key
    /// refresh does).
    pub(crate) fn refresh_keys(&self) -> Result<(), CliError> {
        let mut r = self
            .agent
            .get(format!("{}/.well-known/lifeline/keys.json", self.admin.url))
            .call()
            .map_err(err)?;
        let text = r.body_mut().read_to_string().map_err(err)?;
        std::fs::write(&self.keys_path, text).map_err(err)
    }

    /// Injects `faults` into validation node `i` (or the admin node with `None`).
    pub(crate) fn inject(
        &self,
        node: Option<usize>,
        faults: Faults,
        for_ms: Option<u64>,
    ) -> Result<(), CliError> {
        self.inject_request(
            node,
            FaultRequest {
                faults,
                for_ms,
                age_signing_key_s: 0,
            },
        )
    }

    pub(crate) fn inject_request(
        &self,
        node: Option<usize>,
        req: FaultRequest,
    ) -> Result<(), CliError> {
        let url = match node {
            Some(i) => &self.nodes.get(i).ok_or_else(|| err("no such node"))?.url,
            None => &self.admin.url,
        };
        let body = serde_json::to_value(&req).map_err(err)?;
        let (status, answer) = self.call("PUT", url, "/api/v1/faults", Some(body))?;
        if status != 200 {
            return Err(err(format!("injecting a fault: HTTP {status}: {answer}")));
        }
        let target = node.map_or_else(|| "the admin node".to_owned(), |i| format!("node {i}"));
        super::step(&format!("fault set on {target}: {}", describe(&req)));
        Ok(())
    }

    /// Rotates the signing key (admin API).
    pub(crate) fn rotate_key(&self) -> Result<(), CliError> {
        self.admin_ok("POST", "/api/v1/keys/rotate", None).map(drop)
    }

    /// Revokes the drill's license (admin API).
    pub(crate) fn revoke(&self) -> Result<(), CliError> {
        let path = format!("/api/v1/licenses/{}/revoke", self.license_id);
        self.admin_ok("POST", &path, Some(json!({ "reason": "drill" })))
            .map(drop)
    }

    /// Issues a license through `url` and says what came back (status, time taken).
    pub(crate) fn issue_through(&self, url: &str) -> Result<(u16, Duration), CliError> {
        let start = Instant::now();
        let body = json!({
            "product": "photo-pro", "licensee": "drill", "expires_at": 4_102_444_800_u64,
        });
        let (status, _) = self.call("POST", url, "/api/v1/licenses", Some(body))?;
        Ok((status, start.elapsed()))
    }

    /// The first incident for `rule` opened at or after `since` (unix seconds): its id.
    pub(crate) fn incident(&self, rule: &str, since: u64) -> Option<String> {
        let path = format!("/api/v1/incidents?rule={rule}&since={since}");
        let (status, answer) = self.call("GET", &self.admin.url, &path, None).ok()?;
        if status != 200 {
            return None;
        }
        let items = answer
            .get("items")
            .and_then(Value::as_array)
            .or_else(|| answer.as_array())?;
        items
            .iter()
            .find_map(|i| i.get("id").and_then(Value::as_str).map(str::to_owned))
    }

    /// Whether incident `id` is resolved.
    pub(crate) fn resolved(&self, id: &str) -> bool {
        self.call(
            "GET",
            &self.admin.url,
            &format!("/api/v1/incidents/{id}"),
            None,
        )
        .ok()
        .is_some_and(|(s, v)| {
            s == 200
                && (v.get("status").and_then(Value::as_str) == Some("resolved")
                    || v.pointer("/incident/status").and_then(Value::as_str) == Some("resolved"))
        })
    }

    /// Every open incident's rule (for "nothing was opened" expectations).
    pub(crate) fn incidents_since(&self, since: u64) -> Vec<String> {
        let path = format!("/api/v1/incidents?since={since}");
        let Ok((200, answer)) = self.call("GET", &self.admin.url, &path, None) else {
            return Vec::new();
        };
        let items = answer
            .get("items")
            .and_then(Value::as_array)
            .or_else(|| answer.as_array())
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .filter_map(|i| i.get("rule").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    fn check_command(&self, nodes: &[usize], extra: &[String], cache: &Path) -> Command {
        let urls: Vec<&str> = nodes
            .iter()
            .filter_map(|i| self.nodes.get(*i).map(|n| n.url.as_str()))
            .collect();
        let mut cmd = Command::new(&self.exe);
        cmd.arg("check")
            .arg("--nodes")
            .arg(urls.join(","))
            .arg("--keys")
            .arg(&self.keys_path)
            .arg("--cache")
            .arg(cache)
            .args(["--instance", "drill"])
            .args(["--timeout-ms", &TIMEOUT_MS.to_string()])
            .args(["--deadline-ms", &DEADLINE_MS.to_string()])
            .args(extra);
        cmd
    }

    /// A verifier checking the license every [`EVERY_MS`] until stopped.
    pub(crate) fn stream(&self) -> Result<Stream, CliError> {
        let extra = [
            "--count".to_owned(),
            "1000000".to_owned(),
            "--every-ms".to_owned(),
            EVERY_MS.to_string(),
        ];
        let mut cmd = self.check_command(&[0, 1, 2], &extra, &self.cache_path);
        cmd.arg(&self.license_path);
        Self::spawn_stream(cmd)
    }

    fn spawn_stream(mut cmd: Command) -> Result<Stream, CliError> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| err(format!("cannot start a verifier: {e}")))?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stderr_lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| err("no verifier stdout"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| err("no verifier stderr"))?;
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push(Seen::parse(&line, Instant::now()));
                }
            }
        });
        let sink = Arc::clone(&stderr_lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push(line);
                }
            }
        });
        let stream = Stream {
            child,
            seen,
            stderr: stderr_lines,
        };
        // Wait for the first verdict: the stream is running.
        let start = Instant::now();
        while stream.count() == 0 && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(stream)
    }

    /// A verifier checking its own license file every `every_ms` with its own cache (many
    /// machines, each with its license), until stopped.
    pub(crate) fn stream_of(
        &self,
        license: &Path,
        cache: &Path,
        every_ms: u64,
    ) -> Result<Stream, CliError> {
        let extra = [
            "--count".to_owned(),
            "1000000".to_owned(),
            "--every-ms".to_owned(),
            every_ms.to_string(),
        ];
        let mut cmd = self.check_command(&[0, 1, 2], &extra, cache);
        cmd.arg(license);
        Self::spawn_stream(cmd)
    }

    /// The lab's store URL (`sqlite://…`).
    pub(crate) fn db(&self) -> &str {
        &self.db
    }

    /// An admin request to the admin node that must succeed; its answer.
    pub(crate) fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        self.admin_ok(method, path, body)
    }

    /// The `lifeline` binary the lab runs.
    pub(crate) fn exe(&self) -> &Path {
        &self.exe
    }

    /// One check by a new verifier process: its verdict and exit code.
    pub(crate) fn check_once(
        &self,
        license: &Path,
        extra: &[String],
    ) -> Result<(Seen, Option<i32>), CliError> {
        let mut cmd = self.check_command(&[0, 1, 2], extra, &self.cache_path);
        let output = cmd
            .arg(license)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| err(format!("cannot run a verifier: {e}")))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().last().unwrap_or("");
        Ok((Seen::parse(line, Instant::now()), output.status.code()))
    }

    /// The admin token the lab's nodes share.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The temporary directory (for corrupted copies of files).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for node in self
            .nodes
            .iter_mut()
            .chain(std::iter::once(&mut self.admin))
        {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One verdict a verifier printed.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    pub(crate) state: String,
    pub(crate) reason: Option<String>,
    /// With `--seat`: where the machine's seat stands (`held`, `offline`, `refused`, `lost`).
    pub(crate) seat: Option<String>,
    /// The key that signed the license checked (a re-signed license names the new key).
    pub(crate) kid: Option<String>,
}

impl Seen {
    pub(crate) fn parse(line: &str, at: Instant) -> Self {
        let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        let state = v
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("no-verdict")
            .to_owned();
        let reason = v.get("reason").and_then(Value::as_str).map(str::to_owned);
        let seat = v
            .get("seat")
            .and_then(|s| s.get("state"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let kid = v.get("kid").and_then(Value::as_str).map(str::to_owned);
        Self {
            at,
            state,
            reason,
            seat,
            kid,
        }
    }

    /// Whether the verdict lets the user work.
    pub(crate) fn usable(&self) -> bool {
        matches!(
            self.state.as_str(),
            "valid" | "grace" | "override" | "offline"
        )
    }
}

/// A running verifier.
pub(crate) struct Stream {
    child: Child,
    seen: Arc<Mutex<Vec<Seen>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Stream {
    /// Verdicts so far.
    pub(crate) fn count(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }

    /// Verdicts seen after `since`.
    pub(crate) fn since(&self, since: Instant) -> Vec<Seen> {
        self.seen
            .lock()
            .map(|s| s.iter().filter(|x| x.at >= since).cloned().collect())
            .unwrap_or_default()
    }

    /// Waits up to `within` for a verdict after `since` matching `what`; when it came.
    pub(crate) fn wait_for(
        &self,
        since: Instant,
        within: Duration,
        what: impl Fn(&Seen) -> bool,
    ) -> Option<Instant> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(hit) = self.since(since).iter().find(|s| what(s)) {
                return Some(hit.at);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lines the verifier wrote on stderr containing `needle`.
    pub(crate) fn stderr_count(&self, needle: &str) -> usize {
        self.stderr
            .lock()
            .map_or(0, |s| s.iter().filter(|l| l.contains(needle)).count())
    }

    /// Stops it; everything it saw.
    pub(crate) fn stop(mut self) -> Vec<Seen> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A fault request in words, for the drill's steps.
fn describe(req: &FaultRequest) -> String {
    let f = &req.faults;
    let mut parts = Vec::new();
    if f.partition {
        parts.push("partition".to_owned());
    }
    if f.hang_validate_ms > 0 {
        parts.push(format!("validate stalls {} ms", f.hang_validate_ms));
    }
    if f.clock_offset_s != 0 {
        parts.push(format!("clock {:+} s", f.clock_offset_s));
    }
    if f.replay_answers {
        parts.push("replayed answers".to_owned());
    }
    if f.store_locked {
        parts.push("store locked".to_owned());
    }
    if req.age_signing_key_s > 0 {
        parts.push(format!("signing key aged {} s", req.age_signing_key_s));
    }
    if parts.is_empty() {
        parts.push("cleared".to_owned());
    }
    match req.for_ms {
        Some(ms) => format!("{} for {ms} ms", parts.join(", ")),
        None => parts.join(", "),
    }
}
