//! The validation client (`lifeline check`) against real `lifeline serve` processes on
//! 127.0.0.1 sharing one store: nodes killed, hanging, answering garbage or forged leases;
//! the lease cache corrupted; the clock set back; a revocation made during an outage.
//!
//! The nodes share one SQLite file, or the PostgreSQL database named by `LIFELINE_TEST_PG`
//! (`make pg-test` runs them that way too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{BIN, Serve, free_port, license_fixture};

const ADMIN: &str = "ll_failover-test-admin-token-0123456789abcdef";

/// `count` nodes over one store, a product, one license; the key set and license in files.
struct Setup {
    dir: tempfile::TempDir,
    nodes: Vec<Serve>,
    license_id: String,
}

impl Setup {
    fn new(count: usize) -> Self {
        Self::with_store(count, std::env::var("LIFELINE_TEST_PG").ok())
    }

    /// Nodes over a SQLite store of their own, even when the others share PostgreSQL: for a
    /// test that changes the store's keys (which would pull the ground from under the
    /// others).
    fn alone(count: usize) -> Self {
        Self::with_store(count, None)
    }

    fn with_store(count: usize, db: Option<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db =
            db.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("shared.db").display()));
        // Nodes of parallel tests sharing one PostgreSQL database start one at a time, so
        // their first-start migrations never race.
        static START: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = START
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let nodes: Vec<Serve> = (0..count)
            .map(|i| {
                let data = dir.path().join(format!("node{i}"));
                let data = data.to_str().unwrap();
                Serve::start(
                    &["--data-dir", data, "--db", &db],
                    &[("LIFELINE_ADMIN_TOKEN", ADMIN)],
                )
            })
            .collect();
        let license = license_fixture(&nodes[0], ADMIN, dir.path());
        Self {
            license_id: license["id"].as_str().unwrap().to_owned(),
            dir,
            nodes,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `lifeline check` with these node URLs and extra arguments.
    fn check_cmd(&self, urls: &[String], extra: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(["check", "--nodes", &urls.join(",")])
            .arg("--keys")
            .arg(self.path("keys.json"))
            .arg("--cache")
            .arg(self.path("cache.json"))
            .args(extra)
            .arg(self.path("license.jwt"));
        cmd
    }

    fn check(&self, urls: &[String], extra: &[&str]) -> (Value, Output) {
        let out = self.check_cmd(urls, extra).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().unwrap_or_else(|| {
            panic!(
                "no verdict; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (serde_json::from_str(last).unwrap(), out)
    }

    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url.clone()).collect()
    }
}

fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[test]
fn killing_one_of_three_nodes_under_a_steady_stream_fails_no_check() {
    let _lab = crate::common::beside_others();
    let mut setup = Setup::new(3);
    let mut child = setup
        .check_cmd(
            &setup.urls(),
            &["--count", "40", "--every-ms", "40", "--timeout-ms", "1000"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut states = Vec::new();
    for line in stdout.lines() {
        let verdict: Value = serde_json::from_str(&line.unwrap()).unwrap();
        states.push(verdict["state"].as_str().unwrap().to_owned());
        if states.len() == 10 {
            // The node the client prefers (the first) dies mid-stream.
            setup.nodes[0].kill();
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(states.len(), 40);
    assert!(states.iter().all(|s| s == "valid"), "{states:?}");
}

#[test]
fn with_every_node_down_the_cached_lease_carries_the_grace_then_it_runs_out() {
    let _lab = crate::common::beside_others();
    let mut setup = Setup::new(1);
    let urls = setup.urls();
    let grace = [
        "--offline-grace",
        "3",
        "--timeout-ms",
        "300",
        "--deadline-ms",
        "1000",
    ];
    let (online, _) = setup.check(&urls, &grace);
    assert_eq!(online["state"], "valid");
    setup.nodes[0].kill();
    let (offline, out) = setup.check(&urls, &grace);
    assert_eq!(offline["state"], "offline", "{offline}");
    assert_eq!(offline["reason"], "offline");
    assert!(out.status.success(), "offline is usable");
    assert!(offline["offline_until"].as_u64().is_some());
    std::thread::sleep(Duration::from_millis(3_200));
    let (gone, out) = setup.check(&urls, &grace);
    assert_eq!(gone["state"], "invalid");
    assert_eq!(gone["reason"], "offline_grace_exhausted");
    assert_eq!(out.status.code(), Some(1));
}

/// Accepts connections and never answers.
fn hanging_node() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    (url, handle)
}

/// Answers every request with `body` (status 200).
fn fake_node(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let _ = stream.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    url
}

#[test]
fn a_hanging_node_times_out_and_the_check_fails_over_within_the_deadline() {
    let _lab = crate::common::beside_others();
    let setup = Setup::new(1);
    let (hang, _h) = hanging_node();
    let started = Instant::now();
    let (verdict, _) = setup.check(
        &[hang, setup.nodes[0].url.clone()],
        &["--timeout-ms", "400", "--deadline-ms", "3000"],
    );
    assert_eq!(verdict["state"], "valid");
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn garbage_and_forged_answers_are_node_failures_never_verdicts() {
    let _lab = crate::common::beside_others();
    let setup = Setup::new(1);
    let garbage = fake_node(
        "{\"verdict\": {\"state\": \"invalid\", \"reason\": \"revoked\"}, nonsense".to_owned(),
    );
    // Well-formed, says revoked, but signed by a key that is not the server's.
    let forger = lifeline_core::LicenseSigner::from_seed("forger", &[66; 32]);
    let lease = forger
        .sign_lease(
            json!({"sub": setup.license_id, "state": "invalid", "reason": "revoked", "iat": 1, "exp": 2, "seq": u64::MAX})
                .as_object()
                .unwrap(),
        )
        .unwrap();
    let forged = fake_node(
        json!({"verdict": {"state": "invalid", "reason": "revoked"}, "revoked": true, "lease": lease, "lease_expires_at": 2})
            .to_string(),
    );
    let unsigned = fake_node(json!({"verdict": {"state": "invalid", "reason": "revoked"}, "revoked": true, "lease": null}).to_string());
    let real = setup.nodes[0].url.clone();
    let (verdict, out) = setup.check(
        &[garbage.clone(), forged.clone(), unsigned.clone(), real],
        &[],
    );
    assert_eq!(verdict["state"], "valid", "{verdict}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not verify") && stderr.contains("no signed lease"),
        "{stderr}"
    );
    // Only liars reachable: offline from the good lease just cached, never "revoked".
    let (verdict, _) = setup.check(&[garbage, forged, unsigned], &["--deadline-ms", "1500"]);
    assert_eq!(verdict["state"], "offline", "{verdict}");
}

#[test]
fn a_corrupted_lease_cache_is_discarded_refetched_and_never_trusted() {
    let _lab = crate::common::beside_others();
    let setup = Setup::new(1);
    let urls = setup.urls();
    let (v, _) = setup.check(&urls, &[]);
    assert_eq!(v["state"], "valid");
    // Flip a character of the cached lease's signature.
    let cache_path = setup.path("cache.json");
    let mut cache: Value = serde_json::from_slice(&std::fs::read(&cache_path).unwrap()).unwrap();
    let mut lease = cache["lease"].as_str().unwrap().as_bytes().to_vec();
    let i = lease.len() - 3;
    lease[i] = if lease[i] == b'A' { b'B' } else { b'A' };
    cache["lease"] = String::from_utf8(lease).unwrap().into();
    std::fs::write(&cache_path, cache.to_string()).unwrap();
    let down = ["--deadline-ms", "800", "--timeout-ms", "200"];
    let (v, _) = setup.check(&[dead_url()], &down);
    assert_eq!(
        v["reason"], "offline_grace_exhausted",
        "a forged lease is not trusted: {v}"
    );
    // A node answers again: the lease is refetched and the cache repaired.
    let (v, _) = setup.check(&urls, &[]);
    assert_eq!(v["state"], "valid");
    let (v, _) = setup.check(&[dead_url()], &down);
    assert_eq!(v["state"], "offline");
    // A cache that is not even JSON: discarded with a warning, rebuilt at the next answer.
    std::fs::write(&cache_path, b"\x00garbage").unwrap();
    let (v, out) = setup.check(&urls, &[]);
    assert_eq!(v["state"], "valid");
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupted"));
}

#[test]
fn a_clock_set_back_behind_a_signed_lease_is_refused_offline() {
    let _lab = crate::common::beside_others();
    let setup = Setup::new(1);
    let (v, _) = setup.check(&setup.urls(), &[]);
    assert_eq!(v["state"], "valid");
    // As if a lease had proven a time a day ahead of this clock.
    let cache_path = setup.path("cache.json");
    let mut cache: Value = serde_json::from_slice(&std::fs::read(&cache_path).unwrap()).unwrap();
    cache["trust"]["high_water"] = (cache["trust"]["high_water"].as_u64().unwrap() + 86_400).into();
    std::fs::write(&cache_path, cache.to_string()).unwrap();
    let (v, _) = setup.check(&[dead_url()], &["--deadline-ms", "800"]);
    assert_eq!(v["reason"], "clock_rollback", "{v}");
}

#[test]
fn a_revocation_made_during_an_outage_applies_at_the_first_successful_check() {
    let _lab = crate::common::beside_others();
    let setup = Setup::new(1);
    let urls = setup.urls();
    let (v, _) = setup.check(&urls, &[]);
    assert_eq!(v["state"], "valid");
    // The client cannot reach the server (its network is down) ...
    let (v, _) = setup.check(&[dead_url()], &["--deadline-ms", "800"]);
    assert_eq!(v["state"], "offline");
    // ... while an operator revokes the license.
    let (s, _) = setup.nodes[0].post(
        &format!("/api/v1/licenses/{}/revoke", setup.license_id),
        ADMIN,
        &json!({"reason": "chargeback"}),
    );
    assert_eq!(s, 200);
    let (v, out) = setup.check(&urls, &[]);
    assert_eq!(v["state"], "invalid", "{v}");
    assert_eq!(v["reason"], "revoked");
    assert_eq!(out.status.code(), Some(1));
    // And offline afterwards it stays revoked: the cached lease says so.
    let (v, _) = setup.check(&[dead_url()], &["--deadline-ms", "800"]);
    assert_eq!(v["reason"], "revoked");
}

#[test]
fn a_product_that_fails_closed_refuses_at_once_when_no_node_answers() {
    let _lab = crate::common::beside_others();
    let setup = Setup::new(1);
    let (s, closed) = setup.nodes[0].post(
        "/api/v1/licenses",
        ADMIN,
        &json!({"product": "app", "licensee": "bank", "expires_at": 4_102_444_800u64, "offline_grace_s": 0}),
    );
    assert_eq!(s, 201, "{closed}");
    std::fs::write(setup.path("license.jwt"), closed["token"].as_str().unwrap()).unwrap();
    let (v, _) = setup.check(&setup.urls(), &[]);
    assert_eq!(v["state"], "valid");
    assert_eq!(v["claims"]["offline_grace_s"], 0);
    let (v, _) = setup.check(&[dead_url()], &["--deadline-ms", "800"]);
    assert_eq!(v["reason"], "offline_grace_exhausted", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("fails closed"));
    // More than a year is refused when issuing.
    let (s, problem) = setup.nodes[0].post(
        "/api/v1/licenses",
        ADMIN,
        &json!({"product": "app", "licensee": "bank", "expires_at": 4_102_444_800u64, "offline_grace_s": 40_000_000u64}),
    );
    assert_eq!(
        (s, problem["code"].as_str()),
        (422, Some("invalid_field")),
        "{problem}"
    );
    assert_eq!(problem["field"], "offline_grace_s");
}

#[test]
fn an_extended_license_replaces_the_license_file_at_the_next_check_mode_kept() {
    use std::os::unix::fs::PermissionsExt;
    let _lab = crate::common::beside_others();
    let setup = Setup::new(2);
    let file = setup.path("license.jwt");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::read_to_string(&file).unwrap();
    let (v, out) = setup.check(&setup.urls()[..1], &[]);
    assert_eq!(v["state"], "valid", "{v}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        before,
        "nothing newer yet"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("renewed"));

    // The vendor renews the license on one node; the client asks the other.
    let (s, extended) = setup.nodes[1].post(
        &format!("/api/v1/licenses/{}/extend", setup.license_id),
        ADMIN,
        &json!({"expires_at": 4_200_000_000u64, "reason": "renewal order 7"}),
    );
    assert_eq!(s, 200, "{extended}");
    let mut renewed = false;
    for _ in 0..20 {
        let (v, out) = setup.check(&setup.urls()[..1], &[]);
        assert_eq!(v["state"], "valid", "{v}");
        if v["expires_at"] == 4_200_000_000u64 {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // One version counter for the store (shared with other tests on PostgreSQL).
            let version = format!("renewed (version {})", extended["version"]);
            assert!(stderr.contains(&version), "{stderr}");
            renewed = true;
            break;
        }
        // The other node reads re-signed licenses every second.
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(renewed, "the check never picked up the renewal");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        extended["token"].as_str().unwrap(),
        "the file holds the renewed license"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the file's mode is kept");
    assert!(
        std::fs::read_dir(setup.dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".lifeline-new")),
        "no temporary file left"
    );
    // The next check finds nothing newer and changes nothing.
    let (v, out) = setup.check(&setup.urls(), &[]);
    assert_eq!(v["expires_at"], 4_200_000_000u64);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("renewed"));
}

#[test]
fn keys_compromise_recovers_in_one_command_and_the_check_picks_up_the_re_signed_license() {
    let _lab = crate::common::beside_others();
    // Its own store: marking the key compromised rotates and re-signs everything in it (the
    // same on PostgreSQL: `lifeline-server`'s API tests run it there).
    let setup = Setup::alone(2);
    let server = setup.nodes[0].url.clone();
    let file = setup.path("license.jwt");
    let old = std::fs::read_to_string(&file).unwrap();
    std::fs::write(setup.path("old.jwt"), &old).unwrap();
    assert_eq!(setup.check(&setup.urls(), &[]).0["state"], "valid");

    let out = crate::common::lifeline_as(ADMIN, &["keys", "list", "--server", &server]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kid = keys[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(keys[0]["status"], "active");

    let compromise = |reason: &str| {
        crate::common::lifeline_as(
            ADMIN,
            &[
                "keys",
                "compromise",
                &kid,
                "--reason",
                reason,
                "--incident",
                "INC-7",
                "--server",
                &server,
            ],
        )
    };
    let out = compromise("key file copied to a laptop that was stolen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("re-signing 1 licenses"), "{stderr}");
    assert!(stderr.contains("marked compromised"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["re_signed"].as_u64(), report["rotated"].as_bool()),
        (Some(1), Some(true))
    );
    let new_kid = report["active_kid"].as_str().unwrap().to_owned();

    // The verifier refreshes its key set (as it should on a schedule) and the list.
    let get = |path: &str| {
        crate::common::agent()
            .get(format!("{server}{path}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    std::fs::write(
        setup.path("keys.json"),
        get("/.well-known/lifeline/keys.json"),
    )
    .unwrap();
    std::fs::write(
        setup.path("issued.jwt"),
        get(&format!("/.well-known/lifeline/issued/{kid}")),
    )
    .unwrap();
    // Offline, the old license verifies with the list and not without it.
    let verify = |extra: &[&str]| {
        Command::new(BIN)
            .args(["verify", "--keys"])
            .arg(setup.path("keys.json"))
            .args(extra)
            .arg(setup.path("old.jwt"))
            .output()
            .unwrap()
    };
    let without = verify(&[]);
    assert_eq!(without.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without.stdout).contains("key_compromised"));
    let list = setup.path("issued.jwt");
    let with = verify(&["--issued-list", list.to_str().unwrap()]);
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stdout)
    );

    // Online, the next check is valid and replaces the file with the re-signed license.
    let (v, out) = setup.check(&setup.urls(), &[]);
    assert_eq!(v["state"], "valid", "{v}");
    assert_eq!(v["kid"], json!(new_kid));
    assert!(String::from_utf8_lossy(&out.stderr).contains("renewed"));
    let now_held = std::fs::read_to_string(&file).unwrap();
    assert_ne!(now_held.trim(), old.trim());
    let inspected = lifeline_core::inspect(now_held.trim().as_bytes()).unwrap();
    assert_eq!(inspected.header["kid"], json!(new_kid));

    // Twice: refused with the reason, nothing changed.
    let again = compromise("again");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already_compromised"));
}
