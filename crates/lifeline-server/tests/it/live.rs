//! A real server for tests over real TCP: the router on a fresh SQLite file, served by axum
//! on 127.0.0.1 (an ephemeral port) with each connection's peer address, as `lifeline
//! serve` gives it to the rate limits. Requests go through a real HTTP client (ureq).

// Shared by several test crates: each uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use lifeline_server::{AppState, Limits, Rate, Store, app, bootstrap_admin};
use serde_json::Value;

/// One running server; stopped (graceful shutdown, runtime dropped) on drop.
pub(crate) struct Live {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// The server's state (the store, rules, ...).
    pub(crate) state: AppState,
    /// The bootstrap admin token.
    pub(crate) admin: String,
    /// The store's URL (`sqlite://…`), for a test's own connection.
    pub(crate) db_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    rt: Option<tokio::runtime::Runtime>,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

/// Limits no test here reaches by accident (many failed authentications come from 127.0.0.1).
pub(crate) fn generous() -> Limits {
    let lots = Rate {
        per_sec: 100_000.0,
        burst: 100_000.0,
    };
    Limits {
        validate: lots,
        auth_failures: lots,
        telemetry: lots,
        public: lots,
    }
}

impl Live {
    /// Starts a server with these limits; `prepare` runs on the state before the router is
    /// built (e.g. to turn on optional routes).
    pub(crate) fn start(limits: Limits, prepare: impl FnOnce(&AppState)) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("live.db").display());
        let (state, admin, listener) = rt.block_on(async {
            let store = Store::open(&url).await.unwrap();
            let admin = bootstrap_admin(&store, dir.path(), None)
                .await
                .unwrap()
                .expect("a fresh store bootstraps an admin token");
            let state = AppState::with_limits(store, "http://lifeline.test", limits)
                .await
                .unwrap();
            // Webhook receivers in tests listen on 127.0.0.1.
            state.set_delivery(lifeline_server::DeliveryConfig {
                allow_private: true,
                ..lifeline_server::DeliveryConfig::default()
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (state, admin, listener)
        });
        prepare(&state);
        let addr = listener.local_addr().unwrap();
        let router = app(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        // A fresh connection per request: the probes leave bodies unread, after which the
        // server closes the connection, and a pooled one could be found closed.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base: format!("http://{addr}"),
            addr,
            state,
            admin,
            db_url: url,
            stop: Some(stop),
            rt: Some(rt),
            agent,
            _dir: dir,
        }
    }

    /// Runs a future on the server's runtime (store set-up, rule evaluation).
    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().unwrap().block_on(f)
    }

    /// One request over HTTP: status, body as JSON (`Null` when not JSON), content type.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value, String) {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let res = match body {
            Some(b) => self.agent.run(
                req.header("Content-Type", "application/json")
                    .body(b.to_string())
                    .unwrap(),
            ),
            None => self.agent.run(req.body(()).unwrap()),
        };
        let mut res = res.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = res
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            content_type,
        )
    }

    /// [`Self::send`] that also requires every error to be problem+json with a code, and no 5xx.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, json, content_type) = self.send(method, path, token, body);
        assert!(status < 500, "{method} {path}: {status} {json}");
        if status >= 400 {
            assert_eq!(
                content_type, "application/problem+json",
                "{method} {path}: errors are problem+json ({status} {json})"
            );
            assert!(
                json["code"].is_string(),
                "{method} {path}: problem has a code"
            );
        }
        (status, json)
    }

    /// As the bootstrap admin; the status must be `want`.
    pub(crate) fn admin(&self, method: &str, path: &str, body: Option<&Value>, want: u16) -> Value {
        let (status, json) = self.call(method, path, Some(&self.admin), body);
        assert_eq!(status, want, "{method} {path}: {json}");
        json
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
