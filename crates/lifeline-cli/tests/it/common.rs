//! What the CLI's process tests share: the binary, a free port, an HTTP agent, a
//! `lifeline serve` process (SIGKILLed when dropped), the usual fixture — a product, a
//! license and the key set in files — and the lock that keeps drills alone. Each test module
//! uses some of it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_lifeline");

/// A drill starts a lab of four servers and its verifiers and measures timings: it runs
/// alone ([`alone`]), and every other test holds this lock shared ([`beside_others`]), so
/// that no test shares the machine with a drill (they used to be separate test binaries).
static LAB: RwLock<()> = RwLock::new(());

/// Waits until no other test runs, and keeps them waiting until dropped.
pub(crate) fn alone() -> RwLockWriteGuard<'static, ()> {
    LAB.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits while a drill runs.
pub(crate) fn beside_others() -> RwLockReadGuard<'static, ()> {
    LAB.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `lifeline ARGS` with `token` as `$LIFELINE_TOKEN` (the commands that talk to a server).
pub(crate) fn lifeline_as(token: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("LIFELINE_TOKEN", token)
        .output()
        .unwrap()
}

/// An HTTP agent that returns error statuses as answers.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A `lifeline serve` process on 127.0.0.1; SIGKILLed when dropped.
pub(crate) struct Serve {
    child: Child,
    pub(crate) port: u16,
    pub(crate) url: String,
}

impl Serve {
    /// `lifeline serve --listen 127.0.0.1:PORT ARGS` with `env` (and no admin token or console
    /// from the test's own environment); returns once `/readyz` answers 200.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_on(free_port(), args, env)
    }

    /// [`Self::start`] on a given port.
    pub(crate) fn start_on(port: u16, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_logging(port, args, env, Stdio::null())
    }

    /// [`Self::start_on`] with its stderr (its log) sent to `stderr`.
    pub(crate) fn start_logging(
        port: u16,
        args: &[&str],
        env: &[(&str, &str)],
        stderr: impl Into<Stdio>,
    ) -> Self {
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env_remove("LIFELINE_ADMIN_TOKEN")
            .env_remove("LIFELINE_CONSOLE_DIR")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let serve = Self {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while serve.get("/readyz", None).0 != 200 {
            assert!(Instant::now() < deadline, "lifeline serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    /// GET `path`: status (0 when unreachable) and JSON body (`Null` when not JSON).
    pub(crate) fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = agent().get(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        match req.call() {
            Ok(mut r) => (
                r.status().as_u16(),
                r.body_mut().read_json().unwrap_or(Value::Null),
            ),
            Err(_) => (0, Value::Null),
        }
    }

    /// POST `body` to `path` with `token`: status and JSON body.
    pub(crate) fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let mut r = agent()
            .post(format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(body)
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or(Value::Null),
        )
    }

    /// SIGKILL: no shutdown, no flush, nothing but what the store already made durable.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Product `app`, a license for `acme` written to `dir/license.jwt`, the public key set to
/// `dir/keys.json`; the license (409 on the product is fine: a shared store may have it).
pub(crate) fn license_fixture(node: &Serve, admin: &str, dir: &Path) -> Value {
    let (s, _) = node.post(
        "/api/v1/products",
        admin,
        &json!({"id": "app", "name": "App"}),
    );
    assert!(s == 201 || s == 409, "{s}");
    let (s, license) = node.post(
        "/api/v1/licenses",
        admin,
        &json!({"product": "app", "licensee": "acme", "expires_at": 4_102_444_800u64, "entitlements": ["pro"]}),
    );
    assert_eq!(s, 201, "{license}");
    std::fs::write(dir.join("license.jwt"), license["token"].as_str().unwrap()).unwrap();
    let keys = agent()
        .get(format!("{}/.well-known/lifeline/keys.json", node.url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    std::fs::write(dir.join("keys.json"), keys).unwrap();
    license
}
