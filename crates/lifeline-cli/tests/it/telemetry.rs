//! `lifeline check --telemetry` against a real `lifeline serve` process on 127.0.0.1 with a
//! real SQLite store: the checks' verdicts reach `POST /api/v1/telemetry` in batches and the
//! server aggregates them (overview, `/metrics`); a refused or undeliverable post changes no
//! verdict and no exit code, is said once on stderr and never shows the token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::{BIN, Serve, agent, free_port, license_fixture};

const ADMIN: &str = "ll_telemetry-test-admin-token-0123456789abcdef";

/// One `lifeline serve` on its own SQLite file, a product, a license, a viewer token; the
/// key set and the license in files. The server is SIGKILLed when dropped.
struct Setup {
    dir: tempfile::TempDir,
    /// The server, alive as long as the setup.
    _node: Serve,
    url: String,
    viewer: String,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let node = Serve::start(
            &["--data-dir", data.to_str().unwrap()],
            &[("LIFELINE_ADMIN_TOKEN", ADMIN)],
        );
        license_fixture(&node, ADMIN, dir.path());
        let (s, token) = node.post(
            "/api/v1/tokens",
            ADMIN,
            &json!({"name": "verifiers", "role": "viewer"}),
        );
        assert_eq!(s, 201, "{token}");
        Self {
            url: node.url.clone(),
            viewer: token["token"].as_str().unwrap().to_owned(),
            dir,
            _node: node,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn get_json(&self, path: &str) -> Value {
        let mut r = agent()
            .get(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {ADMIN}"))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.body_mut().read_json().unwrap()
    }

    fn metrics(&self) -> String {
        agent()
            .get(&format!("{}/metrics", self.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    /// The value of one `/metrics` sample (0 when absent).
    fn metric(&self, sample: &str) -> u64 {
        self.metrics()
            .lines()
            .find_map(|l| {
                l.strip_prefix(sample)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    /// `lifeline check` against `nodes` with the setup's key set and license.
    fn check(&self, nodes: &str, cache: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(["check", "--nodes", nodes, "--keys"])
            .arg(self.path("keys.json"))
            .arg("--cache")
            .arg(self.path(cache))
            .args(["--timeout-ms", "1000", "--deadline-ms", "2000"])
            .args(extra)
            .arg(self.path("license.jwt"))
            .env_remove("LIFELINE_TELEMETRY_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

fn states(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const POSTED: &str =
    "lifeline_http_requests_total{route=\"/api/v1/telemetry\",method=\"POST\",status=\"202\"}";
const REFUSED: &str =
    "lifeline_http_requests_total{route=\"/api/v1/telemetry\",method=\"POST\",status=\"401\"}";

#[test]
fn check_posts_telemetry_in_batches_and_the_server_aggregates_it() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let out = s.check(
        &s.url,
        "batches.json",
        &[
            "--telemetry",
            "--service",
            "cli-shop",
            "--instance",
            "box-1",
            "--count",
            "5",
            "--every-ms",
            "20",
            "--telemetry-every",
            "2",
        ],
        &[("LIFELINE_TELEMETRY_TOKEN", &s.viewer)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(states(&out), ["valid"; 5]);
    assert!(!stderr(&out).contains("telemetry"), "{}", stderr(&out));
    // After checks 2 and 4 (--telemetry-every 2), and the rest at the end.
    assert_eq!(s.metric(POSTED), 3);
    assert_eq!(
        s.metric("lifeline_edge_verdicts_total{service=\"cli-shop\",state=\"valid\"}"),
        5
    );
    assert_eq!(
        s.metric("lifeline_edge_verdicts_total{service=\"cli-shop\",state=\"invalid\"}"),
        0
    );

    // A tampered license: an invalid verdict, counted by reason; exit 1 as without telemetry.
    let token = std::fs::read_to_string(s.path("license.jwt")).unwrap();
    let tampered = format!("{}A", token.trim());
    std::fs::write(s.path("license.jwt"), tampered).unwrap();
    let out = s.check(
        &s.url,
        "tampered.json",
        &["--telemetry", "--service", "cli-shop"],
        &[("LIFELINE_TELEMETRY_TOKEN", &s.viewer)],
    );
    std::fs::write(s.path("license.jwt"), token).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(states(&out), ["invalid"]);
    assert_eq!(s.metric(POSTED), 4);
    assert_eq!(
        s.metric("lifeline_edge_verdicts_total{service=\"cli-shop\",state=\"invalid\"}"),
        1
    );

    let overview = s.get_json("/api/v1/overview");
    let shop = overview["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["service"] == "cli-shop")
        .unwrap_or_else(|| panic!("no cli-shop in {}", overview["services"]));
    // box-1, and the second run's default instance (HOSTNAME:PID).
    assert_eq!(shop["instances"], 2, "{shop}");
    let edge = overview["edge"].as_array().unwrap();
    let requests: u64 = edge.iter().map(|m| m["requests"].as_u64().unwrap()).sum();
    let failures: u64 = edge.iter().map(|m| m["failures"].as_u64().unwrap()).sum();
    assert_eq!((requests, failures), (6, 1));
    assert!(
        edge.iter().any(|m| m["p50_ms"].as_f64().is_some()),
        "latencies: {overview}"
    );
}

#[test]
fn a_refused_or_undeliverable_post_changes_no_verdict_and_no_exit_code() {
    let _lab = crate::common::beside_others();
    let s = Setup::new();
    let secret = "ll_wrong-telemetry-secret-0123456789abcdef";
    // Refused (401): every batch is tried, stderr says so once, the token never shows.
    let out = s.check(
        &s.url,
        "refused.json",
        &[
            "--telemetry",
            "--telemetry-token",
            secret,
            "--count",
            "3",
            "--every-ms",
            "10",
            "--telemetry-every",
            "1",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(states(&out), ["valid"; 3]);
    assert_eq!(err.matches("telemetry not delivered").count(), 1, "{err}");
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(!err.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret));
    assert_eq!(s.metric(REFUSED), 3);
    assert_eq!(s.metric(POSTED), 0);
    assert!(
        !s.metrics()
            .contains("lifeline_edge_verdicts_total{service=")
    );

    // No node reachable: offline from the cached lease (usable, exit 0), one line on stderr.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = s.check(
        &dead,
        "refused.json",
        &["--telemetry"],
        &[("LIFELINE_TELEMETRY_TOKEN", &s.viewer)],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(states(&out), ["offline"]);
    assert_eq!(err.matches("telemetry not delivered").count(), 1, "{err}");
    assert!(err.contains("no node reachable"), "{err}");
    assert!(!err.contains(&s.viewer));

    // --telemetry without a token: said once, the check runs as without telemetry.
    let out = s.check(&s.url, "refused.json", &["--telemetry"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(states(&out), ["valid"]);
    assert!(
        stderr(&out).contains("--telemetry needs"),
        "{}",
        stderr(&out)
    );

    // A service name the server would refuse is a usage error, before any check.
    let out = s.check(
        &s.url,
        "refused.json",
        &["--telemetry", "--service", "a b"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());

    // The token from the environment is not shown by --help.
    let help = Command::new(BIN)
        .args(["check", "--help"])
        .env("LIFELINE_TELEMETRY_TOKEN", secret)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("LIFELINE_TELEMETRY_TOKEN"));
    assert!(!String::from_utf8_lossy(&help.stdout).contains(secret));
    assert!(Path::new(&s.path("refused.json")).exists());
}
