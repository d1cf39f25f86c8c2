//! Component tests in headless Chromium: mount a component with known data, act on the DOM
//! like a user, assert on what the DOM shows.
//! `cargo test -p lifeline-console --target wasm32-unknown-unknown --test components`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use leptos::prelude::*;
use lifeline_api::{
    KeyStatus, License, LicenseState, MinuteStats, Overview, ReasonCount, Role, SessionInfo,
    SigningKeyInfo, StateCounts,
};
use lifeline_console::components::badge::StateBadge;
use lifeline_console::components::confirm::ConfirmDialog;
use lifeline_console::components::license_table::LicenseTable;
use lifeline_console::components::seats::SeatTable;
use lifeline_console::components::verdict::VerdictView;
use lifeline_console::pages::keys::KeyTable;
use lifeline_console::pages::overview::OverviewView;
use lifeline_console::session::{Auth, STORAGE_KEY, Session};
use lifeline_core::LicenseSigner;
use serde_json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

const NOW: u64 = 1_790_000_000;

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Mounts `view` in a fresh `<div>` of the page and returns the div.
fn mount<N: IntoView + 'static>(view: impl FnOnce() -> N + 'static) -> HtmlElement {
    let root: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    leptos::mount::mount_to(root.clone(), view).forget();
    root
}

fn all(root: &Element, selector: &str) -> Vec<Element> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

fn one(root: &Element, selector: &str) -> Element {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector} in {}", root.inner_html()))
}

fn text(root: &Element) -> String {
    root.text_content().unwrap_or_default()
}

async fn settle() {
    for _ in 0..3 {
        leptos::task::tick().await;
    }
}

fn license(id: &str, licensee: &str, state: LicenseState) -> License {
    License {
        id: id.to_owned(),
        product: "editor".to_owned(),
        licensee: licensee.to_owned(),
        entitlements: vec!["pro".to_owned()],
        issued_at: NOW - 86_400,
        expires_at: NOW + 10 * 86_400,
        grace_s: 0,
        seats: None,
        metadata: serde_json::Map::new(),
        kid: "k1".to_owned(),
        token: "t".to_owned(),
        state,
        revoked_at: None,
        revoke_reason: None,
        version: 0,
    }
}

#[wasm_bindgen_test]
fn a_badge_names_its_state_in_text_not_only_colour() {
    let root = mount(|| view! { <StateBadge state="grace"/> });
    let badge = one(&root, ".badge");
    assert_eq!(badge.get_attribute("data-state").as_deref(), Some("grace"));
    assert!(badge.class_name().contains("state-grace"));
    assert!(text(&badge).contains("grace"));
}

#[wasm_bindgen_test]
fn the_license_table_links_each_row_and_says_when_empty() {
    let rows = vec![
        license("0193-a", "ACME Corp", LicenseState::Valid),
        license("0193-b", "Globex", LicenseState::Revoked),
    ];
    let root = mount(move || view! { <LicenseTable licenses=rows now=NOW/> });
    let trs = all(&root, "tbody tr");
    assert_eq!(trs.len(), 2);
    assert_eq!(
        one(&trs[0], "a").get_attribute("href").as_deref(),
        Some("/licenses/0193-a")
    );
    assert!(text(&trs[0]).contains("ACME Corp"));
    assert!(text(&trs[0]).contains("in 10 days"));
    assert_eq!(
        one(&trs[1], ".badge")
            .get_attribute("data-state")
            .as_deref(),
        Some("revoked")
    );
    let empty = mount(|| view! { <LicenseTable licenses=Vec::new() now=NOW/> });
    assert!(all(&empty, "table").is_empty());
    assert!(text(&empty).contains("No licenses match"));
    let never =
        mount(|| view! { <LicenseTable licenses=Vec::new() now=NOW empty="No licenses yet."/> });
    assert_eq!(text(&never), "No licenses yet.");
}

/// Names lead the row (the licensee is the link); the id is short, whole in its tooltip,
/// and its copy button copies the whole.
#[wasm_bindgen_test]
async fn the_license_table_leads_with_names_and_shortens_ids() {
    let id = "0193a7c2-5b1e-7c3d-9f00-2b7e4d1a9c55";
    let rows = vec![license(id, "ACME Corp", LicenseState::Valid)];
    let root = mount(move || view! { <LicenseTable licenses=rows now=NOW/> });
    let tr = one(&root, "tbody tr");
    let cells = all(&tr, "td");
    assert_eq!(text(&cells[0]), "ACME Corp");
    assert_eq!(
        one(&cells[0], "a").get_attribute("href").unwrap(),
        format!("/licenses/{id}")
    );
    let code = one(&tr, "code.id");
    assert_eq!(text(&code), "0193a7c2…");
    assert_eq!(code.get_attribute("title").as_deref(), Some(id));
    let copy: HtmlElement = one(&tr, "button.copy").unchecked_into();
    assert_eq!(copy.get_attribute("data-copy").as_deref(), Some(id));
    assert!(copy.get_attribute("aria-label").unwrap().contains(id));
    copy.click();
    for _ in 0..50 {
        settle().await;
        if text(&copy) != "copy" {
            break;
        }
    }
    // The click reached the table's one handler, which found this button. (Headless Chromium
    // may hold or refuse the clipboard: the button then says so.)
    assert!(
        ["copying…", "copied", "copy failed"].contains(&text(&copy).as_str()),
        "{}",
        text(&copy)
    );
}

fn seat(id: &str, name: &str, status: lifeline_api::SeatStatus) -> lifeline_api::Seat {
    let ended = !matches!(
        status,
        lifeline_api::SeatStatus::Alive | lifeline_api::SeatStatus::Borrowed
    );
    lifeline_api::Seat {
        id: id.into(),
        license_id: "lic-1".into(),
        name: name.into(),
        fingerprint_hash: "3fc08b172184".into(),
        mode: lifeline_api::SeatMode::Floating,
        node: "node-a".into(),
        first_seen: NOW - 3600,
        last_heartbeat: NOW - 30,
        status,
        lease_expires_at: (!ended).then_some(NOW + 90),
        borrowed_until: None,
        ended_at: ended.then_some(NOW - 10),
        end_cause: ended.then_some(lifeline_api::SeatEnd::Expired),
        end_reason: None,
    }
}

#[wasm_bindgen_test]
fn the_seat_table_shows_holders_and_releases_only_held_seats() {
    use lifeline_api::SeatStatus;
    let seats = lifeline_api::LicenseSeats {
        license_id: "lic-1".into(),
        seats: Some(2),
        mode: Some(lifeline_api::SeatMode::Floating),
        max: Some(3),
        in_use: 1,
        items: vec![
            seat("s-1", "build box", SeatStatus::Alive),
            seat("s-2", "old laptop", SeatStatus::Reclaimed),
        ],
    };
    let released = RwSignal::new(Vec::<String>::new());
    let on_release = Callback::new(move |s: lifeline_api::Seat| released.update(|v| v.push(s.id)));
    let root = mount(move || view! { <SeatTable seats=seats now=NOW on_release=on_release/> });
    assert_eq!(
        text(&one(&root, "[data-testid=seat-summary]")),
        "1 of 2 seats in use (floating, up to 3 with overage)."
    );
    let rows = all(&root, "tbody tr");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].get_attribute("data-status").as_deref(),
        Some("held")
    );
    assert!(text(&rows[0]).contains("build box"));
    assert!(text(&rows[0]).contains("3fc08b172184"));
    assert!(text(&rows[1]).contains("reclaimed: no heartbeat"));
    assert!(
        all(&rows[1], "button").is_empty(),
        "an ended seat has nothing to release"
    );
    one(&rows[0], "button")
        .dyn_into::<HtmlElement>()
        .unwrap()
        .click();
    assert_eq!(released.get_untracked(), vec!["s-1".to_owned()]);
    // A license without seats, and one nobody activated yet.
    let none = lifeline_api::LicenseSeats {
        license_id: "lic-2".into(),
        seats: None,
        mode: None,
        max: None,
        in_use: 0,
        items: Vec::new(),
    };
    let root = mount(move || view! { <SeatTable seats=none now=NOW/> });
    assert!(text(&root).contains("This license has no seats"));
    assert!(text(&root).contains("No machine has activated a seat yet."));
}

#[wasm_bindgen_test]
async fn the_confirm_dialog_needs_a_reason_and_closes_on_escape() {
    let open = RwSignal::new(true);
    let confirmed = RwSignal::new(Vec::<String>::new());
    let root = mount(move || {
        view! {
            <ConfirmDialog
                open=open
                title="Revoke this license"
                message="It stops working."
                confirm_label="Revoke"
                busy=Signal::stored(false)
                on_confirm=Callback::new(move |r: String| confirmed.update(|c| c.push(r)))
            />
        }
    });
    settle().await;
    let button: HtmlElement = one(&root, "[data-testid=confirm]").unchecked_into();
    assert!(button.has_attribute("disabled"), "no reason yet");
    button.click();
    assert!(confirmed.get_untracked().is_empty());

    let reason: web_sys::HtmlTextAreaElement = one(&root, "textarea").unchecked_into();
    reason.set_value("  customer asked  ");
    reason
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    settle().await;
    assert!(!button.has_attribute("disabled"));
    button.click();
    assert_eq!(confirmed.get_untracked(), vec!["customer asked".to_owned()]);
    assert_eq!(
        one(&root, "[role=dialog]")
            .get_attribute("aria-modal")
            .as_deref(),
        Some("true")
    );

    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let escape =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    reason.dispatch_event(&escape).unwrap();
    settle().await;
    assert!(!open.get_untracked());
    assert!(all(&root, "[role=dialog]").is_empty());
}

fn signed(signer: &LicenseSigner, aud: &str, exp: u64) -> String {
    let claims = json!({
        "iss": "https://licensing.example", "sub": "ACME Corp", "aud": aud,
        "jti": "lic-1", "iat": NOW - 100, "nbf": NOW - 100, "exp": exp,
        "entitlements": ["pro", "sso"], "grace_s": 86_400,
    });
    signer.sign_license(claims.as_object().unwrap()).unwrap()
}

fn jwks(signer: &LicenseSigner) -> String {
    json!({ "keys": [signer.public_key().unwrap().to_jwk()] }).to_string()
}

#[wasm_bindgen_test]
fn the_edge_verdict_is_lifeline_core_running_in_this_browser() {
    let signer = LicenseSigner::from_seed("k1", &[7; 32]);
    let keys = jwks(&signer);
    let good = signed(&signer, "editor", NOW + 3600);

    let (t, k) = (good.clone(), keys.clone());
    let root =
        mount(move || view! { <VerdictView token=t jwks=k audience="editor".to_owned() now=NOW/> });
    let verdict = one(&root, "[data-testid=edge-verdict]");
    assert_eq!(
        verdict.get_attribute("data-state").as_deref(),
        Some("valid")
    );
    assert!(text(&verdict).contains("ACME Corp"));
    assert!(text(&verdict).contains("pro, sso"));

    // One flipped signature character: the same refusal an edge verifier gives.
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let k = keys.clone();
    let root = mount(move || view! { <VerdictView token=tampered jwks=k now=NOW/> });
    assert_eq!(
        one(&root, "[data-testid=edge-verdict]")
            .get_attribute("data-state")
            .as_deref(),
        Some("invalid")
    );
    assert_eq!(text(&one(&root, "[data-testid=reason]")), "bad_signature");

    // Past expiry, inside grace; and for another product.
    let late = signed(&signer, "editor", NOW - 60 * 5);
    let k = keys.clone();
    let root = mount(
        move || view! { <VerdictView token=late jwks=k audience="editor".to_owned() now=NOW/> },
    );
    assert_eq!(
        one(&root, "[data-testid=edge-verdict]")
            .get_attribute("data-state")
            .as_deref(),
        Some("grace")
    );
    let k = keys.clone();
    let root = mount(
        move || view! { <VerdictView token=good jwks=k audience="other".to_owned() now=NOW/> },
    );
    assert_eq!(text(&one(&root, "[data-testid=reason]")), "wrong_audience");

    // A key set that is not JSON is an error on the page, not a verdict.
    let root = mount(|| view! { <VerdictView token="x.y.z" jwks="{" now=NOW/> });
    assert!(all(&root, "[data-testid=edge-verdict]").is_empty());
    assert!(text(&one(&root, "[role=alert]")).contains("key set"));
}

fn minute(i: u64, requests: u64, failures: u64, p99: Option<f64>) -> MinuteStats {
    MinuteStats {
        start: NOW - (60 - i) * 60,
        requests,
        errors: requests / 10,
        failures,
        p50_ms: p99.map(|p| p / 4.0),
        p95_ms: p99.map(|p| p / 2.0),
        p99_ms: p99,
    }
}

#[wasm_bindgen_test]
async fn the_overview_shows_counts_traffic_charts_and_reasons() {
    let overview = Overview {
        now: NOW,
        licenses: StateCounts {
            valid: 12,
            grace: 3,
            expired: 2,
            revoked: 1,
            overridden: 2,
        },
        expiring_window_s: 30 * 86_400,
        expiring_soon_total: 1,
        expiring_soon: vec![license("0193-c", "Initech", LicenseState::Valid)],
        validation: (0..60)
            .map(|i| {
                if i < 58 {
                    minute(i, 0, 0, None)
                } else {
                    minute(i, 100, 20, Some(8.0))
                }
            })
            .collect(),
        failures_by_reason: vec![
            ReasonCount {
                reason: "expired".to_owned(),
                count: 30,
            },
            ReasonCount {
                reason: "bad_signature".to_owned(),
                count: 10,
            },
        ],
        open_incidents: 4,
        seats: vec![lifeline_api::ProductSeats {
            product: "photo-pro".into(),
            in_use: 9,
            sold: 10,
        }],
        seats_nearly_full: vec![lifeline_api::NearlyFull {
            license_id: "0193-d".into(),
            licensee: "Umbrella".into(),
            product: "photo-pro".into(),
            in_use: 9,
            seats: 10,
        }],
        ..Overview::default()
    };
    let root = mount(move || view! { <OverviewView overview=overview/> });
    settle().await;
    let count = |state: &str| text(&one(&root, &format!("[data-count={state}] .count")));
    assert_eq!(
        [
            count("valid"),
            count("grace"),
            count("expired"),
            count("revoked")
        ],
        ["12", "3", "2", "1"].map(str::to_owned)
    );
    assert_eq!(
        one(&root, "[data-count=grace]")
            .get_attribute("href")
            .as_deref(),
        Some("/licenses?state=grace")
    );
    assert_eq!(text(&one(&root, "[data-testid=requests]")), "200");
    let seats = one(&root, "table.seat-use tr[data-product=photo-pro]");
    assert!(text(&seats).contains("90.0%"), "{}", text(&seats));
    let full = one(&root, "table.seats-nearly-full tr[data-license='0193-d']");
    assert!(text(&full).contains("Umbrella") && text(&full).contains("9 of 10"));
    assert_eq!(
        one(&full, "a").get_attribute("href").as_deref(),
        Some("/licenses/0193-d")
    );
    assert_eq!(text(&one(&root, "[data-testid=error-rate]")), "10.0%");
    assert_eq!(text(&one(&root, "[data-testid=failure-rate]")), "20.0%");
    assert_eq!(text(&one(&root, "[data-count=incidents] .count")), "4");
    // Three charts of this node's traffic; the fourth, the edge's, has nothing to draw and
    // says so (with where verifiers post) instead of an empty frame.
    let charts = all(&root, "figure.chart");
    assert_eq!(charts.len(), 4);
    assert!(text(&root).contains("No verifier has reported telemetry yet"));
    assert!(all(&charts[3], "svg").is_empty());
    assert!(text(&one(&charts[3], "[data-testid=chart-empty]")).contains("/api/v1/telemetry"));
    for chart in &charts[..3] {
        let svg = one(chart, "svg[role=img]");
        assert!(svg.get_attribute("aria-label").is_some());
        assert_eq!(
            svg.namespace_uri().as_deref(),
            Some("http://www.w3.org/2000/svg")
        );
        // The y axis starts at 0 and is labelled.
        assert_eq!(text(&all(chart, "text.tick.y")[0]), "0");
    }
    // Hovering a minute reads every series' value then: one zone per minute with a value.
    let zones = all(&charts[0], "g.hover rect");
    assert_eq!(zones.len(), 60);
    let tip = text(&one(zones.last().unwrap(), "title"));
    assert!(
        tip.contains("requests") && tip.contains("unusable") && tip.contains("(requests)"),
        "{tip}"
    );
    // A later line never hides an earlier one on the same values: earlier lines are wider.
    let widths: Vec<f64> = all(&charts[0], "g.series polyline")
        .iter()
        .map(|p| p.get_attribute("stroke-width").unwrap().parse().unwrap())
        .collect();
    assert!(widths[0] > widths[1], "{widths:?}");
    // A line per series with a point per minute that has a value, drawn in the plot area.
    let lines = |chart: &web_sys::Element| {
        all(chart, "g.series")
            .iter()
            .map(|g| {
                let label = g.get_attribute("data-series").unwrap();
                let points = one(g, "polyline").get_attribute("points").unwrap();
                (label, points.split(' ').count(), all(g, "circle").len())
            })
            .collect::<Vec<_>>()
    };
    let rate = lines(&charts[0]);
    assert_eq!(rate.len(), 2, "{rate:?}");
    assert!(
        rate.iter()
            .all(|(_, points, dots)| *points == 60 && *dots == 60),
        "{rate:?}"
    );
    // Latency: only the two minutes with traffic have percentiles.
    let latency = lines(&charts[2]);
    assert_eq!(
        latency
            .iter()
            .map(|l| (l.0.as_str(), l.1))
            .collect::<Vec<_>>(),
        [("p50", 2), ("p95", 2), ("p99", 2)]
    );
    // The highest point (8 ms) sits below the top of the axis (10), not on the frame.
    let top_tick = all(&charts[2], "text.tick.y")
        .iter()
        .map(|t| text(t).parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(top_tick, 10.0);
    // The latency chart's table carries the figures for screen readers.
    let latency = text(&charts[2]);
    assert!(
        latency.contains("p99") && latency.contains('8'),
        "{latency}"
    );
    let reasons = all(
        &root,
        "section[aria-labelledby=reasons-h] table.reasons tbody tr",
    );
    assert_eq!(reasons.len(), 2);
    assert!(text(&reasons[0]).contains("expired") && text(&reasons[0]).contains("75.0%"));
    assert!(text(&root).contains("Initech"));
}

#[wasm_bindgen_test]
fn keys_warn_before_rotation_is_due_and_flag_overdue() {
    let key = |kid: &str, status, not_before: u64| SigningKeyInfo {
        kid: kid.to_owned(),
        status,
        created_at: not_before,
        not_before,
        not_after: (status == KeyStatus::Retired).then_some(not_before + 100),
        rotate_by: (status == KeyStatus::Active).then_some(not_before + 365 * 86_400),
        public_jwk: json!({}),
        compromised_at: None,
        compromise_reason: None,
        compromise_incident: None,
        issued_list_licenses: None,
    };
    let year = 365 * 86_400;
    let keys = vec![
        key("fresh", KeyStatus::Active, NOW - 10 * 86_400),
        key("due", KeyStatus::Active, NOW - year + 5 * 86_400),
        key("overdue", KeyStatus::Active, NOW - year - 86_400),
        key("old", KeyStatus::Retired, NOW - 2 * year),
    ];
    let root = mount(move || view! { <KeyTable keys=keys now=NOW/> });
    let health = |kid: &str| one(&root, &format!("[data-kid={kid}] .health")).class_name();
    assert!(health("fresh").contains("ok"));
    assert!(health("due").contains("warn"));
    assert!(health("overdue").contains("error"));
    assert!(health("old").contains("muted"));
    assert!(text(&one(&root, "[data-kid=due]")).contains("signs now"));
    assert!(
        root.query_selector("[data-testid=compromise]")
            .unwrap()
            .is_none(),
        "no action without the admin's callback"
    );
}

#[wasm_bindgen_test]
fn a_compromised_key_says_what_still_verifies_and_admins_can_mark_the_others() {
    let key = |kid: &str, status| SigningKeyInfo {
        kid: kid.to_owned(),
        status,
        created_at: NOW - 86_400,
        not_before: NOW - 86_400,
        not_after: None,
        rotate_by: None,
        public_jwk: json!({}),
        compromised_at: (status == KeyStatus::Compromised).then_some(NOW - 3600),
        compromise_reason: Some("found in a public repository".to_owned()),
        compromise_incident: Some("INC-2041".to_owned()),
        issued_list_licenses: (status == KeyStatus::Compromised).then_some(31),
    };
    let keys = vec![
        key("leaked", KeyStatus::Compromised),
        key("fresh", KeyStatus::Active),
    ];
    let marked = RwSignal::new(String::new());
    let cb = Callback::new(move |kid: String| marked.set(kid));
    let root = mount(move || view! { <KeyTable keys=keys now=NOW on_compromise=Some(cb)/> });
    let leaked = one(&root, "[data-kid=leaked]");
    assert!(text(&leaked).contains("compromised"), "{}", text(&leaked));
    assert!(text(&leaked).contains("(INC-2041)"));
    assert!(text(&leaked).contains("only the 31 tokens on its issued list verify"));
    assert!(
        one(&root, "[data-kid=leaked] .health")
            .class_name()
            .contains("error")
    );
    assert!(
        leaked
            .query_selector("[data-testid=compromise]")
            .unwrap()
            .is_none(),
        "a compromised key cannot be marked again"
    );
    one(&root, "[data-kid=fresh] [data-testid=compromise]")
        .unchecked_into::<HtmlElement>()
        .click();
    assert_eq!(marked.get_untracked(), "fresh");
}

#[wasm_bindgen_test]
async fn a_session_survives_a_reload_and_sign_out_forgets_it() {
    let storage = web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap();
    storage.remove_item(STORAGE_KEY).unwrap();
    // Signed out: the sign-in form, which refuses an empty token without calling the server.
    let root = mount(lifeline_console::App);
    settle().await;
    let form = one(&root, "form");
    assert!(text(&form).contains("API token"));
    let input = one(&root, "input#token");
    assert_eq!(input.get_attribute("type").as_deref(), Some("password"));
    let label = one(&root, "label[for=token]");
    assert_eq!(text(&label), "API token");
    one(&root, "button[type=submit]")
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    assert!(text(&one(&root, "[role=alert]")).contains("Enter an API token"));
    root.remove();

    // A session kept in this tab's storage is restored: the navigation and who is signed in.
    let session = Session {
        token: "ll_test".to_owned(),
        info: SessionInfo {
            token_id: "t1".to_owned(),
            name: "on-call".to_owned(),
            role: Role::Viewer,
            expires_at: None,
            principal: "token:t1".to_owned(),
        },
    };
    storage
        .set_item(STORAGE_KEY, &serde_json::to_string(&session).unwrap())
        .unwrap();
    let root = mount(lifeline_console::App);
    settle().await;
    assert_eq!(text(&one(&root, "[data-testid=who]")), "on-call (viewer)");
    let links: Vec<String> = all(&root, "header nav a").iter().map(text).collect();
    assert_eq!(
        links,
        [
            "Overview",
            "Incidents",
            "Licenses",
            "Overrides",
            "Keys",
            "Map",
            "Drills",
            "Audit"
        ]
    );

    let sign_out = all(&root, "header button")
        .into_iter()
        .find(|b| text(b) == "Sign out")
        .unwrap();
    sign_out.unchecked_into::<HtmlElement>().click();
    settle().await;
    assert_eq!(storage.get_item(STORAGE_KEY).unwrap(), None);
    assert!(all(&root, "header nav").is_empty());
    assert!(all(&root, "input#token").len() == 1);
}

#[wasm_bindgen_test]
fn roles_decide_what_the_console_offers() {
    let auth = Auth::signed_out();
    assert!(!auth.can(Role::Viewer));
    auth.session.set(Some(Session {
        token: "ll_x".to_owned(),
        info: SessionInfo {
            token_id: "t".to_owned(),
            name: "ops".to_owned(),
            role: Role::Operator,
            expires_at: None,
            principal: "token:t".to_owned(),
        },
    }));
    assert!(auth.can(Role::Viewer) && auth.can(Role::Operator));
    assert!(!auth.can(Role::Admin));
    auth.sign_out(Some("expired"));
    assert!(!auth.is_signed_in());
    assert_eq!(auth.notice.get_untracked().as_deref(), Some("expired"));
}

#[wasm_bindgen_test]
fn overrides_show_their_status_and_only_the_actions_the_role_allows() {
    use lifeline_api::{OverrideEffect, OverrideRecord, OverrideScope, OverrideStatus};
    use lifeline_console::pages::overrides::OverrideTable;
    let record = |id: &str, status| OverrideRecord {
        id: id.to_owned(),
        scope: OverrideScope::Licensee("acme".into()),
        effect: OverrideEffect::Entitlements {
            add: vec!["sso".into()],
        },
        reason: "billing outage".into(),
        incident: "INC-9".into(),
        created_at: NOW - 60,
        created_by: "token:t1 (ops)".into(),
        expires_at: NOW + 3600,
        approved_by: None,
        revoked_at: None,
        status,
        token: None,
    };
    let items = move || {
        vec![
            record("ovr-a", OverrideStatus::Active),
            record("ovr-p", OverrideStatus::PendingApproval),
            record("ovr-r", OverrideStatus::Revoked),
        ]
    };
    let revoked = RwSignal::new(Vec::<String>::new());
    let approved = RwSignal::new(Vec::<String>::new());
    let root = mount(move || {
        view! {
            <OverrideTable items=items() now=NOW can_revoke=true can_approve=true
                on_revoke=Callback::new(move |id| revoked.update(|v| v.push(id)))
                on_approve=Callback::new(move |id| approved.update(|v| v.push(id)))/>
        }
    });
    let row = |id: &str| one(&root, &format!("[data-override={id}]"));
    assert_eq!(
        row("ovr-p").get_attribute("data-status").as_deref(),
        Some("pending approval")
    );
    assert!(text(&row("ovr-a")).contains("licensee acme") && text(&row("ovr-a")).contains("+ sso"));
    assert!(text(&row("ovr-a")).contains("incident INC-9"));
    let buttons = |id: &str| all(&row(id), "button").iter().map(text).collect::<Vec<_>>();
    assert_eq!(buttons("ovr-a"), ["Revoke…"]);
    assert_eq!(buttons("ovr-p"), ["Approve", "Revoke…"]);
    assert!(
        buttons("ovr-r").is_empty(),
        "nothing to do with a revoked one"
    );
    all(&row("ovr-p"), "button")[0]
        .clone()
        .unchecked_into::<HtmlElement>()
        .click();
    all(&row("ovr-a"), "button")[0]
        .clone()
        .unchecked_into::<HtmlElement>()
        .click();
    assert_eq!(approved.get_untracked(), ["ovr-p"]);
    assert_eq!(revoked.get_untracked(), ["ovr-a"]);
    // A viewer sees the list and no actions.
    let root = mount(move || {
        view! {
            <OverrideTable items=items() now=NOW can_revoke=false can_approve=false
                on_revoke=Callback::new(|_| ()) on_approve=Callback::new(|_| ())/>
        }
    });
    assert!(all(&root, "button").is_empty());
}

fn incident(
    id: &str,
    status: lifeline_api::IncidentStatus,
    severity: lifeline_api::Severity,
) -> lifeline_api::Incident {
    lifeline_api::Incident {
        id: id.to_owned(),
        rule: "node_unreachable".to_owned(),
        subject: "node:n-2".to_owned(),
        title: "node n-2 has sent no heartbeat for 45 s".to_owned(),
        severity,
        status,
        opened_at: NOW - 600,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: (status == lifeline_api::IncidentStatus::Resolved).then_some(NOW - 60),
        affected: json!({"nodes": ["n-2"], "products": ["editor", "viewer"], "licensees": ["ACME"]}),
        evidence: json!({"silent_s": 45, "threshold_s": 30}),
    }
}

#[wasm_bindgen_test]
fn incidents_list_links_each_one_with_severity_and_status() {
    use lifeline_api::{IncidentStatus, Severity};
    use lifeline_console::pages::incidents::IncidentTable;
    let items = vec![
        incident("inc-1", IncidentStatus::Open, Severity::Critical),
        incident("inc-2", IncidentStatus::Resolved, Severity::Warning),
    ];
    let root = mount(move || view! { <IncidentTable items=items now=NOW/> });
    let open = one(&root, "[data-incident=inc-1]");
    assert_eq!(open.get_attribute("data-status").as_deref(), Some("open"));
    assert_eq!(
        one(&open, "a").get_attribute("href").as_deref(),
        Some("/incidents/inc-1")
    );
    assert_eq!(
        one(&open, ".badge")
            .get_attribute("data-severity")
            .as_deref(),
        Some("critical")
    );
    assert!(text(&open).contains("node_unreachable") && text(&open).contains("10 min ago"));
    let resolved = one(&root, "[data-incident=inc-2]");
    assert_eq!(
        resolved.get_attribute("data-status").as_deref(),
        Some("resolved")
    );
    assert!(text(&resolved).contains("1 min ago"), "{}", text(&resolved));
    let never = mount(
        || view! { <IncidentTable items=Vec::new() now=NOW empty="No incidents yet: none of the rules has fired on this server."/> },
    );
    assert!(
        text(&never).contains("No incidents yet"),
        "nothing yet is not nothing matches"
    );
    let empty = mount(|| view! { <IncidentTable items=Vec::new() now=NOW/> });
    assert!(all(&empty, "table").is_empty());
    assert!(text(&empty).contains("No incidents match"));
}

#[wasm_bindgen_test]
async fn an_incident_shows_evidence_affected_and_timeline_and_an_operator_acts_on_it() {
    use lifeline_api::{IncidentDetail, IncidentEvent, IncidentStatus, Severity};
    use lifeline_console::pages::incidents::IncidentView;
    let detail = |status| IncidentDetail {
        incident: incident("inc-1", status, Severity::Critical),
        timeline: vec![
            IncidentEvent {
                at: NOW - 600,
                kind: "opened".into(),
                actor: "system".into(),
                text: "node n-2 silent".into(),
            },
            IncidentEvent {
                at: NOW - 300,
                kind: "note".into(),
                actor: "token:t1 (ops)".into(),
                text: "restarting n-2".into(),
            },
        ],
    };
    let acked = RwSignal::new(0);
    let notes = RwSignal::new(Vec::<(String, bool)>::new());
    let d = detail(IncidentStatus::Open);
    let root = mount(move || {
        view! {
            <IncidentView detail=d now=NOW can_act=true busy=Signal::stored(false)
                on_acknowledge=Callback::new(move |()| acked.update(|n| *n += 1))
                on_note=Callback::new(move |t| notes.update(|v| v.push(t)))/>
        }
    });
    settle().await;
    assert_eq!(text(&one(&root, "[data-testid=incident-status]")), "open");
    assert_eq!(text(&one(&root, "[data-field=products]")), "editor, viewer");
    assert_eq!(text(&one(&root, "[data-field=licensees]")), "ACME");
    assert_eq!(text(&one(&root, "[data-field=silent_s]")), "45");
    let events = all(&root, "ol.timeline li");
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1].get_attribute("data-kind").as_deref(),
        Some("note")
    );
    assert!(text(&events[1]).contains("restarting n-2"));
    one(&root, "[data-testid=acknowledge]")
        .unchecked_into::<HtmlElement>()
        .click();
    assert_eq!(acked.get_untracked(), 1);
    let add: HtmlElement = one(&root, "[data-testid=add-note]").unchecked_into();
    assert!(add.has_attribute("disabled"), "no text yet");
    let note: web_sys::HtmlTextAreaElement = one(&root, "#incident-note").unchecked_into();
    note.set_value("  failed over to n-1  ");
    note.dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    settle().await;
    assert!(!add.has_attribute("disabled"));
    add.click();
    settle().await;
    assert_eq!(
        notes.get_untracked(),
        [("failed over to n-1".to_owned(), false)]
    );
    assert_eq!(note.value(), "", "the form clears after sending");
    // Resolving says why, in the note.
    let resolve: HtmlElement = one(&root, "[data-testid=resolve]").unchecked_into();
    assert!(resolve.has_attribute("disabled"), "no reason yet");
    note.set_value("leak closed: key rotated out");
    note.dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    settle().await;
    resolve.click();
    settle().await;
    assert_eq!(
        notes.get_untracked().last().cloned(),
        Some(("leak closed: key rotated out".to_owned(), true))
    );

    // Acknowledged already: no acknowledge button; a viewer gets neither action.
    let d = detail(IncidentStatus::Acknowledged);
    let root = mount(move || {
        view! {
            <IncidentView detail=d now=NOW can_act=true busy=Signal::stored(false)
                on_acknowledge=Callback::new(|()| ()) on_note=Callback::new(|_| ())/>
        }
    });
    settle().await;
    assert!(all(&root, "[data-testid=acknowledge]").is_empty());
    assert_eq!(all(&root, "[data-testid=add-note]").len(), 1);
    let d = detail(IncidentStatus::Open);
    let root = mount(move || {
        view! {
            <IncidentView detail=d now=NOW can_act=false busy=Signal::stored(false)
                on_acknowledge=Callback::new(|()| ()) on_note=Callback::new(|_| ())/>
        }
    });
    settle().await;
    assert!(all(&root, "button").is_empty());
    assert!(text(&root).contains("need the operator role"));
}

fn map_component(
    id: &str,
    kind: lifeline_api::ComponentKind,
    health: lifeline_api::Health,
    breaks: &[&str],
    radius: &[&str],
) -> lifeline_api::MapComponent {
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    lifeline_api::MapComponent {
        id: id.to_owned(),
        kind,
        name: format!("the {id}"),
        owner: if id == "store" { "dba" } else { "unassigned" }.to_owned(),
        health,
        reason: format!("{id} reason"),
        missing: false,
        single_point_of_failure: !breaks.is_empty(),
        breaks: ids(breaks),
        blast_radius: ids(radius),
        licenses_affected: Some(42),
        products_affected: Some(2),
    }
}

/// A service on two nodes over one store (a single point of failure), and a key.
fn two_nodes_one_store(edges: Vec<lifeline_api::MapEdge>) -> lifeline_api::DependencyMap {
    use lifeline_api::{ComponentKind as K, Health as H};
    lifeline_api::DependencyMap {
        now: NOW,
        components: vec![
            map_component("service:app", K::Service, H::Critical, &[], &[]),
            map_component("node:a", K::Node, H::Ok, &["service:app"], &["service:app"]),
            map_component("node:b", K::Node, H::Critical, &[], &["service:app"]),
            map_component(
                "store",
                K::Store,
                H::Ok,
                &["node:a", "service:app"],
                &["node:a", "node:b", "service:app"],
            ),
            map_component("key:k1", K::SigningKey, H::Warning, &[], &[]),
        ],
        edges,
        single_points_of_failure: vec!["node:a".into(), "store".into()],
    }
}

#[wasm_bindgen_test]
async fn the_map_groups_by_kind_flags_single_points_and_shows_a_blast_radius() {
    use lifeline_api::{ComponentKind as K, DependencyMap, Health as H};
    use lifeline_console::pages::map::MapView;
    let map = two_nodes_one_store(Vec::new());
    let root = mount(move || view! { <MapView map=map/> });
    settle().await;
    // Grouped by kind, in the server's order.
    let kinds: Vec<String> = all(&root, "section.map-group")
        .iter()
        .map(|s| s.get_attribute("data-kind").unwrap())
        .collect();
    assert_eq!(kinds, ["service", "node", "store", "signing_key"]);
    // Single points of failure: listed on top and highlighted in their rows.
    let spofs: Vec<String> = all(&root, ".spofs li")
        .iter()
        .map(|li| li.get_attribute("data-spof").unwrap())
        .collect();
    assert_eq!(spofs, ["node:a", "store"]);
    let row = |id: &str| one(&root, &format!("tr[data-component='{id}']"));
    assert!(row("store").class_name().contains("spof"));
    assert!(text(&row("store")).contains("single point of failure"));
    assert!(!row("node:b").class_name().contains("spof"));
    // Health badges and owners (nobody named: shown as such).
    assert_eq!(
        one(&row("node:b"), ".badge")
            .get_attribute("data-health")
            .as_deref(),
        Some("critical")
    );
    assert_eq!(text(&one(&row("store"), "td.owner")), "dba");
    assert!(
        one(&row("node:a"), "td.owner")
            .class_name()
            .contains("unassigned")
    );
    assert!(text(&row("store")).contains("3 components"));
    // Selecting the store: what stops and what depends on it.
    assert!(all(&root, "section.blast").is_empty());
    one(&row("store"), "button")
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    let blast = one(&root, "section.blast");
    assert_eq!(
        blast.get_attribute("data-selected").as_deref(),
        Some("store")
    );
    let listed = |sel: &str| {
        all(&blast, &format!("{sel} li"))
            .iter()
            .map(|li| li.get_attribute("data-id").unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed("[data-testid=breaks]"), ["node:a", "service:app"]);
    assert_eq!(
        listed("[data-testid=radius]"),
        ["node:a", "node:b", "service:app"]
    );
    assert!(text(&blast).contains("42 usable licenses of 2 products"));
    assert!(row("store").class_name().contains("selected"));
    assert!(row("node:a").class_name().contains("breaks"));
    assert!(row("node:b").class_name().contains("depends"));
    assert!(!row("key:k1").class_name().contains("breaks"));
    // Selecting from the single-points list works too; nothing depends on the key.
    one(&root, ".spofs li[data-spof='node:a'] button")
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    one(&row("key:k1"), "button")
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    let blast = one(&root, "section.blast");
    assert_eq!(
        blast.get_attribute("data-selected").as_deref(),
        Some("key:k1")
    );
    assert!(all(&blast, "[data-testid=breaks-none]").len() == 1);
    assert!(text(&blast).contains("Nothing depends on it."));

    // No single point of failure: said plainly.
    let calm = DependencyMap {
        now: NOW,
        components: vec![map_component("node:a", K::Node, H::Ok, &[], &[])],
        edges: Vec::new(),
        single_points_of_failure: Vec::new(),
    };
    let root = mount(move || view! { <MapView map=calm/> });
    settle().await;
    assert!(all(&root, ".spofs").is_empty());
    assert!(text(&root).contains("No single point of failure"));
}

#[wasm_bindgen_test]
async fn the_map_graph_draws_boxes_by_kind_arrows_and_lights_up_a_blast_radius() {
    use lifeline_api::MapEdge;
    use lifeline_console::pages::map::MapView;
    let edge = |from: &str, to: &str, requirement: &str| MapEdge {
        from: from.into(),
        to: to.into(),
        requirement: requirement.into(),
    };
    let mut map = two_nodes_one_store(vec![
        edge("service:app", "node:a", "nodes"),
        edge("service:app", "node:b", "nodes"),
        edge("node:a", "store", "store"),
        edge("node:b", "store", "store"),
    ]);
    map.components[0].name = "the <b>checkout</b> web service & \"EU\" region".into();
    let root = mount(move || view! { <MapView map=map/> });
    settle().await;
    // The drawing is redrawn on every selection: found anew each time.
    let graph = || one(&root, "[data-testid=map-graph] svg");
    // One band per kind, the most dependent on top; a box per component; an arrow per edge.
    let bands: Vec<String> = all(&graph(), "g.band")
        .iter()
        .map(|b| b.get_attribute("data-kind").unwrap())
        .collect();
    assert_eq!(bands, ["service", "node", "store", "signing_key"]);
    assert_eq!(all(&graph(), "g.node").len(), 5);
    assert_eq!(all(&graph(), "path.edge").len(), 4);
    assert!(
        all(&graph(), "path.edge")
            .iter()
            .all(|p| p.get_attribute("marker-end").is_some())
    );
    let node = |id: &str| one(&graph(), &format!("g.node[data-component='{id}']"));
    // Health as colour and as a word; a single point of failure framed and tagged.
    assert!(
        node("node:b")
            .get_attribute("class")
            .unwrap()
            .contains("health-critical")
    );
    assert!(text(&node("node:b")).contains("critical"));
    assert_eq!(
        node("store").get_attribute("data-spof").as_deref(),
        Some("true")
    );
    assert!(text(&node("store")).contains("SPOF"));
    assert!(!text(&node("node:b")).contains("SPOF"));
    assert_eq!(
        node("store").get_attribute("aria-label").as_deref(),
        Some("the store: ok, single point of failure")
    );
    // A long name is cut in its box, whole in its tooltip.
    let name = text(&one(&node("service:app"), "text.name"));
    assert!(name.ends_with('…') && name.chars().count() <= 22, "{name}");
    // Names are text, never markup (the drawing is built as text and escaped).
    assert!(
        text(&one(&node("service:app"), "title"))
            .contains("the <b>checkout</b> web service & \"EU\" region")
    );
    assert!(all(&graph(), "b").is_empty());
    // Selecting the store lights up its blast radius and opens the panel beside it.
    let click = web_sys::MouseEventInit::new();
    click.set_bubbles(true);
    node("store")
        .dispatch_event(
            &web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &click).unwrap(),
        )
        .unwrap();
    settle().await;
    let role = |id: &str| node(id).get_attribute("class").unwrap();
    assert!(role("store").contains("role-selected"));
    assert_eq!(
        node("store").get_attribute("aria-pressed").as_deref(),
        Some("true")
    );
    assert!(role("node:a").contains("role-breaks"));
    assert!(role("service:app").contains("role-breaks"));
    assert!(role("node:b").contains("role-depends"));
    assert!(role("key:k1").contains("role-other"));
    assert_eq!(
        all(&graph(), "path.edge.lit").len(),
        4,
        "every arrow into the radius"
    );
    assert_eq!(
        one(&root, "section.blast")
            .get_attribute("data-selected")
            .as_deref(),
        Some("store")
    );
    // The keyboard too: Enter on the key selects it; nothing depends on it.
    let enter = web_sys::KeyboardEventInit::new();
    enter.set_key("Enter");
    enter.set_bubbles(true);
    node("key:k1")
        .dispatch_event(
            &web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &enter).unwrap(),
        )
        .unwrap();
    settle().await;
    assert!(role("key:k1").contains("role-selected"));
    assert!(role("store").contains("role-other"));
    assert_eq!(all(&graph(), "path.edge.lit").len(), 0);
    assert_eq!(
        node("key:k1").get_attribute("tabindex").as_deref(),
        Some("0")
    );
}

/// A real report, as `lifeline drill run corrupted-license-file --json` printed it.
const DRILL_PASSED: &str = r#"{"name":"corrupted-license-file","fault":"the license file corrupted four ways","passed":true,"started_at":1789999400,"detected_by":"incident reason_surge","times":{"detect_ms":831,"recover_ms":21,"total_ms":1880},"verifiers":{"checks":5,"usable":1,"lockouts":0,"states":{"invalid":4,"valid":1},"reasons":{"bad_signature":1,"malformed":3}},"expectations":[{"expected":"truncated: refused with a reason, exit 1, no crash","met":true,"observed":"state invalid, reason malformed, exit Some(1)"},{"expected":"the refusals, reported by the verifier's telemetry, open a reason_surge incident","met":true,"observed":"opened after 831 ms"},{"expected":"the intact file is valid again","met":true,"observed":"state valid, exit Some(0)"}],"notes":[]}"#;

fn drill_report(id: &str, json: &str, received_at: u64) -> lifeline_api::StoredDrillReport {
    lifeline_api::StoredDrillReport {
        id: id.to_owned(),
        received_at,
        received_from: "token:t1 (ci)".to_owned(),
        report: lifeline_api::DrillReport {
            started_at: received_at - 10,
            ..serde_json::from_str(json).unwrap()
        },
    }
}

/// The same drill failing: nothing detected it, a user was locked out, an expectation unmet.
fn drill_failed(id: &str, started_at: u64) -> lifeline_api::StoredDrillReport {
    let mut r = drill_report(id, DRILL_PASSED, started_at + 5);
    r.report.passed = false;
    r.report.started_at = started_at;
    r.report.detected_by = None;
    r.report.times.detect_ms = None;
    r.report.times.recover_ms = None;
    r.report.times.total_ms = 65_400;
    r.report.verifiers.lockouts = 3;
    r.report.expectations[1].met = false;
    r.report.expectations[1].observed = "no incident within 30 s".to_owned();
    r.report.notes = vec!["telemetry was not delivered: node refused 503".to_owned()];
    r
}

#[wasm_bindgen_test]
fn drill_times_read_in_one_unit() {
    use lifeline_console::pages::drills::elapsed;
    assert_eq!(elapsed(0), "0 ms");
    assert_eq!(elapsed(831), "831 ms");
    assert_eq!(elapsed(1880), "1.9 s");
    assert_eq!(elapsed(125_000), "2 min 5 s");
}

#[wasm_bindgen_test]
fn drill_reports_list_passed_and_failed_with_times_and_lockouts() {
    use lifeline_console::pages::drills::DrillTable;
    let items = vec![
        drill_failed("d-2", NOW - 120),
        drill_report("d-1", DRILL_PASSED, NOW - 3600),
    ];
    let root = mount(move || view! { <DrillTable items=items now=NOW server="http://s:1"/> });
    let rows = all(&root, "table.drills tbody tr");
    assert_eq!(rows.len(), 2, "newest first, as the server lists");
    let failed = &rows[0];
    assert_eq!(failed.get_attribute("data-report").as_deref(), Some("d-2"));
    assert_eq!(
        one(failed, ".badge")
            .get_attribute("data-result")
            .as_deref(),
        Some("failed")
    );
    assert!(
        text(failed).contains("failed"),
        "said in text, not only colour"
    );
    assert_eq!(
        one(failed, "a").get_attribute("href").as_deref(),
        Some("/drills/d-2")
    );
    assert_eq!(text(&one(failed, "[data-field=detect]")), "not detected");
    assert_eq!(
        text(&one(failed, "[data-field=recover]")),
        "did not recover"
    );
    let lockouts = one(failed, "[data-field=lockouts]");
    assert_eq!(text(&lockouts), "3");
    assert!(lockouts.class_list().contains("lockouts"));
    assert!(text(failed).contains("2 min ago"));
    let passed = &rows[1];
    assert_eq!(
        passed.get_attribute("data-result").as_deref(),
        Some("passed")
    );
    assert_eq!(
        passed.get_attribute("data-drill").as_deref(),
        Some("corrupted-license-file")
    );
    assert_eq!(text(&one(passed, "[data-field=detect]")), "831 ms");
    assert_eq!(text(&one(passed, "[data-field=recover]")), "21 ms");
    assert_eq!(text(&one(passed, "[data-field=lockouts]")), "0");
    assert!(text(passed).contains("1 h ago"));

    // Nothing reported yet: how to run a drill, and where scheduled drills come from.
    let empty = mount(|| view! { <DrillTable items=Vec::new() now=NOW server="http://s:1"/> });
    assert!(all(&empty, "table").is_empty());
    let how = text(&one(&empty, "[data-testid=drills-how-to]"));
    assert!(how.contains("No drill has reported here yet."), "{how}");
    assert!(
        how.contains("lifeline drill run NAME --report-to http://s:1"),
        "{how}"
    );
    assert!(how.contains("lifeline serve --drills FILE.json"), "{how}");
    let filtered = mount(|| {
        view! { <DrillTable items=Vec::new() now=NOW server="http://s:1" drill="all-nodes-down"/> }
    });
    let how = text(&one(&filtered, "[data-testid=drills-how-to]"));
    assert!(
        how.contains("No report of the drill all-nodes-down yet."),
        "{how}"
    );
    assert!(
        how.contains("lifeline drill run all-nodes-down --report-to http://s:1"),
        "{how}"
    );
}

#[wasm_bindgen_test]
async fn the_last_run_table_shows_which_drills_pass_now() {
    use lifeline_console::pages::drills::{DRILLS, DrillSummary};
    let mut other = drill_report(
        "d-3",
        &DRILL_PASSED.replace("corrupted-license-file", "expired-signing-key"),
        NOW - 60,
    );
    other.report.started_at = NOW - 70;
    let reports = vec![
        other,
        // The newest of a drill decides: it failed after an older pass.
        drill_failed("d-2", NOW - 120),
        drill_report("d-1", DRILL_PASSED, NOW - 3600),
        drill_report(
            "d-0",
            &DRILL_PASSED.replace("corrupted-license-file", "a-new-drill"),
            NOW - 7200,
        ),
    ];
    let picked = RwSignal::new(Vec::<String>::new());
    let root = mount(move || {
        view! {
            <DrillSummary reports=reports now=NOW
                on_pick=Callback::new(move |n| picked.update(|v| v.push(n)))/>
        }
    });
    let rows = all(&root, "table.drill-summary tbody tr");
    assert_eq!(
        rows.len(),
        DRILLS.len() + 1,
        "every known drill, and one not known yet"
    );
    let row = |name: &str| one(&root, &format!("tr[data-drill='{name}']"));
    let corrupted = row("corrupted-license-file");
    assert_eq!(
        corrupted.get_attribute("data-result").as_deref(),
        Some("failed")
    );
    assert_eq!(
        one(&corrupted, "a").get_attribute("href").as_deref(),
        Some("/drills/d-2"),
        "links the latest report"
    );
    assert!(text(&corrupted).contains("not detected"));
    let expired = row("expired-signing-key");
    assert_eq!(
        expired.get_attribute("data-result").as_deref(),
        Some("passed")
    );
    assert!(text(&expired).contains("1 min ago") && text(&expired).contains("831 ms"));
    assert_eq!(
        row("a-new-drill").get_attribute("data-result").as_deref(),
        Some("passed")
    );
    let never = row("all-nodes-down");
    assert_eq!(never.get_attribute("data-result").as_deref(), Some("never"));
    assert!(text(&never).contains("no report yet"));
    let tally = one(&root, "[data-testid=drill-tally]");
    assert_eq!(
        text(&tally),
        format!(
            "2 passing, 1 failing, {} never run (from the 4 newest reports)",
            DRILLS.len() - 2
        )
    );
    assert!(tally.class_list().contains("failing"));
    one(&expired, "button")
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    assert_eq!(picked.get_untracked(), ["expired-signing-key"]);

    // Nothing reported yet: every drill, none run.
    let root = mount(move || {
        view! { <DrillSummary reports=Vec::new() now=NOW on_pick=Callback::new(|_| ())/> }
    });
    assert_eq!(
        all(&root, "table.drill-summary tbody tr[data-result=never]").len(),
        DRILLS.len()
    );
    assert_eq!(
        text(&one(&root, "[data-testid=drill-tally]")),
        format!(
            "No drill has reported here yet: {} drills never run.",
            DRILLS.len()
        )
    );
}

#[wasm_bindgen_test]
async fn operators_get_a_run_button_per_drill_one_drill_at_a_time() {
    use lifeline_console::pages::drills::{DRILLS, DrillSummary};
    let asked = RwSignal::new(Vec::<String>::new());
    let on_run = Some(Callback::new(move |n| asked.update(|v| v.push(n))));
    let root = mount(move || {
        view! {
            <DrillSummary reports=vec![drill_report("d-1", DRILL_PASSED, NOW - 60)] now=NOW
                on_pick=Callback::new(|_| ()) on_run=on_run running=None/>
        }
    });
    let buttons = all(&root, "table.drill-summary tbody button.run");
    assert_eq!(
        buttons.len(),
        DRILLS.len(),
        "one per drill, run or never run"
    );
    let run = one(&root, "button[data-run='one-node-down']");
    assert_eq!(
        run.get_attribute("aria-label").as_deref(),
        Some("Run one-node-down")
    );
    assert!(!run.has_attribute("disabled"));
    run.unchecked_into::<HtmlElement>().click();
    settle().await;
    assert_eq!(asked.get_untracked(), ["one-node-down"]);

    // While one runs, every button waits and says why.
    let root = mount(move || {
        view! {
            <DrillSummary reports=Vec::new() now=NOW on_pick=Callback::new(|_| ())
                on_run=on_run running=Some("store-unavailable".to_owned())/>
        }
    });
    let waiting = one(&root, "button[data-run='one-node-down']");
    assert!(waiting.has_attribute("disabled"));
    assert_eq!(
        waiting.get_attribute("title").as_deref(),
        Some("One drill at a time: store-unavailable is running")
    );
    // A viewer's console has no Run button.
    let root = mount(move || {
        view! { <DrillSummary reports=Vec::new() now=NOW on_pick=Callback::new(|_| ())/> }
    });
    assert!(all(&root, "button.run").is_empty());
}

#[wasm_bindgen_test]
fn a_drill_run_shows_its_steps_while_it_runs_and_its_report_when_done() {
    use lifeline_api::{DrillRun, DrillRunStatus};
    use lifeline_console::pages::drills::DrillRunPanel;
    let run = DrillRun {
        id: "run-1".into(),
        name: "one-node-down".into(),
        started_by: "token:t (ops)".into(),
        started_at: NOW - 5,
        finished_at: None,
        status: DrillRunStatus::Running,
        steps: vec![
            "lab ready".into(),
            "fault set on node 0: partition for 8000 ms".into(),
        ],
        report_id: None,
        error: None,
    };
    let running = run.clone();
    let root = mount(move || view! { <DrillRunPanel run=running.clone() now=NOW/> });
    let panel = one(&root, "[data-testid=drill-run]");
    assert_eq!(
        panel.get_attribute("data-status").as_deref(),
        Some("running")
    );
    assert_eq!(panel.get_attribute("aria-live").as_deref(), Some("polite"));
    assert!(text(&panel).contains("Running one-node-down"));
    assert!(text(&panel).contains("5.0 s ago"), "{}", text(&panel));
    assert_eq!(all(&panel, "ol.steps li").len(), 2);
    assert_eq!(all(&panel, "progress").len(), 1);
    assert!(all(&panel, "[data-testid=run-report]").is_empty());

    let mut done = run.clone();
    done.status = DrillRunStatus::Passed;
    done.finished_at = Some(NOW - 1);
    done.report_id = Some("rep-9".into());
    let root = mount(move || view! { <DrillRunPanel run=done.clone() now=NOW/> });
    let panel = one(&root, "[data-testid=drill-run]");
    assert_eq!(
        panel.get_attribute("data-status").as_deref(),
        Some("passed")
    );
    assert!(text(&panel).contains("one-node-down passed") && text(&panel).contains("took 4.0 s"));
    assert_eq!(
        one(&panel, "[data-testid=run-report]")
            .get_attribute("href")
            .as_deref(),
        Some("/drills/rep-9")
    );
    assert!(all(&panel, "progress").is_empty());

    let mut broken = run;
    broken.status = DrillRunStatus::Error;
    broken.finished_at = Some(NOW);
    broken.error = Some("the lab did not start".into());
    let root = mount(move || view! { <DrillRunPanel run=broken.clone() now=NOW/> });
    let panel = one(&root, "[data-testid=drill-run]");
    assert!(
        text(&panel).contains("could not run") && text(&panel).contains("the lab did not start")
    );
}

#[wasm_bindgen_test]
fn a_drill_report_shows_the_fault_times_verifiers_and_every_expectation() {
    use lifeline_console::pages::drills::DrillReportView;
    let passed = drill_report("d-1", DRILL_PASSED, NOW - 3590);
    let root = mount(move || view! { <DrillReportView stored=passed now=NOW/> });
    let article = one(&root, "article.drill");
    assert_eq!(
        article.get_attribute("data-result").as_deref(),
        Some("passed")
    );
    assert_eq!(
        text(&one(&root, "[data-field=fault]")),
        "the license file corrupted four ways"
    );
    assert_eq!(
        text(&one(&root, "[data-field=detected-by]")),
        "incident reason_surge"
    );
    assert_eq!(text(&one(&root, "[data-field=detect]")), "831 ms");
    assert_eq!(text(&one(&root, "[data-field=recover]")), "21 ms");
    assert_eq!(text(&one(&root, "[data-field=total]")), "1.9 s");
    assert_eq!(text(&one(&root, "[data-field=checks]")), "5");
    assert_eq!(text(&one(&root, "[data-field=usable]")), "1");
    assert_eq!(text(&one(&root, "[data-field=lockouts]")), "0");
    assert_eq!(
        text(&one(&root, "table.counts.state tr[data-key=invalid]")),
        "invalid4"
    );
    assert_eq!(
        text(&one(&root, "table.counts.reason tr[data-key=malformed]")),
        "malformed3"
    );
    let expectations = all(&root, "ul.expectations li");
    assert_eq!(expectations.len(), 3);
    assert!(
        expectations
            .iter()
            .all(|e| e.get_attribute("data-met").as_deref() == Some("true"))
    );
    assert!(text(&expectations[2]).contains("Observed: state valid, exit Some(0)"));
    assert!(text(&root).contains("Every expectation held (3)."));
    assert!(text(&root).contains("token:t1 (ci)"));
    assert!(text(&root).contains("No notes."));

    let failed = drill_failed("d-2", NOW - 120);
    let root = mount(move || view! { <DrillReportView stored=failed now=NOW/> });
    assert_eq!(
        one(&root, "article.drill")
            .get_attribute("data-result")
            .as_deref(),
        Some("failed")
    );
    assert_eq!(
        text(&one(&root, "[role=alert]")),
        "1 of 3 expectations failed."
    );
    let unmet = one(&root, "ul.expectations li[data-met=false]");
    assert!(unmet.class_list().contains("failed"));
    assert!(text(&unmet).contains("failed"));
    assert!(text(&unmet).contains("open a reason_surge incident"));
    assert!(text(&unmet).contains("Observed: no incident within 30 s"));
    assert_eq!(all(&root, "ul.expectations li[data-met=true]").len(), 2);
    assert_eq!(
        text(&one(&root, "[data-field=detected-by]")),
        "not detected by the servers"
    );
    assert_eq!(
        text(&one(&root, "[data-field=recover]")),
        "did not recover within the drill"
    );
    assert_eq!(text(&one(&root, "[data-field=total]")), "1 min 5 s");
    let lockouts = one(&root, "dd[data-field=lockouts]");
    assert_eq!(text(&lockouts), "3");
    assert!(lockouts.class_list().contains("lockouts"));
    assert!(text(&one(&root, "ul.notes")).contains("telemetry was not delivered"));
}

/// The audit log says what changed as `field: old → new`, with dates, one line per field.
#[wasm_bindgen_test]
fn the_audit_log_shows_changes_as_fields_with_dates() {
    use lifeline_api::AuditEvent;
    use lifeline_console::format::date_time;
    use lifeline_console::pages::audit::AuditTable;
    let events = vec![
        AuditEvent {
            seq: 7,
            at: NOW,
            actor: "tok-1 (ops)".to_owned(),
            action: "license.extended".to_owned(),
            subject: "l-42".to_owned(),
            before: Some(json!({"expires_at": 1_796_325_849u64, "seats": 5})),
            after: Some(json!({"expires_at": 1_804_188_249u64, "seats": 5})),
            hash: String::new(),
            prev_hash: String::new(),
        },
        AuditEvent {
            seq: 8,
            at: NOW,
            actor: "system".to_owned(),
            action: "license.issued".to_owned(),
            subject: "l-43".to_owned(),
            before: None,
            after: Some(json!({"licensee": "Acme", "seats": 3})),
            hash: String::new(),
            prev_hash: String::new(),
        },
    ];
    let root = mount(move || view! { <AuditTable events=events/> });
    let lines = |seq: u64| {
        all(
            &one(&root, &format!("tr[data-seq='{seq}'] td.change")),
            "div",
        )
        .iter()
        .map(text)
        .collect::<Vec<_>>()
    };
    assert_eq!(
        lines(7),
        vec![format!(
            "expires_at: {} → {}",
            date_time(1_796_325_849),
            date_time(1_804_188_249)
        )],
        "only what changed, with dates"
    );
    assert_eq!(lines(8), vec!["licensee: Acme", "seats: 3"]);
    assert!(!text(&root).contains("1804188249"), "no unix seconds");
}

/// The license page says when the server and a verifier without network disagree, and why.
#[wasm_bindgen_test]
fn a_revoked_license_that_still_verifies_offline_is_explained() {
    use lifeline_console::components::verdict::{disagreement, edge_verdict};
    let signer = LicenseSigner::from_seed("k1", &[9; 32]);
    let jwks = jwks(&signer);
    let claims = json!({"iss": "t", "sub": "Acme", "aud": "photo-pro", "jti": "l-1",
        "iat": NOW - 100, "exp": NOW + 3 * 86_400, "entitlements": []});
    let token = signer.sign_license(claims.as_object().unwrap()).unwrap();
    let offline = edge_verdict(&token, &jwks, Some("photo-pro"), NOW).unwrap();
    assert!(offline.is_usable());
    let said = disagreement(LicenseState::Revoked, Some(NOW - 7200), &offline, NOW).unwrap();
    assert!(said.contains("Revoked on the server 2 h ago"), "{said}");
    assert!(
        said.contains("within 5 min") && said.contains("in 3 days"),
        "{said}"
    );
    assert_eq!(
        disagreement(LicenseState::Valid, None, &offline, NOW),
        None,
        "they agree"
    );
    // The other way round: valid on the server, refused offline (another product).
    let other = edge_verdict(&token, &jwks, Some("other-app"), NOW).unwrap();
    let said = disagreement(LicenseState::Valid, None, &other, NOW).unwrap();
    assert!(said.contains("wrong_audience"), "{said}");
}
