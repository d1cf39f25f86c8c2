//! The authorization matrix, over real HTTP on a real SQLite: every route of the router ×
//! {no token, a well-formed unknown token, viewer, operator, admin, an expired token, a
//! revoked token} answers the expected status: 401 without a usable token, 403 below the
//! route's role, the route's own answer (never 401/403, never 5xx) from its role up.
//!
//! The route list is the served `/api/v1/openapi.json`, checked against the router: the paths
//! `app()` registers (read from its source) and the methods each answers (probed over HTTP).
//! A route in the router without a matrix entry, or missing from the OpenAPI document, fails
//! this test with its name; so does a role the document (`security`, `x-required-role`)
//! states differently from the matrix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use crate::live::{Live, generous, now};
use lifeline_api::Role;
use lifeline_core::LATENCY_BUCKETS_SECS;
use lifeline_server::{RulesConfig, create_token};
use serde_json::{Value, json};

/// The least a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Anyone,
    Viewer,
    Operator,
    Admin,
}

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    NoToken,
    Unknown,
    Expired,
    Revoked,
    Viewer,
    Operator,
    Admin,
}

const EVERYONE: [Who; 7] = [
    Who::NoToken,
    Who::Unknown,
    Who::Expired,
    Who::Revoked,
    Who::Viewer,
    Who::Operator,
    Who::Admin,
];

impl Who {
    /// The role a usable token has.
    fn role(self) -> Option<Need> {
        match self {
            Self::Viewer => Some(Need::Viewer),
            Self::Operator => Some(Need::Operator),
            Self::Admin => Some(Need::Admin),
            _ => None,
        }
    }

    /// Which of the per-role fixtures a call uses: a role acts on its own license, override
    /// and webhook, so each allowed call meets the same state; refused callers aim at the
    /// admin's (which the admin then still finds untouched).
    fn slot(self) -> usize {
        match self {
            Self::Viewer => 0,
            Self::Operator => 1,
            _ => 2,
        }
    }
}

/// What the matrix acts on: per role (viewer, operator, admin) a license, a pending override
/// and a webhook endpoint; one open incident.
struct Fixture {
    licenses: [String; 3],
    license_token: String,
    overrides: [String; 3],
    webhooks: [String; 3],
    incident: String,
    drill: String,
    /// A drill run on this node.
    drill_run: String,
    /// A seat held on a license with seats.
    seat: String,
    /// The signing key of the fixture's licenses.
    kid: String,
}

/// One route: its method and path as the OpenAPI document names them, who may call it, the
/// statuses an allowed caller may get, and the request (per fixture slot).
struct Entry {
    method: &'static str,
    path: &'static str,
    need: Need,
    ok: &'static [u16],
    uri: Box<dyn Fn(usize) -> String>,
    body: Option<Value>,
}

fn entry(method: &'static str, path: &'static str, need: Need, ok: &'static [u16]) -> Entry {
    Entry {
        method,
        path,
        need,
        ok,
        uri: Box::new(move |_| path.to_owned()),
        body: None,
    }
}

impl Entry {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// `{kid}` in the path is `kid` (every slot).
    fn kid(mut self, kid: &str) -> Self {
        let path = self.path.replace("{kid}", kid);
        self.uri = Box::new(move |_| path.clone());
        self
    }

    /// `{id}` in the path is the fixture `ids[slot]`.
    fn ids(mut self, ids: &[String; 3]) -> Self {
        let ids = ids.clone();
        let path = self.path;
        self.uri = Box::new(move |slot| path.replace("{id}", &ids[slot]));
        self
    }
}

fn license_body(licensee: &str) -> Value {
    json!({"product": "p", "licensee": licensee, "entitlements": ["export"],
        "expires_at": now() + 86_400, "grace_s": 3600})
}

fn telemetry_body() -> Value {
    json!({
        "service": "authz", "instance": "host-1", "window_start": now() - 60,
        "window_end": now(), "by_state": {"valid": 1}, "by_reason": {},
        "latency_buckets": vec![1; LATENCY_BUCKETS_SECS.len() + 1],
        "latency_bounds_seconds": LATENCY_BUCKETS_SECS, "count": 1,
    })
}

fn drill_report() -> Value {
    serde_json::to_value(lifeline_api::DrillReport {
        name: "authz-matrix".into(),
        fault: "none".into(),
        passed: true,
        started_at: now(),
        detected_by: None,
        times: lifeline_api::DrillTimes::default(),
        verifiers: lifeline_api::VerifierOutcomes::default(),
        expectations: vec![lifeline_api::DrillExpectation {
            expected: "every route answers as the matrix says".into(),
            met: true,
            observed: "yes".into(),
        }],
        notes: Vec::new(),
    })
    .unwrap()
}

/// The matrix: one entry per route of the router.
fn matrix(fx: &Fixture) -> Vec<Entry> {
    use Need::{Admin, Anyone, Operator, Viewer};
    vec![
        // Public.
        entry("GET", "/healthz", Anyone, &[200]),
        entry("GET", "/readyz", Anyone, &[200]),
        entry("GET", "/metrics", Anyone, &[200]),
        entry("GET", "/.well-known/lifeline/keys.json", Anyone, &[200]),
        entry("GET", "/api/v1/openapi.json", Anyone, &[200]),
        entry("POST", "/api/v1/validate", Anyone, &[200]).body(json!({"token": fx.license_token})),
        entry("GET", "/api/v1/status-list", Anyone, &[200]),
        entry("GET", "/api/v1/overrides/bundle", Anyone, &[200]),
        // A machine's own seat requests: the license token is the credential (this license
        // has no seats: each answers a signed no_seats refusal).
        entry("POST", "/api/v1/seats", Anyone, &[200])
            .body(json!({"token": fx.license_token, "fingerprint": "machine-1"})),
        entry("POST", "/api/v1/seats/{id}/heartbeat", Anyone, &[200])
            .ids(&[(); 3].map(|()| fx.seat.clone()))
            .body(json!({"token": fx.license_token, "fingerprint": "machine-1"})),
        entry("POST", "/api/v1/seats/{id}/borrow", Anyone, &[200])
            .ids(&[(); 3].map(|()| fx.seat.clone()))
            .body(
                json!({"token": fx.license_token, "fingerprint": "machine-1", "until": now() + 60}),
            ),
        entry("DELETE", "/api/v1/seats/{id}", Anyone, &[200])
            .ids(&[(); 3].map(|()| fx.seat.clone()))
            .body(json!({"token": fx.license_token, "fingerprint": "machine-1"})),
        // Viewer.
        entry("GET", "/api/v1/session", Viewer, &[200]),
        entry("GET", "/api/v1/overview", Viewer, &[200]),
        entry("GET", "/api/v1/map", Viewer, &[200]),
        entry("GET", "/api/v1/products", Viewer, &[200]),
        entry("GET", "/api/v1/licenses", Viewer, &[200]),
        entry("GET", "/api/v1/licenses/{id}", Viewer, &[200]).ids(&fx.licenses),
        entry("GET", "/api/v1/keys", Viewer, &[200]),
        entry("GET", "/api/v1/audit", Viewer, &[200]),
        entry("GET", "/api/v1/audit/verify", Viewer, &[200]),
        entry("GET", "/api/v1/overrides", Viewer, &[200]),
        entry("GET", "/api/v1/overrides/{id}", Viewer, &[200]).ids(&fx.overrides),
        entry("POST", "/api/v1/telemetry", Viewer, &[202]).body(telemetry_body()),
        entry("GET", "/api/v1/nodes", Viewer, &[200]),
        entry("GET", "/api/v1/incidents", Viewer, &[200]),
        entry("GET", "/api/v1/incidents/{id}", Viewer, &[200])
            .ids(&[(); 3].map(|()| fx.incident.clone())),
        // Operator.
        entry("POST", "/api/v1/licenses", Operator, &[201]).body(license_body("new")),
        entry("POST", "/api/v1/licenses/bulk", Operator, &[201])
            .body(json!({"licenses": [license_body("bulk-1"), license_body("bulk-2")]})),
        entry("POST", "/api/v1/licenses/{id}/extend", Operator, &[200])
            .ids(&fx.licenses)
            .body(json!({"expires_at": now() + 400 * 86_400, "reason": "renewal"})),
        entry("POST", "/api/v1/licenses/{id}/revoke", Operator, &[200])
            .ids(&fx.licenses)
            .body(json!({"reason": "authz matrix"})),
        entry("POST", "/api/v1/overrides", Operator, &[201]).body(json!({
            "scope": {"type": "licensee", "value": "x"}, "effect": {"type": "valid"},
            "expires_at": now() + 3600, "reason": "r", "incident": "i"})),
        // Pending overrides were made by the bootstrap admin: the matrix's admin is a second one
        // (before the revocation below, which then revokes an active one).
        entry("POST", "/api/v1/overrides/{id}/approve", Admin, &[200]).ids(&fx.overrides),
        entry("POST", "/api/v1/overrides/{id}/revoke", Operator, &[200])
            .ids(&fx.overrides)
            .body(json!({"reason": "authz matrix"})),
        // One incident for both roles: the admin finds it already acknowledged (409).
        entry(
            "POST",
            "/api/v1/incidents/{id}/acknowledge",
            Operator,
            &[200, 409],
        )
        .ids(&[(); 3].map(|()| fx.incident.clone())),
        entry("GET", "/api/v1/licenses/{id}/seats", Operator, &[200]).ids(&fx.licenses),
        // One seat for both roles: the admin finds it already released (409).
        entry("POST", "/api/v1/seats/{id}/revoke", Operator, &[200, 409])
            .ids(&[(); 3].map(|()| fx.seat.clone()))
            .body(json!({"reason": "authz matrix"})),
        entry("POST", "/api/v1/incidents/{id}/notes", Operator, &[200])
            .ids(&[(); 3].map(|()| fx.incident.clone()))
            .body(json!({"text": "seen"})),
        // Admin.
        entry("POST", "/api/v1/products", Admin, &[201]).body(json!({"id": "q", "name": "Q"})),
        entry("POST", "/api/v1/keys/rotate", Admin, &[200]),
        entry("POST", "/api/v1/tokens", Admin, &[201])
            .body(json!({"name": "made by the matrix", "role": "viewer"})),
        entry("GET", "/api/v1/webhooks", Admin, &[200]),
        entry("POST", "/api/v1/webhooks", Admin, &[201])
            .body(json!({"url": "http://127.0.0.1:9/hook", "events": ["license.revoked"]})),
        entry("DELETE", "/api/v1/webhooks/{id}", Admin, &[204]).ids(&fx.webhooks),
        entry("GET", "/api/v1/drills", Viewer, &[200]),
        entry("GET", "/api/v1/drills/{id}", Viewer, &[200])
            .ids(&[(); 3].map(|()| fx.drill.clone())),
        entry("POST", "/api/v1/drills", Admin, &[201]).body(drill_report()),
        entry("GET", "/api/v1/drill-runs", Viewer, &[200]),
        entry("GET", "/api/v1/drill-runs/{id}", Viewer, &[200])
            .ids(&[(); 3].map(|()| fx.drill_run.clone())),
        // Started, or refused because one is running: either way the caller was let in.
        entry("POST", "/api/v1/drill-runs", Operator, &[202, 409])
            .body(json!({"name": "one-node-down"})),
        entry("GET", "/api/v1/faults", Admin, &[200]),
        entry("PUT", "/api/v1/faults", Admin, &[200]).body(json!({"faults": {}})),
        // Last, as it changes the keys: the first admin marks the key, the second finds it
        // marked (409); then its issued list is published.
        entry("POST", "/api/v1/keys/{kid}/compromise", Admin, &[200, 409])
            .kid(&fx.kid)
            .body(json!({"reason": "authz matrix", "incident": "INC-1"})),
        entry("GET", "/.well-known/lifeline/issued/{kid}", Anyone, &[200]).kid(&fx.kid),
        // One incident for both roles: the admin finds it resolved already (409).
        entry(
            "POST",
            "/api/v1/incidents/{id}/resolve",
            Operator,
            &[200, 409],
        )
        .ids(&[(); 3].map(|()| fx.incident.clone()))
        .body(json!({"text": "fixed"})),
    ]
}

/// The paths `app()` registers with `.route("…", …)` or `.route_layered("…", …)`, read from
/// its source. Anything that adds routes another way (`merge`, `nest`, `route_service`) fails:
/// this test could not see them.
fn router_paths() -> BTreeSet<String> {
    let source = include_str!("../../src/router.rs");
    let start = source
        .find("pub fn app(")
        .expect("router.rs defines `pub fn app(`");
    let body = &source[start..];
    let end = body.find("\n}\n").expect("app() ends with a `}` line");
    let body = &body[..end];
    for other in [".merge(", ".nest(", ".nest_service(", ".route_service("] {
        assert!(
            !body.contains(other),
            "app() adds routes with `{other}`: teach tests/it/authz.rs to list them"
        );
    }
    let mut paths = BTreeSet::new();
    let mut rest = body;
    // `.route(PATH, …)` and `.route_layered(PATH, …)` (crate::openapi::Api).
    while let Some(at) = rest.find(".route") {
        rest = &rest[at + ".route".len()..];
        let Some(args) = rest
            .strip_prefix('(')
            .or_else(|| rest.strip_prefix("_layered("))
        else {
            continue;
        };
        rest = args;
        let literal = rest.trim_start();
        assert!(
            literal.starts_with('"'),
            "a `.route(` in app() without a string literal path: teach tests/it/authz.rs to read it: {}",
            &literal[..literal.len().min(80)]
        );
        let close = literal[1..].find('"').unwrap();
        paths.insert(literal[1..=close].to_owned());
    }
    assert!(paths.len() >= 30, "app() has routes: {paths:?}");
    paths
}

const PROBED: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The (method, path) pairs the router answers: for each path from the source, the methods
/// that get something other than 405 (without a token: nothing runs past authentication).
fn routed(live: &Live) -> (BTreeSet<(String, String)>, Vec<String>) {
    let mut pairs = BTreeSet::new();
    let mut problems = Vec::new();
    for path in router_paths() {
        let uri = path.replace("{id}", "probe-id");
        let mut statuses = Vec::new();
        for method in PROBED {
            let (status, _, _) = live.send(method, &uri, None, None);
            statuses.push(status);
            if status != 405 {
                pairs.insert((method.to_owned(), path.clone()));
            }
        }
        if statuses.iter().all(|s| *s == 404) {
            problems.push(format!(
                "{path}: in app() but not served by this test's server (a route behind a switch? turn it on in tests/it/authz.rs)"
            ));
        }
        assert!(
            statuses.iter().any(|s| *s != 405),
            "{path}: every method refused"
        );
    }
    (pairs, problems)
}

/// The (method, path) pairs of the served OpenAPI document, and the least role each needs
/// (`security` and `x-required-role`).
fn documented(live: &Live) -> BTreeMap<(String, String), Result<Need, String>> {
    let (status, doc) = live.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_ascii_uppercase();
            if PROBED.contains(&method.as_str()) || method == "HEAD" {
                let secured = op
                    .get("security")
                    .or_else(|| doc.get("security"))
                    .and_then(Value::as_array)
                    .is_some_and(|s| !s.is_empty());
                let need = match (secured, op.get("x-required-role").and_then(Value::as_str)) {
                    (false, None) => Ok(Need::Anyone),
                    (true, Some("viewer")) => Ok(Need::Viewer),
                    (true, Some("operator")) => Ok(Need::Operator),
                    (true, Some("admin")) => Ok(Need::Admin),
                    (secured, role) => Err(format!("security {secured}, x-required-role {role:?}")),
                };
                out.insert((method, path.clone()), need);
            }
        }
    }
    out
}

fn setup() -> (Live, Fixture, BTreeMap<&'static str, String>) {
    let live = Live::start(generous(), |state| state.enable_fault_injection());
    let store = live.state.store().clone();
    let token = |name: &str, role: Role, expires_at: Option<u64>| {
        live.block_on(create_token(&store, "test", name, role, expires_at))
            .unwrap()
    };
    let mut tokens = BTreeMap::new();
    tokens.insert("Viewer", token("viewer", Role::Viewer, None).token);
    tokens.insert("Operator", token("operator", Role::Operator, None).token);
    tokens.insert("Admin", token("second admin", Role::Admin, None).token);
    // Well-formed (prefix, 32 random-looking bytes in base64url), but never issued.
    tokens.insert(
        "Unknown",
        format!("ll_{}", "Zm9yZ2VkLXRva2VuLW5ldmVyLWlzc3VlZC1ieS1hbnlvbmU"),
    );
    // Admin tokens: what refuses them is their expiry or revocation, not their role.
    tokens.insert(
        "Expired",
        token("expired admin", Role::Admin, Some(now() - 10)).token,
    );
    let revoked = token("revoked admin", Role::Admin, None);
    // Tokens have no revocation route: revoke it in the store, as an operator would.
    live.block_on(async {
        let pool = sqlx::AnyPool::connect(&live.db_url).await.unwrap();
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(i64::try_from(now()).unwrap())
            .bind(&revoked.id)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        pool.close().await;
    });
    tokens.insert("Revoked", revoked.token);
    // Before its revocation and expiry each worked (or would have): the 401s are theirs.
    let (status, _) = live.call("GET", "/api/v1/session", Some(&tokens["Admin"]), None);
    assert_eq!(status, 200);

    live.admin(
        "POST",
        "/api/v1/products",
        Some(&json!({"id": "p", "name": "P"})),
        201,
    );
    let licenses =
        [(); 3].map(|()| live.admin("POST", "/api/v1/licenses", Some(&license_body("x")), 201));
    let mut seated = license_body("seated");
    seated["seats"] = json!(2);
    seated["seat_mode"] = json!("floating");
    let seated = live.admin("POST", "/api/v1/licenses", Some(&seated), 201);
    let (status, held) = live.call(
        "POST",
        "/api/v1/seats",
        None,
        Some(&json!({"token": seated["token"], "fingerprint": "machine-9"})),
    );
    assert_eq!(status, 201, "{held}");
    let pending = json!({"scope": {"type": "all"}, "effect": {"type": "valid"},
        "expires_at": now() + 5 * 86_400, "reason": "r", "incident": "i"});
    let overrides = [(); 3].map(|()| live.admin("POST", "/api/v1/overrides", Some(&pending), 202));
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["license.revoked"]});
    let webhooks = [(); 3].map(|()| live.admin("POST", "/api/v1/webhooks", Some(&hook), 201));
    // An incident: garbage validations, then the error rate rule.
    for _ in 0..20 {
        live.call(
            "POST",
            "/api/v1/validate",
            None,
            Some(&json!({"token": "garbage"})),
        );
    }
    live.state
        .set_rules(RulesConfig {
            disabled: vec!["reason_surge".into()],
            ..RulesConfig::default()
        })
        .unwrap();
    let opened = live
        .block_on(live.state.evaluate_rules(now()))
        .unwrap()
        .opened;
    assert_eq!(opened.len(), 1, "{opened:?}");
    let drill = live.admin("POST", "/api/v1/drills", Some(&drill_report()), 201);
    live.state.set_drill_launcher(std::sync::Arc::new(NoLab));
    let run = live.admin(
        "POST",
        "/api/v1/drill-runs",
        Some(&json!({"name": "one-node-down"})),
        202,
    );
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let fixture = Fixture {
        license_token: licenses[0]["token"].as_str().unwrap().to_owned(),
        licenses: licenses.each_ref().map(id),
        overrides: overrides.each_ref().map(id),
        webhooks: webhooks.each_ref().map(id),
        incident: opened[0].clone(),
        drill: id(&drill),
        drill_run: id(&run),
        seat: held["seat_id"].as_str().unwrap().to_owned(),
        kid: licenses[0]["kid"].as_str().unwrap().to_owned(),
    };
    (live, fixture, tokens)
}

/// A drill launcher without a lab: every run ends at once, as an error.
#[derive(Debug)]
struct NoLab;

impl lifeline_server::DrillLauncher for NoLab {
    fn run(&self, _: &str, _: &mut dyn FnMut(String)) -> Result<lifeline_api::DrillReport, String> {
        Err("no lab in the authorization matrix".into())
    }
}

#[test]
fn every_route_answers_every_caller_as_the_matrix_says() {
    let (live, fx, tokens) = setup();
    let (routes, mut problems) = routed(&live);
    let docs = documented(&live);
    let entries = matrix(&fx);
    let mut keys = BTreeSet::new();
    for e in &entries {
        let key = (e.method.to_owned(), e.path.to_owned());
        assert!(keys.insert(key.clone()), "{key:?}: two matrix entries");
        if !routes.contains(&key) {
            problems.push(format!(
                "{} {}: a matrix entry, but the router does not answer it",
                e.method, e.path
            ));
        }
        match docs.get(&key) {
            Some(Ok(need)) if *need == e.need => {}
            Some(documented) => problems.push(format!(
                "{} {}: openapi.json says {documented:?}, the matrix says {:?}",
                e.method, e.path, e.need
            )),
            None => {}
        }
    }
    for key @ (method, path) in &routes {
        if !keys.contains(key) {
            problems.push(format!(
                "{method} {path}: in the router, no entry in the authorization matrix (tests/it/authz.rs)"
            ));
        }
        if !docs.contains_key(key) {
            problems.push(format!(
                "{method} {path}: in the router, missing from openapi.json"
            ));
        }
    }
    for (method, path) in docs.keys() {
        if !routes.contains(&(method.clone(), path.clone())) {
            problems.push(format!(
                "{method} {path}: in openapi.json, not answered by the router"
            ));
        }
    }

    let mut wrong = Vec::new();
    let mut cells = 0;
    for e in &entries {
        for who in EVERYONE {
            let token = tokens.get(format!("{who:?}").as_str()).map(String::as_str);
            let uri = (e.uri)(who.slot());
            let (status, body) = live.call(e.method, &uri, token, e.body.as_ref());
            cells += 1;
            let expected: Vec<u16> = match (e.need, who.role()) {
                (Need::Anyone, _) => e.ok.to_vec(),
                (_, None) => vec![401],
                (need, Some(role)) if role < need => vec![403],
                _ => e.ok.to_vec(),
            };
            let code_ok = match status {
                401 => body["code"] == "unauthorized",
                403 => body["code"] == "forbidden",
                _ => true,
            };
            if !expected.contains(&status) || !code_ok {
                wrong.push(format!(
                    "{} {uri} as {who:?}: {status} {}, expected {expected:?}",
                    e.method, body["code"]
                ));
            }
        }
    }
    assert!(
        problems.is_empty() && wrong.is_empty(),
        "route list:\n{}\nauthorization matrix:\n{}",
        problems.join("\n"),
        wrong.join("\n")
    );
    assert_eq!(cells, entries.len() * EVERYONE.len());
    // Refused calls changed nothing: the viewer's license is neither extended nor revoked, its
    // override still pending, the viewer's and operator's webhooks still there.
    let license = live.admin(
        "GET",
        &format!("/api/v1/licenses/{}", fx.licenses[0]),
        None,
        200,
    );
    assert_eq!(license["revoked_at"], Value::Null, "{license}");
    let ovr = live.admin(
        "GET",
        &format!("/api/v1/overrides/{}", fx.overrides[0]),
        None,
        200,
    );
    assert_eq!(ovr["status"], "pending_approval", "{ovr}");
    let hooks = live.admin("GET", "/api/v1/webhooks", None, 200);
    let ids: Vec<&str> = hooks
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&fx.webhooks[0].as_str()) && ids.contains(&fx.webhooks[1].as_str()));
    assert!(
        !ids.contains(&fx.webhooks[2].as_str()),
        "the admin deleted its own"
    );
    println!(
        "authorization matrix: {} routes x {} callers = {cells} requests",
        entries.len(),
        EVERYONE.len()
    );
}
