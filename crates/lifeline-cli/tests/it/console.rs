//! End to end: `lifeline serve --demo --console dist/console` on a fresh SQLite, driven by a
//! real headless Chromium over WebDriver (chromedriver + fantoccini). Signs in, reads every
//! page, issues a license through the UI, finds it in the table, revokes it, sees its state
//! change, and watches an expired token lead back to sign-in.
//!
//! Needs the built console and chromedriver: `make console-e2e` (part of `make test`) builds
//! and runs it. Screenshots of each page land in `target/console-e2e/`, with `report.json`
//! (time to first render of the overview, screenshot list).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lifeline");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A child process killed when dropped (also when the test fails).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn api(base: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{base}{path}");
    let auth = format!("Bearer {token}");
    let mut response = match (method, body) {
        ("GET", _) => agent().get(&url).header("Authorization", &auth).call(),
        (_, Some(b)) => agent()
            .post(&url)
            .header("Authorization", &auth)
            .send_json(b),
        (_, None) => agent()
            .post(&url)
            .header("Authorization", &auth)
            .send_empty(),
    }
    .unwrap();
    let status = response.status().as_u16();
    let value = response.body_mut().read_json().unwrap_or(Value::Null);
    (status, value)
}

struct Shots {
    dir: PathBuf,
    taken: Vec<String>,
}

impl Shots {
    /// A screenshot of the page as it is, after checking it had no script error and axe-core
    /// found no serious or critical accessibility violation in it.
    async fn take(&mut self, browser: &Client, name: &str) {
        no_script_errors(browser, name).await;
        axe(browser, name).await;
        let png = browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        std::fs::write(self.dir.join(format!("{name}.png")), png).unwrap();
        self.taken.push(format!("{name}.png"));
    }
}

/// Fails when the page recorded a script error (an uncaught exception, a rejected promise
/// nobody handled, a `console.error`: a Rust panic in the console's WASM is all three) since
/// the recorder was installed, then (re)installs it: it is installed at every check, so a page
/// loaded by `goto` is watched from its first check on, and the in-app navigation between
/// checks (the console is one page) is watched throughout.
async fn no_script_errors(browser: &Client, page: &str) {
    let errors = browser
        .execute(
            "if (!window.__lifelineErrors) {\
               window.__lifelineErrors = [];\
               addEventListener('error', (e) => __lifelineErrors.push(`error: ${e.message}`));\
               addEventListener('unhandledrejection', (e) => __lifelineErrors.push(`unhandled rejection: ${e.reason}`));\
               const original = console.error;\
               console.error = (...args) => { __lifelineErrors.push(`console.error: ${args.join(' ')}`); original.apply(console, args); };\
             }\
             return __lifelineErrors.splice(0);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(errors, json!([]), "{page}: script errors");
}

/// Runs axe-core (npm, pinned in tests/npm) on the page and fails on any serious or critical
/// violation (WCAG 2 A and AA rules and axe's best practices), naming rule, help and elements.
async fn axe(browser: &Client, page: &str) {
    let source =
        std::fs::read_to_string(workspace().join("tests/npm/node_modules/axe-core/axe.min.js"))
            .expect(
                "axe-core is installed in tests/npm (npm ci --prefix tests/npm: .ci/setup does it)",
            );
    let loaded = browser
        .execute("return typeof window.axe === 'object';", vec![])
        .await
        .unwrap();
    if loaded != Value::Bool(true) {
        browser.execute(&source, vec![]).await.unwrap();
    }
    let found = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, { resultTypes: ['violations'] })\
               .then((r) => done(r.violations\
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')\
                 .map((v) => ({ rule: v.id, impact: v.impact, help: v.help,\
                   nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }))))\
               .catch((e) => done([{ rule: 'axe failed', help: String(e) }]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        found,
        json!([]),
        "{page}: serious or critical accessibility violations:\n{found:#}"
    );
}

async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

/// Waits for `css` and clicks it.
async fn click(browser: &Client, css: &str) {
    wait_for(browser, css).await.click().await.unwrap();
}

async fn text_of(browser: &Client, css: &str) -> String {
    wait_for(browser, css).await.text().await.unwrap()
}

/// Waits until `css` matches an element whose text contains `needle`.
async fn wait_for_text(browser: &Client, css: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for el in browser.find_all(Locator::Css(css)).await.unwrap() {
            if el.text().await.unwrap_or_default().contains(needle) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "no {css} containing {needle:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(browser: &Client, token: &str) {
    wait_for(browser, "input#token")
        .await
        .send_keys(token)
        .await
        .unwrap();
    click(browser, "button[type=submit]").await;
    wait_for(browser, "header nav").await;
}

async fn nav(browser: &Client, label: &str) {
    browser
        .find(Locator::LinkText(label))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the built console (dist/console) and chromedriver: run by `make console-e2e`"]
async fn an_operator_issues_and_revokes_a_license_through_the_console() {
    let console = workspace().join("dist/console");
    assert!(
        console.join("index.html").is_file(),
        "no console build at {}: run `make console` first",
        console.display()
    );
    let shots_dir = workspace().join("target/console-e2e");
    let _ = std::fs::remove_dir_all(&shots_dir);
    std::fs::create_dir_all(&shots_dir).unwrap();

    // A real server on a fresh SQLite, with demo data, serving the built console. The rules
    // run every second: the refused validations below open incidents.
    let main = ConsoleServer::start(&console, &["--demo=data", "--evaluate-every", "1"]);
    let (base, admin) = (main.base.clone(), main.admin.clone());
    // A second server as `make run` starts it (`--demo`: its fleet, its first drill a minute
    // in), which this test sends nothing: whatever life its console shows, the demo made.
    let live = ConsoleServer::start(&console, &["--demo"]);
    // And one with licenses but no traffic at all: what its charts say.
    let quiet = ConsoleServer::start(&console, &["--demo=data"]);

    // Some validation traffic for the overview's charts: usable and refused tokens.
    let (_, page) = api(&base, "GET", "/api/v1/licenses?limit=20", &admin, None);
    for license in page["items"].as_array().unwrap() {
        let token = license["token"].as_str().unwrap();
        // The same token with one signature character changed: `bad_signature`.
        let mut tampered = token.as_bytes().to_vec();
        let i = tampered.len() - 10;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        for t in [token.to_owned(), tampered] {
            let (status, _) = api(
                &base,
                "POST",
                "/api/v1/validate",
                "",
                Some(json!({ "token": t })),
            );
            assert_eq!(status, 200);
        }
    }

    // Telemetry from an edge verifier (the core's Verifier and its stats, as the npm package
    // and the CLI keep them), posted the way a service does: the overview shows it.
    let keys_text = agent()
        .get(&format!("{base}/.well-known/lifeline/keys.json"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let keys = lifeline_core::KeySet::from_jwks_json(keys_text.as_bytes()).unwrap();
    let mut edge = lifeline_core::Verifier::new(keys, lifeline_core::Policy::new());
    let mut stats = lifeline_core::VerifyStats::new();
    let at = lifeline_core::UnixTime::from_secs(now());
    for license in page["items"].as_array().unwrap() {
        let token = license["token"].as_str().unwrap();
        stats.record(&edge.verify(token.as_bytes(), at), 0.000_05);
        stats.record(&edge.verify(b"not-a-license", at), 0.000_01);
    }
    let report = json!({
        "service": "checkout-web", "instance": "edge-1", "window_start": now() - 60,
        "window_end": now(), "by_state": stats.by_state, "by_reason": stats.by_reason,
        "latency_buckets": stats.latency_buckets, "latency_bounds_seconds": stats.latency_bounds_secs,
        "latency_sum_seconds": stats.latency_sum_secs, "count": stats.count,
    });
    let (status, body) = api(&base, "POST", "/api/v1/telemetry", &admin, Some(report));
    assert_eq!(status, 202, "{body}");

    // Enough refused validations (a forged signature) for the failure-ratio rule to open an
    // incident on its own: the Incidents page acknowledges and annotates it.
    let first = page["items"][0]["token"].as_str().unwrap();
    let mut forged = first.as_bytes().to_vec();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for _ in 0..30 {
        let (status, _) = api(
            &base,
            "POST",
            "/api/v1/validate",
            "",
            Some(json!({ "token": forged })),
        );
        assert_eq!(status, 200);
    }

    // A real headless Chromium.
    let driver_port = free_port();
    let _driver = Process(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver not found: run .ci/setup"),
    );
    wait_until_listening(driver_port, "chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({
        "goog:chromeOptions": {
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
                // The page's console messages, CSP violations among them, to a file.
                "--enable-logging", "--v=0",
                format!("--log-file={}", profile.path().join("chrome.log").display()),
            ]
        }
    });
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .unwrap();
    let mut shots = Shots {
        dir: shots_dir.clone(),
        taken: Vec::new(),
    };

    // Sign in: a wrong token is refused with a message; the admin token gets in.
    browser.goto(&base).await.unwrap();
    shots.take(&browser, "sign-in").await;
    sign_in_refused(&browser, "ll_not_a_real_token").await;
    browser.refresh().await.unwrap();
    sign_in(&browser, &admin).await;
    assert!(
        text_of(&browser, "[data-testid=who]")
            .await
            .contains("admin")
    );

    // Time to first render of the overview: a fresh page load with the session kept.
    browser.refresh().await.unwrap();
    wait_for(&browser, "[data-ready=overview]").await;
    let first_render_ms = browser
        .execute(
            "const m = performance.getEntriesByName('lifeline:overview-rendered')[0];\
             return m ? m.startTime : null;",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .expect("the overview set its performance mark");
    let valid_count: u64 = text_of(&browser, "[data-count=valid] .count")
        .await
        .parse()
        .unwrap();
    assert!(valid_count >= 1, "demo data has valid licenses");
    let requests = text_of(&browser, "[data-testid=requests]").await;
    assert!(requests.parse::<u64>().unwrap() >= 2, "{requests}");
    wait_for_text(&browser, "table.reasons", "bad_signature").await;
    wait_for_text(&browser, "table.services", "checkout-web").await;
    let edge_verdicts = text_of(&browser, "[data-testid=edge-verdicts]").await;
    assert!(
        edge_verdicts.parse::<u64>().unwrap() >= 2,
        "{edge_verdicts}"
    );
    // Hovering a minute of a chart reads every series' value then.
    let zone = wait_for(&browser, "figure.chart g.hover rect title").await;
    let readout = zone.prop("textContent").await.unwrap().unwrap_or_default();
    assert!(
        readout.contains("requests") && readout.contains("unusable"),
        "{readout}"
    );
    shots.take(&browser, "overview").await;

    // Licenses: issue one through the form, find it in the table.
    nav(&browser, "Licenses").await;
    wait_for(&browser, "table.licenses").await;
    click(&browser, "section.issue > button").await;
    wait_for(&browser, "#issue-product option").await;
    wait_for(&browser, "#issue-licensee")
        .await
        .send_keys("E2E Corp")
        .await
        .unwrap();
    wait_for(&browser, "#issue-entitlements")
        .await
        .send_keys("pro, sso")
        .await
        .unwrap();
    click(&browser, ".issue-form button[type=submit]").await;
    wait_for_text(&browser, ".issue .notice", "Issued").await;
    wait_for_text(&browser, "table.licenses tbody tr", "E2E Corp").await;
    let row = wait_for(&browser, "table.licenses tbody tr").await;
    assert!(row.text().await.unwrap().contains("valid"));
    shots.take(&browser, "licenses").await;

    // Its page: the server's state and the verdict lifeline-core computes in the browser.
    row.find(Locator::Css("a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[data-testid=server-state] [data-state=valid]").await;
    wait_for(&browser, "[data-testid=edge-verdict][data-state=valid]").await;
    wait_for_text(&browser, "table.audit", "license.issued").await;
    shots.take(&browser, "license").await;

    // Revoke it, with a reason, and see the state change and the history grow.
    browser
        .find(Locator::XPath("//button[normalize-space()='Revoke…']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[role=dialog] textarea")
        .await
        .send_keys("e2e: customer left")
        .await
        .unwrap();
    shots.take(&browser, "revoke-dialog").await;
    click(&browser, "[data-testid=confirm]").await;
    wait_for(&browser, "[data-testid=server-state] [data-state=revoked]").await;
    wait_for_text(&browser, "table.audit", "license.revoked").await;
    // The page says why the actions are greyed out, and that an offline verifier still
    // accepts the token (the server's revocation reaches verifiers through the status list).
    wait_for_text(&browser, "[data-testid=why-disabled]", "revoked license").await;
    wait_for_text(&browser, "[data-testid=verdicts-differ]", "status list").await;
    shots.take(&browser, "license-revoked").await;

    // The table agrees.
    nav(&browser, "Licenses").await;
    wait_for(&browser, "#state-filter")
        .await
        .select_by_value("revoked")
        .await
        .unwrap();
    wait_for_text(&browser, "table.licenses tbody", "E2E Corp").await;

    // Overrides: one for the licensee, active at once; one too long to go without a second
    // admin, which this same admin cannot approve; revoke the first.
    nav(&browser, "Overrides").await;
    wait_for(&browser, "#ovr-scope")
        .await
        .select_by_value("licensee")
        .await
        .unwrap();
    wait_for(&browser, "#ovr-scope-value")
        .await
        .send_keys("E2E Corp")
        .await
        .unwrap();
    wait_for(&browser, "#ovr-reason")
        .await
        .send_keys("billing outage")
        .await
        .unwrap();
    wait_for(&browser, "#ovr-incident")
        .await
        .send_keys("INC-42")
        .await
        .unwrap();
    wait_for(
        &browser,
        "form[aria-label='Create an override'] button[type=submit]",
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for_text(&browser, ".notice", "is active").await;
    wait_for(&browser, "tr[data-status=active]").await;
    let hours = wait_for(&browser, "#ovr-hours").await;
    hours.clear().await.unwrap();
    hours.send_keys("100").await.unwrap();
    wait_for_text(&browser, ".notice", "second admin").await;
    wait_for(
        &browser,
        "form[aria-label='Create an override'] button[type=submit]",
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for_text(&browser, ".notice", "waits for a second admin").await;
    let pending = wait_for(&browser, "tr[data-status='pending approval']").await;
    pending
        .find(Locator::XPath(".//button[normalize-space()='Approve']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "[role=alert]", "403").await;
    shots.take(&browser, "overrides").await;
    wait_for(&browser, "tr[data-status=active]")
        .await
        .find(Locator::XPath(".//button[normalize-space()='Revoke…']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "[role=dialog] textarea")
        .await
        .send_keys("incident over")
        .await
        .unwrap();
    click(&browser, "[data-testid=confirm]").await;
    wait_for(&browser, "tr[data-status=revoked]").await;

    // Keys and audit.
    nav(&browser, "Keys").await;
    wait_for_text(&browser, "table.keys", "signs now").await;
    shots.take(&browser, "keys").await;
    nav(&browser, "Audit").await;
    wait_for_text(&browser, "[data-testid=chain]", "Chain intact").await;
    wait_for_text(&browser, "table.audit", "license.revoked").await;
    shots.take(&browser, "audit").await;

    // Incidents: the rules opened some; filter the open ones, acknowledge one, add a note.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, open) = api(&base, "GET", "/api/v1/incidents?status=open", &admin, None);
        if open.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "no incident opened: {open}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nav(&browser, "Incidents").await;
    wait_for(&browser, "table.incidents").await;
    wait_for(&browser, "#incident-status")
        .await
        .select_by_value("open")
        .await
        .unwrap();
    let open_row = wait_for(&browser, "table.incidents tr[data-status=open]").await;
    assert!(
        browser
            .find(Locator::Css("table.incidents tr[data-status=resolved]"))
            .await
            .is_err(),
        "the status filter applies"
    );
    let incident_id = open_row.attr("data-incident").await.unwrap().unwrap();
    shots.take(&browser, "incidents").await;
    open_row
        .find(Locator::Css("a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "article.incident[data-status=open]").await;
    wait_for_text(&browser, "ol.timeline", "opened").await;
    click(&browser, "[data-testid=acknowledge]").await;
    wait_for(&browser, "article.incident[data-status=acknowledged]").await;
    wait_for_text(&browser, "[data-testid=acknowledged]", "token:").await;
    wait_for(&browser, "#incident-note")
        .await
        .send_keys("e2e: failing over the forged client")
        .await
        .unwrap();
    click(&browser, "[data-testid=add-note]").await;
    wait_for_text(
        &browser,
        "ol.timeline li[data-kind=note]",
        "e2e: failing over the forged client",
    )
    .await;
    shots.take(&browser, "incident").await;
    let (status, detail) = api(
        &base,
        "GET",
        &format!("/api/v1/incidents/{incident_id}"),
        &admin,
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(detail["status"], "acknowledged", "{detail}");
    assert!(
        detail["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "note" && e["text"] == "e2e: failing over the forged client"),
        "{detail}"
    );

    // The dependency map: one node over one SQLite store, so the store is a single point
    // of failure; selecting it lists everything that stops with it.
    nav(&browser, "Map").await;
    wait_for(&browser, "[data-ready=map]").await;
    wait_for(&browser, ".spofs li[data-spof=store]").await;
    let store = wait_for(&browser, "tr[data-component=store][data-spof=true]").await;
    assert!(store.text().await.unwrap().contains("SQLite store"));
    wait_for_text(
        &browser,
        "tr[data-component='service:checkout-web']",
        "checkout-web",
    )
    .await;
    store
        .find(Locator::Css("button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "section.blast[data-selected=store]").await;
    wait_for_text(&browser, "[data-testid=breaks]", "status list").await;
    // The same map drawn: the store's box marked as a single point of failure, selected, and
    // the service that stops without it lit up.
    wait_for(
        &browser,
        "[data-testid=map-graph] g.node[data-component=store][data-spof=true].role-selected",
    )
    .await;
    wait_for(
        &browser,
        "[data-testid=map-graph] g.node[data-component='service:checkout-web'].role-breaks",
    )
    .await;
    browser
        .execute(
            "document.querySelector('[data-testid=map-graph]').scrollIntoView(); return 1;",
            vec![],
        )
        .await
        .unwrap();
    shots.take(&browser, "map-graph").await;
    wait_for(&browser, "tr[data-component='service:checkout-web'].breaks").await;
    shots.take(&browser, "map").await;

    // Drills: a real drill (its own lab of servers and verifiers) stores its report on this
    // server; the Drills page shows it as the drill's last run, in the list, and in detail.
    let drill = Command::new(BIN)
        .args(["drill", "run", "corrupted-license-file", "--json"])
        .args(["--report-to", &base])
        .env("LIFELINE_ADMIN_TOKEN", &admin)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let printed: Value = serde_json::from_slice(&drill.stdout)
        .unwrap_or_else(|e| panic!("drill run --json printed no report ({e}): {drill:?}"));
    let passed = printed["passed"].as_bool().unwrap();
    assert_eq!(
        drill.status.code(),
        Some(if passed { 0 } else { 1 }),
        "the exit code says whether the drill passed: {printed}"
    );
    let result = if passed { "passed" } else { "failed" };
    let (status, stored) = api(
        &base,
        "GET",
        "/api/v1/drills?name=corrupted-license-file",
        &admin,
        None,
    );
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored.as_array().unwrap().len(), 1, "{stored}");
    assert_eq!(
        stored[0]["report"], printed,
        "the server stored what was printed"
    );
    let report_id = stored[0]["id"].as_str().unwrap().to_owned();
    nav(&browser, "Drills").await;
    let last_run = wait_for(
        &browser,
        &format!("table.drill-summary tr[data-drill=corrupted-license-file][data-result={result}]"),
    )
    .await;
    assert!(
        last_run
            .find(Locator::Css(&format!("a[href='/drills/{report_id}']")))
            .await
            .is_ok(),
        "the last run links its report"
    );
    wait_for(
        &browser,
        "table.drill-summary tr[data-drill=all-nodes-down][data-result=never]",
    )
    .await;
    let row = wait_for(
        &browser,
        &format!("table.drills tr[data-report='{report_id}'][data-result={result}]"),
    )
    .await;
    let detect = match printed["times"]["detect_ms"].as_u64() {
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
        None => "not detected".to_owned(),
    };
    assert_eq!(
        row.find(Locator::Css("[data-field=detect]"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        detect
    );
    // The filter: a drill never run says how to run it; this one lists its report.
    wait_for(&browser, "#drill-name")
        .await
        .select_by_value("all-nodes-down")
        .await
        .unwrap();
    wait_for_text(
        &browser,
        "[data-testid=drills-how-to]",
        &format!("lifeline drill run all-nodes-down --report-to {base}"),
    )
    .await;
    assert!(browser.find(Locator::Css("table.drills")).await.is_err());
    wait_for(&browser, "#drill-name")
        .await
        .select_by_value("corrupted-license-file")
        .await
        .unwrap();
    wait_for(
        &browser,
        &format!("table.drills tr[data-report='{report_id}']"),
    )
    .await;
    shots.take(&browser, "drills").await;
    wait_for(
        &browser,
        &format!("table.drills tr[data-report='{report_id}'] a"),
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for(
        &browser,
        &format!("article.drill[data-report='{report_id}'][data-result={result}]"),
    )
    .await;
    assert_eq!(
        text_of(&browser, "[data-field=fault]").await,
        printed["fault"].as_str().unwrap()
    );
    assert_eq!(
        text_of(&browser, "[data-field=checks]").await,
        printed["verifiers"]["checks"].to_string()
    );
    let expectations = printed["expectations"].as_array().unwrap();
    let shown = browser
        .find_all(Locator::Css("ul.expectations li"))
        .await
        .unwrap();
    assert_eq!(shown.len(), expectations.len());
    for (li, e) in shown.iter().zip(expectations) {
        let text = li.text().await.unwrap();
        assert!(
            text.contains(e["expected"].as_str().unwrap())
                && text.contains(e["observed"].as_str().unwrap()),
            "{text:?} vs {e}"
        );
        assert_eq!(
            li.attr("data-met").await.unwrap(),
            Some(e["met"].to_string())
        );
    }
    shots.take(&browser, "drill").await;

    live.walk(&browser, &mut shots).await;
    browser.goto(&base).await.unwrap();
    wait_for(&browser, "[data-ready=overview]").await;

    // A server without traffic: every chart says so in words, not with an empty frame.
    browser.goto(&quiet.base).await.unwrap();
    sign_in(&browser, &quiet.admin).await;
    wait_for(&browser, "[data-ready=overview]").await;
    let empty = browser
        .execute(
            "return [...document.querySelectorAll('figure.chart')].map((f) => [!!f.querySelector('svg'), f.querySelector('[data-testid=chart-empty]')?.textContent ?? '']);",
            vec![],
        )
        .await
        .unwrap();
    let empty = empty.as_array().unwrap();
    assert_eq!(empty.len(), 4, "{empty:?}");
    for chart in empty {
        assert_eq!(chart[0], json!(false), "no drawing: {chart}");
        assert!(chart[1].as_str().unwrap().starts_with("No "), "{chart}");
    }
    assert!(
        empty[0][1].as_str().unwrap().contains(&quiet.base),
        "{empty:?}"
    );
    shots.take(&browser, "overview-no-traffic").await;
    // (Back on the first server's origin, this tab's session there still holds.)
    browser.goto(&base).await.unwrap();
    wait_for(&browser, "[data-ready=overview]").await;

    // A phone on call (390 px wide): every page again, a license in each state, an incident
    // and a drill report, each screenshotted after axe-core found nothing serious.
    browser.set_window_size(390, 844).await.unwrap();
    for (label, ready) in [
        ("Overview", "[data-ready=overview]"),
        ("Licenses", "table.licenses"),
        ("Incidents", "table.incidents"),
        ("Drills", "table.drill-summary"),
        ("Overrides", "#ovr-scope"),
        ("Keys", "table.keys"),
        ("Map", "[data-ready=map]"),
        ("Audit", "table.audit"),
    ] {
        nav(&browser, label).await;
        wait_for(&browser, ready).await;
        shots
            .take(&browser, &format!("{}-390px", label.to_lowercase()))
            .await;
    }
    // The overview's six cards make whole rows at every width: 2 per row here, 6 at 1280 and
    // 1920 px (checked below).
    let rows_of_cards = r#"const tops = [...document.querySelectorAll('.cards > .card')].map((c) => Math.round(c.getBoundingClientRect().top));
        const rows = {}; tops.forEach((t) => { rows[t] = (rows[t] || 0) + 1; }); return Object.values(rows);"#;
    nav(&browser, "Overview").await;
    wait_for(&browser, "[data-ready=overview]").await;
    assert_eq!(
        browser.execute(rows_of_cards, vec![]).await.unwrap(),
        json!([2, 2, 2])
    );
    for state in ["valid", "grace", "expired", "revoked"] {
        browser
            .goto(&format!("{base}/licenses?state={state}"))
            .await
            .unwrap();
        click(&browser, "table.licenses tbody tr a").await;
        wait_for(
            &browser,
            &format!("[data-testid=server-state] [data-state={state}]"),
        )
        .await;
        wait_for(&browser, "[data-testid=edge-verdict]").await;
        shots
            .take(&browser, &format!("license-{state}-390px"))
            .await;
    }
    browser.goto(&format!("{base}/incidents")).await.unwrap();
    click(&browser, "table.incidents tbody tr a").await;
    wait_for(&browser, "article.incident").await;
    wait_for_text(&browser, "ol.timeline", "opened").await;
    shots.take(&browser, "incident-390px").await;
    browser
        .goto(&format!("{base}/drills/{report_id}"))
        .await
        .unwrap();
    wait_for(
        &browser,
        &format!("article.drill[data-report='{report_id}']"),
    )
    .await;
    shots.take(&browser, "drill-390px").await;
    for width in [1920, 1280] {
        browser.set_window_size(width, 1000).await.unwrap();
        nav(&browser, "Overview").await;
        wait_for(&browser, "[data-ready=overview]").await;
        assert_eq!(
            browser.execute(rows_of_cards, vec![]).await.unwrap(),
            json!([6]),
            "{width} px: one row of cards"
        );
    }
    browser.set_window_size(1280, 900).await.unwrap();

    // The worst day: the signing key leaked. An admin marks it compromised on the Keys page
    // (typing its id), then resolves the incident it opened once the leak is closed.
    nav(&browser, "Keys").await;
    wait_for_text(&browser, "table.keys", "signs now").await;
    let active_row = browser
        .find(Locator::XPath(
            "//table[contains(@class,'keys')]//tr[td[normalize-space()='signs now']]",
        ))
        .await
        .unwrap();
    let kid = active_row.attr("data-kid").await.unwrap().unwrap();
    active_row
        .find(Locator::Css("[data-testid=compromise]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "#compromise-incident")
        .await
        .send_keys("INC-E2E")
        .await
        .unwrap();
    wait_for(&browser, "[role=dialog] textarea")
        .await
        .send_keys("e2e: the key file was found in a public repository")
        .await
        .unwrap();
    let confirm = wait_for(&browser, "[data-testid=confirm]").await;
    assert!(
        confirm.attr("disabled").await.unwrap().is_some(),
        "not before the key id is typed"
    );
    wait_for(&browser, "#compromise-kid")
        .await
        .send_keys(&kid)
        .await
        .unwrap();
    click(&browser, "[data-testid=confirm]").await;
    wait_for_text(&browser, "[data-testid=recovered]", "is marked compromised").await;
    wait_for_text(&browser, &format!("tr[data-kid='{kid}']"), "compromised").await;
    wait_for_text(&browser, "table.keys", "signs now").await;
    shots.take(&browser, "keys-compromised").await;
    let (_, opened) = api(
        &base,
        "GET",
        "/api/v1/incidents?rule=key_compromised",
        &admin,
        None,
    );
    let leak_incident = opened["items"][0]["id"]
        .as_str()
        .or_else(|| opened[0]["id"].as_str())
        .unwrap_or_else(|| panic!("no key_compromised incident: {opened}"))
        .to_owned();
    browser
        .goto(&format!("{base}/incidents/{leak_incident}"))
        .await
        .unwrap();
    wait_for(&browser, "article.incident[data-status=open]").await;
    wait_for(&browser, "#incident-note")
        .await
        .send_keys("e2e: repository purged, key rotated out")
        .await
        .unwrap();
    click(&browser, "[data-testid=resolve]").await;
    wait_for(&browser, "article.incident[data-status=resolved]").await;

    // An expired session leads back to sign-in, saying why.
    let (status, created) = api(
        &base,
        "POST",
        "/api/v1/tokens",
        &admin,
        Some(json!({ "name": "short-lived", "role": "viewer", "expires_at": now() + 2 })),
    );
    assert_eq!(status, 201, "{created}");
    wait_for(&browser, "header button").await;
    browser
        .find(Locator::XPath("//button[normalize-space()='Sign out']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    sign_in(&browser, created["token"].as_str().unwrap()).await;
    assert!(
        text_of(&browser, "[data-testid=who]")
            .await
            .contains("viewer")
    );
    // A viewer is offered no issue form.
    nav(&browser, "Licenses").await;
    wait_for(&browser, "table.licenses").await;
    assert!(browser.find(Locator::Css("section.issue")).await.is_err());
    tokio::time::sleep(Duration::from_secs(3)).await;
    nav(&browser, "Keys").await;
    wait_for(&browser, "input#token").await;
    wait_for_text(&browser, ".notice", "session ended").await;
    shots.take(&browser, "session-expired").await;

    // Every page above ran under the console's strict Content-Security-Policy (sent on
    // every console answer) with no violation; the control shows a violation is seen.
    let (status, headers) = {
        let r = agent().get(&base).call().unwrap();
        (r.status().as_u16(), r.headers().clone())
    };
    assert_eq!(status, 200);
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'")
            && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let log = profile.path().join("chrome.log");
    let violations = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Content Security Policy"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        violations(),
        Vec::<String>::new(),
        "CSP violations while walking the console"
    );
    let _ = browser
        .execute(
            "const p = document.createElement('p'); p.setAttribute('style', 'color: red'); document.body.append(p); return 1;",
            vec![],
        )
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while violations().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the control's violation never reached {} ({} bytes)",
            log.display(),
            std::fs::metadata(&log).map_or(0, |m| m.len())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser.close().await.unwrap();
    let report = json!({
        "time_to_first_render_ms": first_render_ms,
        "screenshots": shots.taken,
    });
    std::fs::write(
        shots_dir.join("report.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    println!(
        "console e2e: overview first render {first_render_ms:.0} ms after navigation; screenshots in {}",
        shots_dir.display()
    );
}

/// `lifeline serve ARGS --console DIR` on a fresh SQLite and a free port; SIGKILLed when
/// dropped. With `--demo`, `make run`'s server, which [`Self::walk`] checks.
struct ConsoleServer {
    _server: Process,
    _data: tempfile::TempDir,
    base: String,
    admin: String,
    started: Instant,
}

/// Where the README's screenshots live (the e2e test writes them on every run).
const README_SHOTS: &str = "web/screenshots";

impl ConsoleServer {
    fn start(console: &Path, args: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let server = Process(
            Command::new(BIN)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .args(args)
                .arg("--data-dir")
                .arg(data.path())
                .arg("--console")
                .arg(console)
                .env_remove("LIFELINE_ADMIN_TOKEN")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let started = Instant::now();
        wait_until_listening(port, "lifeline serve");
        let admin = std::fs::read_to_string(data.path().join("admin-token"))
            .unwrap()
            .trim()
            .to_owned();
        Self {
            _server: server,
            _data: data,
            base: format!("http://127.0.0.1:{port}"),
            admin,
            started,
        }
    }

    /// The demo's own drill run (started by `demo` a minute in), once it has ended.
    async fn first_drill(&self) -> Value {
        let deadline = self.started + Duration::from_secs(180);
        loop {
            let (status, runs) = api(&self.base, "GET", "/api/v1/drill-runs", &self.admin, None);
            assert_eq!(status, 200, "{runs}");
            let done = runs
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["started_by"] == "demo" && r["status"] != "running");
            if let Some(run) = done {
                return run.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the demo ran no drill within 3 min: {runs}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// After a minute of the demo: charts with data, incidents, the demo's drill report; a
    /// drill run with the Run button, followed while it runs, its report on the page.
    async fn walk(&self, browser: &Client, shots: &mut Shots) {
        let minute = self.started + Duration::from_secs(60);
        if let Some(wait) = minute.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let first = self.first_drill().await;
        assert_eq!(first["status"], "passed", "the demo's own drill: {first:#}");
        assert_eq!(first["name"], "one-node-down");
        let first_report = first["report_id"].as_str().unwrap().to_owned();

        browser.goto(&self.base).await.unwrap();
        sign_in(browser, &self.admin).await;
        wait_for(browser, "[data-ready=overview]").await;
        // Every chart has plotted something: the fleet's validations (some refused), their
        // latency, and the verdicts its edges report.
        for service in ["edge-eu", "edge-us", "partner-portal"] {
            wait_for_text(browser, "table.services", service).await;
        }
        let maxima = browser
            .execute(
                "return [...document.querySelectorAll('figure.chart')].map(f => [\
                   f.querySelector('figcaption').textContent,\
                   Math.max(0, ...[...f.querySelectorAll('tbody td:nth-child(3)')].map(td => parseFloat(td.textContent)))]);",
                vec![],
            )
            .await
            .unwrap();
        let maxima = maxima.as_array().unwrap();
        assert!(maxima.len() >= 4, "{maxima:?}");
        for chart in maxima {
            assert!(
                chart[1].as_f64().unwrap() > 0.0,
                "an empty chart after a minute of the demo: {chart}"
            );
        }
        shots.take(browser, "demo-overview").await;
        std::fs::create_dir_all(workspace().join(README_SHOTS)).unwrap();
        std::fs::write(
            workspace().join(README_SHOTS).join("overview.png"),
            browser.screenshot().await.unwrap(),
        )
        .unwrap();

        // The fleet's burst of forged tokens opened incidents.
        nav(browser, "Incidents").await;
        wait_for_text(browser, "table.incidents", "partner-portal").await;

        // The demo's drill is on the Drills page; an operator runs another with its button.
        nav(browser, "Drills").await;
        let row = wait_for(
            browser,
            "table.drill-summary tr[data-drill=one-node-down][data-result=passed]",
        )
        .await;
        assert!(
            row.find(Locator::Css(&format!("a[href='/drills/{first_report}']")))
                .await
                .is_ok(),
            "the demo's drill report is the last run"
        );
        click(browser, "button[data-run=store-unavailable]").await;
        wait_for(browser, "[data-testid=drill-run][data-status=running]").await;
        wait_for_text(browser, "[data-testid=drill-run] ol.steps", "lab ready").await;
        assert_eq!(
            browser
                .find(Locator::Css("button[data-run=one-node-down]"))
                .await
                .unwrap()
                .attr("disabled")
                .await
                .unwrap()
                .as_deref(),
            Some("true"),
            "one drill at a time"
        );
        browser
            .execute("window.scrollTo(0, 0); return 1;", vec![])
            .await
            .unwrap();
        shots.take(browser, "demo-drill-running").await;
        let deadline = Instant::now() + Duration::from_secs(120);
        let link = loop {
            if let Ok(link) = browser
                .find(Locator::Css(
                    "[data-testid=drill-run] [data-testid=run-report]",
                ))
                .await
            {
                break link;
            }
            assert!(
                Instant::now() < deadline,
                "the Run button's drill did not end within 2 min"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let status = browser
            .find(Locator::Css("[data-testid=drill-run]"))
            .await
            .unwrap()
            .attr("data-status")
            .await
            .unwrap();
        assert_eq!(status.as_deref(), Some("passed"));
        wait_for(
            browser,
            "table.drill-summary tr[data-drill=store-unavailable][data-result=passed]",
        )
        .await;
        link.click().await.unwrap();
        wait_for(
            browser,
            "article.drill[data-drill=store-unavailable][data-result=passed]",
        )
        .await;
        let (_, reports) = api(
            &self.base,
            "GET",
            "/api/v1/drills?name=store-unavailable",
            &self.admin,
            None,
        );
        assert_eq!(reports.as_array().unwrap().len(), 1, "{reports}");
        assert!(
            reports[0]["received_from"]
                .as_str()
                .unwrap()
                .starts_with("token:"),
            "{reports}"
        );
        shots.take(browser, "demo-drill-report").await;
        std::fs::write(
            workspace().join(README_SHOTS).join("drill-report.png"),
            browser.screenshot().await.unwrap(),
        )
        .unwrap();
    }
}

async fn sign_in_refused(browser: &Client, token: &str) {
    wait_for(browser, "input#token")
        .await
        .send_keys(token)
        .await
        .unwrap();
    click(browser, "button[type=submit]").await;
    wait_for_text(browser, "[role=alert]", "not accepted").await;
}
