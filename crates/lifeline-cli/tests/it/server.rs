//! `lifeline serve` and `lifeline provision` as real processes over real HTTP on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{BIN, Serve, agent, free_port};

/// A `lifeline serve` over its own data directory (its admin token in `DATA/admin-token`).
struct Node {
    serve: Serve,
    data: PathBuf,
}

impl Node {
    fn start(data: &Path, port: u16) -> Self {
        Self::start_with(data, port, &[])
    }

    /// Starts `lifeline serve` with extra environment variables.
    fn start_with(data: &Path, port: u16, env: &[(&str, &Path)]) -> Self {
        Self::start_full(data, port, &[], env)
    }

    /// Starts `lifeline serve` with extra arguments and environment variables.
    fn start_full(data: &Path, port: u16, args: &[&str], env: &[(&str, &Path)]) -> Self {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.to_str().unwrap())).collect();
        let mut all = vec!["--data-dir", data.to_str().unwrap()];
        all.extend_from_slice(args);
        Self {
            serve: Serve::start_on(port, &all, &env),
            data: data.to_owned(),
        }
    }

    fn url(&self) -> String {
        self.serve.url.clone()
    }

    fn admin(&self) -> String {
        std::fs::read_to_string(self.data.join("admin-token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.serve.get(path, token)
    }

    fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.serve.post(path, token, body)
    }

    fn create_product(&self, admin: &str) {
        let (status, body) = self.post(
            "/api/v1/products",
            admin,
            &json!({"id": "photo-pro", "name": "Photo Pro"}),
        );
        assert_eq!(status, 201, "{body}");
    }

    /// SIGKILL: no shutdown, no flush, nothing but what the store already made durable.
    fn kill(mut self) {
        self.serve.kill();
    }
}

fn csv(dir: &Path, n: usize, bad_row: Option<usize>) -> PathBuf {
    let path = dir.join("licenses.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "product,licensee,expires_at,entitlements,grace_s,seats").unwrap();
    for i in 0..n {
        let exp: u64 = if Some(i) == bad_row { 1 } else { 4_102_444_800 };
        writeln!(f, "photo-pro,customer-{i:05},{exp},export;raw,86400,5").unwrap();
    }
    path
}

fn provision(
    node_url: &str,
    token: &str,
    file: &Path,
    out: &Path,
    batch: usize,
    parallel: usize,
) -> Output {
    Command::new(BIN)
        .args([
            "provision",
            "--server",
            node_url,
            "--file",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--batch",
            &batch.to_string(),
            "--parallel",
            &parallel.to_string(),
        ])
        .env("LIFELINE_TOKEN", token)
        .output()
        .unwrap()
}

fn all_license_ids(node: &Node, token: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor
            .as_ref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let (_, page) = node.get(&format!("/api/v1/licenses?limit=500{q}"), Some(token));
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return ids;
        }
    }
}

/// The ids in a `--out` file, ignoring a last line still being written.
fn out_ids(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn provision_issues_a_csv_and_resumes_without_duplicates() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), free_port());
    let admin = node.admin();
    node.create_product(&admin);

    // Row 250 is bad: batches before it are committed, the command stops with the line.
    let file = csv(dir.path(), 400, Some(250));
    let out = dir.path().join("out.jsonl");
    let first = provision(&node.url(), &admin, &file, &out, 100, 1);
    assert_eq!(
        first.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("licenses 201..300") && stderr.contains("licenses[50]"),
        "{stderr}"
    );
    assert_eq!(all_license_ids(&node, &admin).len(), 200);

    // Fixed file, same command: the 200 already issued are not issued again.
    let file = csv(dir.path(), 400, None);
    let second = provision(&node.url(), &admin, &file, &out, 100, 2);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("200 issued now, 200 already issued"),
        "{stderr}"
    );
    let mut ids = all_license_ids(&node, &admin);
    assert_eq!(ids.len(), 400);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400, "no duplicates");
    assert_eq!(
        out_ids(&out).len(),
        400,
        "--out lists every license of the file"
    );

    // Bad input: a clear error with the line, exit 2, nothing issued.
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, "product,licensee,expires_at\nphoto-pro,x,soon\n").unwrap();
    let bad = provision(&node.url(), &admin, &broken, &out, 100, 2);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("broken.csv:2: expires_at must be a whole number")
    );
    let wrong = Command::new(BIN)
        .args([
            "provision",
            "--server",
            &node.url(),
            "--file",
            file.to_str().unwrap(),
        ])
        .env("LIFELINE_TOKEN", "ll_nope")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("unauthorized"));
}

#[test]
fn sigkill_during_bulk_provisioning_loses_no_acknowledged_license_or_event() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let node = Node::start(&data, port);
    let admin = node.admin();
    node.create_product(&admin);
    let (_, before) = node.get("/api/v1/audit", Some(&admin));
    let events_before = before["items"].as_array().unwrap().len();

    let n = 6_000;
    let file = csv(dir.path(), n, None);
    let out = dir.path().join("out.jsonl");
    let url = node.url();
    let (f, o, a) = (file.clone(), out.clone(), admin.clone());
    let provisioning = std::thread::spawn(move || provision(&url, &a, &f, &o, 200, 2));

    // Kill the server once some batches are acknowledged, while others are in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while out_ids(&out).len() < 1_000 {
        assert!(Instant::now() < deadline, "provisioning made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    node.kill();
    let acknowledged = out_ids(&out);
    assert!(
        acknowledged.len() < n,
        "the kill came too late to prove anything"
    );

    // Restart on the same data; the provisioning run retries and finishes.
    let node = Node::start(&data, port);
    let done = provisioning.join().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    let ids: std::collections::HashSet<String> =
        all_license_ids(&node, &admin).into_iter().collect();
    for id in &acknowledged {
        assert!(ids.contains(id), "acknowledged license {id} was lost");
    }
    assert_eq!(ids.len(), n, "every license exactly once");
    let (_, chain) = node.get("/api/v1/audit/verify", Some(&admin));
    assert_eq!(chain["intact"], true, "{chain}");
    // And checked independently by the CLI, from the events alone.
    let check = Command::new(BIN)
        .args(["audit", "verify", "--server", &node.url()])
        .env("LIFELINE_TOKEN", &admin)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["intact"], true);
    assert_eq!(report["events"], chain["events"]);
    let events = chain["events"].as_u64().unwrap() as usize;
    assert!(
        events >= events_before + n / 200,
        "every committed batch left its audit event ({events})"
    );
}

#[test]
fn a_client_dribbling_headers_is_cut_off_while_others_are_served() {
    let _lab = crate::common::beside_others();
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), free_port());
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", node.serve.port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Meanwhile a well-behaved client is served at once.
    assert_eq!(node.get("/healthz", None).0, 200);
    // Then the dribbler keeps sending a byte now and then, never finishing its headers.
    let mut rest = Vec::new();
    let closed = loop {
        std::thread::sleep(Duration::from_millis(500));
        if slow.write_all(b"X").is_err() {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(25) {
            panic!("the slow connection is still open after 25 s");
        }
        slow.set_nonblocking(true).unwrap();
        let read = slow.read_to_end(&mut rest);
        slow.set_nonblocking(false).unwrap();
        if read.is_ok() {
            break started.elapsed();
        }
    };
    let limit = lifeline_server::HEADER_READ_TIMEOUT;
    assert!(
        closed >= limit - Duration::from_secs(1),
        "closed after {closed:?}, before the deadline"
    );
    assert!(
        closed <= limit + Duration::from_secs(5),
        "closed only after {closed:?}"
    );
}

#[test]
fn serve_console_serves_the_app_and_refuses_a_directory_without_index_html() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    let index = "<!doctype html><title>console</title><script src=\"/app-1a2b.js\"></script>";
    std::fs::write(dist.join("index.html"), index).unwrap();
    std::fs::write(dist.join("app-1a2b.js"), "console.log(1);").unwrap();
    let node = Node::start_with(
        &dir.path().join("data"),
        free_port(),
        &[("LIFELINE_CONSOLE_DIR", &dist)],
    );
    let fetch = |path: &str| {
        let mut r = agent()
            .get(&format!("{}{path}", node.url()))
            .call()
            .unwrap();
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (content_type, cache) = (header("content-type"), header("cache-control"));
        (
            r.status().as_u16(),
            content_type,
            cache,
            r.body_mut().read_to_string().unwrap(),
        )
    };
    for path in ["/", "/licenses/0195e2a0"] {
        let (status, content_type, cache, body) = fetch(path);
        assert_eq!((status, body.as_str()), (200, index), "{path}");
        assert_eq!(
            (content_type.as_str(), cache.as_str()),
            ("text/html", "no-cache")
        );
    }
    let (status, content_type, cache, body) = fetch("/app-1a2b.js");
    assert_eq!((status, body.as_str()), (200, "console.log(1);"));
    assert_eq!(content_type, "text/javascript");
    assert_eq!(cache, "public, max-age=31536000, immutable");
    let (status, _, _, body) = fetch("/api/v1/nope");
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["code"],
        "not_found"
    );
    assert_eq!(node.get("/healthz", None).0, 200);
    drop(node);

    // A directory that is not a built console: the start fails, saying why.
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data2"))
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--console")
        .arg(dir.path())
        .env_remove("LIFELINE_ADMIN_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve --console without index.html did not fail");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.contains("no index.html"), "{stderr}");
    assert!(
        !dir.path().join("data2").exists(),
        "nothing is created before the check"
    );
}

use crate::common::lifeline_as as lifeline;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn override_create_makes_an_expired_license_usable_offline_until_revoked() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_full(&dir.path().join("data"), free_port(), &["--demo=data"], &[]);
    let admin = node.admin();
    let url = node.url();
    let (_, page) = node.get("/api/v1/licenses?state=expired", Some(&admin));
    let expired = &page["items"][0];
    let id = expired["id"].as_str().unwrap();
    let license = dir.path().join("license.jwt");
    std::fs::write(&license, expired["token"].as_str().unwrap()).unwrap();
    let (_, jwks) = node.get("/.well-known/lifeline/keys.json", None);
    let keys = dir.path().join("keys.json");
    std::fs::write(&keys, jwks.to_string()).unwrap();
    let verify = |overrides: &[&Path]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["verify", "--keys", keys.to_str().unwrap()]);
        for o in overrides {
            cmd.arg("--override").arg(o);
        }
        let out = cmd.arg(&license).output().unwrap();
        let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), verdict)
    };
    let (code, verdict) = verify(&[]);
    assert_eq!(
        (code, verdict["reason"].as_str()),
        (Some(1), Some("expired"))
    );

    // A 2-hour override for this license: signed at once, the token alone on stdout.
    let scope = format!("license:{id}");
    let create = |extra: &[&str]| {
        let mut args = vec![
            "override",
            "create",
            "--server",
            &url,
            "--scope",
            &scope,
            "--reason",
            "billing outage",
            "--incident",
            "INC-9",
        ];
        args.extend_from_slice(extra);
        lifeline(&admin, &args)
    };
    let out = create(&["--hours", "2", "--token-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap();
    let ovr = dir.path().join("override.jwt");
    std::fs::write(&ovr, token.trim()).unwrap();
    let (code, verdict) = verify(&[&ovr]);
    assert_eq!(
        (code, verdict["state"].as_str()),
        (Some(0), Some("override")),
        "{verdict}"
    );

    // Listed as active; a long one waits for a second admin, who is not the creator.
    let out = lifeline(
        &admin,
        &["override", "list", "--server", &url, "--status", "active"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let active: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["token"].as_str().unwrap(), token.trim());
    let ovr_id = active[0]["id"].as_str().unwrap();
    let out = create(&["--hours", "100", "--effect", "extend-grace:86400"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pending: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pending["status"], "pending_approval");
    assert!(stderr(&out).contains("waits for approval"));
    let pending_id = pending["id"].as_str().unwrap();
    let out = lifeline(
        &admin,
        &["override", "approve", "--server", &url, pending_id],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("same_person"), "{}", stderr(&out));

    // Revoked: listed so, and refused a second time with the server's problem.
    let revoke = || {
        lifeline(
            &admin,
            &[
                "override",
                "revoke",
                "--server",
                &url,
                ovr_id,
                "--reason",
                "billing fixed",
            ],
        )
    };
    let out = revoke();
    assert!(out.status.success(), "{}", stderr(&out));
    let revoked: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(revoked["status"], "revoked");
    let out = revoke();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("HTTP 409, conflict"),
        "{}",
        stderr(&out)
    );
    let out = lifeline(&admin, &["override", "list", "--server", &url]);
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending_approval", "revoked"]);

    // Bad input: exit 2 with a clear message, nothing created.
    for (extra, message) in [
        (vec!["--hours", "721"], "expiry_too_far"),
        (vec!["--hours", "0"], "--hours must be at least 1"),
        (vec!["--effect", "forever"], "is not an effect"),
    ] {
        let out = create(&extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(out.stdout.is_empty());
        assert!(
            stderr(&out).contains(message),
            "{extra:?}: {}",
            stderr(&out)
        );
    }
    let out = lifeline(
        &admin,
        &[
            "override",
            "create",
            "--server",
            &url,
            "--scope",
            "everything",
            "--reason",
            "r",
            "--incident",
            "i",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a scope"));
    let out = lifeline("ll_nope", &["override", "list", "--server", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unauthorized"));
    let out = lifeline(&admin, &["override", "list", "--server", &url]);
    let after: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after.as_array().unwrap().len(), 2, "nothing created");
    let (_, chain) = node.get("/api/v1/audit/verify", Some(&admin));
    assert_eq!(chain["intact"], true, "{chain}");
}

/// `serve --rules FILE --evaluate-every 1`: the node registers itself, evaluates the rules on
/// its own every second and opens an incident; a bad rules file stops the start.
#[test]
fn serve_evaluates_the_rules_from_a_file_on_its_own() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"min_requests": 3, "disabled": ["reason_surge"]}"#,
    )
    .unwrap();
    let node = Node::start_full(
        &dir.path().join("data"),
        free_port(),
        &["--rules", rules.to_str().unwrap(), "--evaluate-every", "1"],
        &[],
    );
    let admin = node.admin();
    let (status, nodes) = node.get("/api/v1/nodes", Some(&admin));
    assert_eq!(status, 200);
    assert_eq!(nodes.as_array().unwrap().len(), 1, "{nodes}");
    assert_eq!(nodes[0]["reachable"], true);
    for _ in 0..3 {
        let (status, _) = agent()
            .post(&format!("{}/api/v1/validate", node.url()))
            .send_json(json!({"token": "garbage"}))
            .map(|r| (r.status().as_u16(), ()))
            .unwrap();
        assert_eq!(status, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let incidents = loop {
        let (_, list) = node.get("/api/v1/incidents", Some(&admin));
        if list.as_array().is_some_and(|l| !l.is_empty()) {
            break list;
        }
        assert!(Instant::now() < deadline, "no incident opened");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    assert_eq!(incidents[0]["rule"], "validation_failure_ratio");
    assert_eq!(incidents[0]["evidence"]["verdicts"], 3);
    drop(node);

    // A rules file with a typo or a nonsensical value: the start fails, saying why.
    for (text, says) in [
        (r#"{"min_request": 3}"#, "unknown field"),
        (r#"{"failure_ratio": 2}"#, "failure_ratio"),
    ] {
        std::fs::write(&rules, text).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("data3"))
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .arg("--rules")
            .arg(&rules)
            .env_remove("LIFELINE_ADMIN_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
}
