//! The alert rules and the metrics as Prometheus's own tool reads them (Debian's
//! `prometheus` package, installed by `.ci/setup`): the rules load, each alert fires on its
//! input series and not on a near miss (`lifeline-alerts.test.yml`), and a node's `/metrics`,
//! after traffic of every kind, passes `promtool check metrics` without a complaint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::{Serve, agent};

const ADMIN: &str = "ll_monitoring-test-admin-token-0123456789abcdef";

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lifeline-server/deploy")
}

fn promtool(args: &[&str], stdin: Option<&[u8]>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(deploy())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run .ci/setup (Debian's prometheus package)");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_alert_rules_load_and_each_fires_only_when_it_should() {
    let (ok, out) = promtool(&["check", "rules", "lifeline-alerts.yml"], None);
    assert!(ok && out.contains("SUCCESS: 13 rules found"), "{out}");
    let (ok, out) = promtool(&["test", "rules", "lifeline-alerts.test.yml"], None);
    assert!(ok && out.contains("SUCCESS"), "{out}");
}

/// The systemd unit verifies with no complaint (its ExecStart pointed at this build's binary,
/// which `verify` wants to exist), and names flags `lifeline serve` has.
#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(deploy().join("lifeline.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/lifeline "))
        .expect("ExecStart runs /usr/local/bin/lifeline");
    let help = Command::new(crate::common::BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in exec.split_whitespace().filter(|w| w.starts_with("--")) {
        assert!(help.contains(flag), "lifeline serve has no {flag}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifeline.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/lifeline", crate::common::BIN),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", path.to_str().unwrap()])
        .output()
        .expect("systemd-analyze not found: run .ci/setup (Debian's systemd package)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );
}

#[test]
fn a_nodes_metrics_pass_promtool_check_metrics() {
    let _lab = crate::common::beside_others();
    let dir = tempfile::tempdir().unwrap();
    let node = Serve::start(
        &["--data-dir", dir.path().to_str().unwrap()],
        &[("LIFELINE_ADMIN_TOKEN", ADMIN)],
    );
    // Traffic of every kind the metrics count: a product, a license with a seat, validations
    // valid and refused, seats granted and refused, telemetry from an edge.
    traffic(&node, std::time::Duration::from_secs(1));
    let mut metrics = agent().get(format!("{}/metrics", node.url)).call().unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.body_mut().read_to_string().unwrap();
    for family in [
        "lifeline_validations_total",
        "lifeline_licenses",
        "lifeline_seats_in_use",
        "lifeline_seat_requests_total",
        "lifeline_signing_key_expiration_timestamp_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{text}"
        );
    }
    let (ok, out) = promtool(&["check", "metrics"], Some(text.as_bytes()));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics complains:\n{out}"
    );
}

/// Percent-encodes a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Validations (usable and refused), seat activations (granted and refused) and verifier
/// telemetry against `node` for `how_long`.
fn traffic(node: &Serve, how_long: std::time::Duration) {
    assert_eq!(
        node.post(
            "/api/v1/products",
            ADMIN,
            &json!({"id": "app", "name": "App"})
        )
        .0,
        201
    );
    let (status, license) = node.post(
        "/api/v1/licenses",
        ADMIN,
        &json!({"product": "app", "licensee": "acme", "expires_at": 4_102_444_800u64, "seats": 1}),
    );
    assert_eq!(status, 201, "{license}");
    let token = license["token"].as_str().unwrap().to_owned();
    let post = |path: &str, body: serde_json::Value| {
        agent()
            .post(format!("{}{path}", node.url))
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap()
            .status()
            .as_u16()
    };
    let started = std::time::Instant::now();
    let mut round = 0u64;
    while started.elapsed() < how_long {
        assert_eq!(post("/api/v1/validate", json!({ "token": token })), 200);
        assert_eq!(
            post("/api/v1/validate", json!({ "token": "not-a-token" })),
            200
        );
        let seat = post(
            "/api/v1/seats",
            json!({ "token": token, "fingerprint": format!("m{round}") }),
        );
        assert!(seat == 200 || seat == 201, "{seat}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let report = json!({
            "service": "edge-1", "instance": "i1", "window_start": now.saturating_sub(1), "window_end": now,
            "by_state": {"valid": 5, "invalid": 5}, "by_reason": {"bad_signature": 5},
            "latency_buckets": vec![10u64; lifeline_core::LATENCY_BUCKETS_SECS.len() + 1],
            "latency_bounds_seconds": lifeline_core::LATENCY_BUCKETS_SECS, "count": 10,
        });
        let (status, answer) = node.post("/api/v1/telemetry", ADMIN, &report);
        assert_eq!(status, 202, "{answer}");
        round += 1;
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Runs every query of every panel of the Grafana dashboard against Prometheus: each must
/// succeed and return data while the lab has traffic.
fn check_dashboard(query: &dyn Fn(&str) -> serde_json::Value) {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy().join("grafana/lifeline.json")).unwrap(),
    )
    .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let answer = query(&format!("/api/v1/query?query={}", encode(expr)));
            assert_eq!(
                answer["status"], "success",
                "{}: {expr}: {answer}",
                panel["title"]
            );
            assert!(
                answer["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty()),
                "{}: {expr} returns nothing: {answer}",
                panel["title"]
            );
        }
    }
}

/// A child process killed on drop.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What Alertmanager posted to the test's receiver: each notification's `status` and the
/// alert names in it.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<String>)>>>;

/// A webhook receiver on 127.0.0.1 (Alertmanager's webhook_configs): its port and what it got.
fn receiver() -> (u16, Received) {
    use std::io::{BufRead as _, BufReader, Read as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received: Received = Received::default();
    let seen = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                let names = v["alerts"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| x["labels"]["alertname"].as_str().unwrap_or("").to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                seen.lock()
                    .unwrap()
                    .push((v["status"].as_str().unwrap_or("").to_owned(), names));
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, received)
}

/// Waits until `done` holds (checking every 200 ms), at most `within`; returns how long it took.
/// `PUT` a JSON body as the admin: the status and the answer.
fn agent_put(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let mut answer = agent()
        .put(url)
        .header("authorization", &format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_json().unwrap_or_default())
}

fn wait_for(
    within: std::time::Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    started.elapsed()
}

/// The real stack: Prometheus scrapes three nodes every second and evaluates
/// lifeline-alerts.yml, Alertmanager posts to a receiver in the test. One node killed:
/// LifelineNodeUnreachable is firing in Prometheus's API and delivered by Alertmanager within
/// its `for:` (30 s) + scrape interval + 15 s; the node back: the alert resolves and the
/// resolution is delivered too. The same for an edge's surge of `bad_signature` (from its
/// telemetry) and for a store that refuses writes.
#[test]
fn prometheus_and_alertmanager_page_when_a_node_goes_down_and_when_it_is_back() {
    let _lab = crate::common::beside_others();
    let work = tempfile::tempdir().unwrap();
    let data = |i: usize| work.path().join(format!("node{i}"));
    let ports: Vec<u16> = (0..3).map(|_| crate::common::free_port()).collect();
    // A heartbeat every second: a store that refuses writes shows within 3 s.
    let rules = work.path().join("rules.json");
    std::fs::write(&rules, r#"{"heartbeat_every_s": 1}"#).unwrap();
    let start = |i: usize| {
        Serve::start_on(
            ports[i],
            &[
                "--data-dir",
                data(i).to_str().unwrap(),
                "--rules",
                rules.to_str().unwrap(),
                "--danger-fault-injection",
            ],
            &[("LIFELINE_ADMIN_TOKEN", ADMIN)],
        )
    };
    let mut nodes: Vec<Option<Serve>> = (0..3).map(|i| Some(start(i))).collect();
    let (receiver_port, received) = receiver();
    let am_port = crate::common::free_port();
    let prom_port = crate::common::free_port();
    std::fs::write(
        work.path().join("alertmanager.yml"),
        format!(
            "route:\n  receiver: test\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: test\n    webhook_configs:\n      - url: http://127.0.0.1:{receiver_port}/\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    // The shipped rules, their 5-minute windows shortened to 20 s so that a surge's end is
    // seen within the test (the windows themselves: promtool test rules, above).
    let shipped = std::fs::read_to_string(deploy().join("lifeline-alerts.yml")).unwrap();
    assert!(shipped.contains("[5m]"));
    std::fs::write(
        work.path().join("alerts.yml"),
        shipped.replace("[5m]", "[20s]"),
    )
    .unwrap();
    let targets: Vec<String> = ports.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    std::fs::write(
        work.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
             scrape_configs:\n  - job_name: lifeline\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: [{}]\n",
            work.path().join("alerts.yml").display(),
            targets.join(", ")
        ),
    )
    .unwrap();
    let spawn = |program: &str, args: Vec<String>| {
        Running(
            Command::new(program)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{program}: {e} (run .ci/setup)")),
        )
    };
    let w = |name: &str| work.path().join(name).display().to_string();
    let _alertmanager = spawn(
        "prometheus-alertmanager",
        vec![
            format!("--config.file={}", w("alertmanager.yml")),
            format!("--storage.path={}", w("am")),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".to_owned(),
        ],
    );
    let _prometheus = spawn(
        "prometheus",
        vec![
            format!("--config.file={}", w("prometheus.yml")),
            format!("--storage.tsdb.path={}", w("tsdb")),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
    );
    let query = |q: &str| -> serde_json::Value {
        agent()
            .get(format!("http://127.0.0.1:{prom_port}{q}"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json().ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let alert_is = |name: &str, state: &str| {
        query("/api/v1/alerts")["data"]["alerts"]
            .as_array()
            .is_some_and(|a| {
                a.iter()
                    .any(|x| x["labels"]["alertname"] == name && x["state"] == state)
            })
    };
    let node_down_alert = |state: &str| alert_is("LifelineNodeUnreachable", state);
    // Every node scraped and up.
    wait_for(
        std::time::Duration::from_secs(60),
        "three targets up",
        || {
            query("/api/v1/query?query=sum(up%7Bjob%3D%22lifeline%22%7D)")["data"]["result"][0]["value"]
                [1]
                == "3"
        },
    );

    let delivered = |status: &str, name: &str| {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|(s, names)| s == status && names.iter().any(|n| n == name))
    };
    let secs = std::time::Duration::from_secs;

    // Traffic of every kind. Its telemetry is an edge's surge of bad_signature (every
    // refusal it reported): LifelineEdgeReasonSurge fires and is delivered; once the surge
    // is out of the window, it resolves and the resolution is delivered.
    let node0 = nodes[0].as_ref().unwrap();
    traffic(node0, secs(6));
    wait_for(secs(30), "LifelineEdgeReasonSurge firing", || {
        alert_is("LifelineEdgeReasonSurge", "firing")
    });
    // Every panel of the Grafana dashboard answers from that traffic.
    check_dashboard(&query);
    wait_for(secs(30), "the edge surge delivered", || {
        delivered("firing", "LifelineEdgeReasonSurge")
    });
    wait_for(secs(60), "the edge surge resolved", || {
        !alert_is("LifelineEdgeReasonSurge", "firing")
    });
    wait_for(secs(30), "the edge surge's resolution delivered", || {
        delivered("resolved", "LifelineEdgeReasonSurge")
    });

    // The store refuses writes (node 2's store locked for 12 s): its heartbeat stalls,
    // LifelineStoreUnavailable fires (no `for:`) and is delivered within the stall's onset
    // (two heartbeats + 1 s) + scrape interval + 15 s; the lock gone, it resolves.
    let node2 = nodes[2].as_ref().unwrap();
    let (status, answer) = agent_put(
        &format!("{}/api/v1/faults", node2.url),
        &json!({"faults": {"store_locked": true}, "for_ms": 12_000}),
    );
    assert_eq!(status, 200, "{answer}");
    let firing = wait_for(secs(30), "LifelineStoreUnavailable firing", || {
        alert_is("LifelineStoreUnavailable", "firing")
    });
    let paged = firing
        + wait_for(secs(30), "the store alert delivered", || {
            delivered("firing", "LifelineStoreUnavailable")
        });
    assert!(
        paged <= secs(3 + 1 + 15),
        "paged {paged:?} after the store was locked"
    );
    wait_for(secs(60), "the store alert resolved", || {
        !alert_is("LifelineStoreUnavailable", "firing")
    });
    wait_for(secs(30), "the store alert's resolution delivered", || {
        delivered("resolved", "LifelineStoreUnavailable")
    });

    // One node down.
    nodes[1] = None;
    let firing = wait_for(
        std::time::Duration::from_secs(60),
        "LifelineNodeUnreachable firing",
        || node_down_alert("firing"),
    );
    let paged = wait_for(
        std::time::Duration::from_secs(60),
        "Alertmanager's notification",
        || {
            received.lock().unwrap().iter().any(|(status, names)| {
                status == "firing" && names.iter().any(|n| n == "LifelineNodeUnreachable")
            })
        },
    ) + firing;
    assert!(
        paged <= std::time::Duration::from_secs(30 + 1 + 15),
        "paged {paged:?} after the node went down"
    );

    // Back: resolved in Prometheus, and the resolution delivered.
    nodes[1] = Some(start(1));
    wait_for(
        std::time::Duration::from_secs(60),
        "the alert resolved",
        || !node_down_alert("firing") && !node_down_alert("pending"),
    );
    wait_for(
        std::time::Duration::from_secs(60),
        "the resolution delivered",
        || {
            received.lock().unwrap().iter().any(|(status, names)| {
                status == "resolved" && names.iter().any(|n| n == "LifelineNodeUnreachable")
            })
        },
    );
    drop(nodes);
}
