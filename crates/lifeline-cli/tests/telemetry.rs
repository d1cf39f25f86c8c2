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

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lifeline");
const ADMIN: &str = "ll_telemetry-test-admin-token-0123456789abcdef";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// One `lifeline serve` on its own SQLite file, a product, a license, a viewer token; the
/// key set and the license in files. The server is SIGKILLed when dropped.
struct Setup {
    dir: tempfile::TempDir,
    child: Child,
    url: String,
    viewer: String,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("LIFELINE_ADMIN_TOKEN", ADMIN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent()
            .get(&format!("{url}/readyz"))
            .call()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
            != 200
        {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut setup = Self {
            dir,
            child,
            url,
            viewer: String::new(),
        };
        let (s, _) = setup.post("/api/v1/products", &json!({"id": "app", "name": "App"}));
        assert_eq!(s, 201);
        let (s, license) = setup.post(
            "/api/v1/licenses",
            &json!({"product": "app", "licensee": "acme", "expires_at": 4_102_444_800u64, "entitlements": ["pro"]}),
        );
        assert_eq!(s, 201, "{license}");
        std::fs::write(
            setup.path("license.jwt"),
            license["token"].as_str().unwrap(),
        )
        .unwrap();
        let keys = agent()
            .get(&format!("{}/.well-known/lifeline/keys.json", setup.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        std::fs::write(setup.path("keys.json"), keys).unwrap();
        let (s, token) = setup.post(
            "/api/v1/tokens",
            &json!({"name": "verifiers", "role": "viewer"}),
        );
        assert_eq!(s, 201, "{token}");
        setup.viewer = token["token"].as_str().unwrap().to_owned();
        setup
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut r = agent()
            .post(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {ADMIN}"))
            .send_json(body)
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or(Value::Null),
        )
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
