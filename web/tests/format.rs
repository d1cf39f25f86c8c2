//! The console's formatting helpers (pure functions), run in Node:
//! `cargo test -p lifeline-console --target wasm32-unknown-unknown --test format`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use lifeline_console::format::*;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn dates_round_trip_across_leap_years_and_month_ends() {
    assert_eq!(date_time_in(0, 0), "1970-01-01 00:00 UTC");
    assert_eq!(date_time_in(951_782_400, 0), "2000-02-29 00:00 UTC");
    assert_eq!(date_time_in(1_795_900_000, 0), "2026-11-28 21:06 UTC");
    for text in ["1970-01-01", "2000-02-29", "2024-12-31", "2100-03-01"] {
        let end = parse_date_end_of_day(text).unwrap();
        assert_eq!(date(end), text);
        assert_eq!(end % 86_400, 86_399);
    }
}

#[wasm_bindgen_test]
fn times_are_in_the_browsers_zone_and_say_which() {
    // 2026-11-28 21:06 UTC, seen east and west of Greenwich.
    assert_eq!(date_time_in(1_795_900_000, 60), "2026-11-28 22:06 UTC+1");
    assert_eq!(date_time_in(1_795_900_000, 180), "2026-11-29 00:06 UTC+3");
    assert_eq!(date_time_in(1_795_900_000, -300), "2026-11-28 16:06 UTC−5");
    assert_eq!(
        date_time_in(1_795_900_000, 330),
        "2026-11-29 02:36 UTC+5:30"
    );
    assert_eq!(
        date_time_in(60, -120),
        "1970-01-01 00:00 UTC−2",
        "never before the epoch"
    );
    // The browser's own zone, whatever it is, is the one shown.
    let t = 1_795_900_000;
    assert_eq!(date_time(t), date_time_in(t, zone_offset_minutes(t)));
    assert_eq!(
        when(t + 3 * 86_400, t),
        format!("{} (in 3 days)", date_time(t + 3 * 86_400))
    );
}

#[wasm_bindgen_test]
fn ids_are_shortened_to_what_tells_them_apart() {
    assert_eq!(short_id("l-42"), "l-42");
    assert_eq!(short_id("abcdefghijkl"), "abcdefghijkl");
    assert_eq!(
        short_id("0193a7c2-5b1e-7c3d-9f00-2b7e4d1a9c55"),
        "0193a7c2…"
    );
    assert_eq!(short_id("k1796412249-8a0e3c43"), "k…8a0e3c43");
    assert_eq!(short_id("kx796412249-8a0e3c43"), "kx796412…");
    assert_eq!(
        short_id("ééééééééééééé"),
        "éééééééé…",
        "characters, not bytes"
    );
}

#[wasm_bindgen_test]
fn counts_agree_with_their_nouns() {
    assert_eq!(count(0, "incident"), "0 incidents");
    assert_eq!(count(1, "single point"), "1 single point");
    assert_eq!(count(2, "component"), "2 components");
    assert_eq!(count(3, "dependency"), "3 dependencies");
    assert_eq!(count(3, "day"), "3 days");
    assert_eq!(count(1, "day"), "1 day");
    assert_eq!(grace(0), "none");
    assert_eq!(grace(7 * 86_400), "7 days");
}

#[wasm_bindgen_test]
fn the_cores_sentences_show_dates_instead_of_unix_seconds() {
    let t = 1_796_325_849;
    assert_eq!(
        readable_times("expired at 1796325849, in grace until 1796930649"),
        format!(
            "expired at {}, in grace until {}",
            date_time(t),
            date_time(1_796_930_649)
        )
    );
    // Other numbers stay as they are: counts, short numbers, parts of versions and ids.
    for text in [
        "7 seats",
        "key k1796412249-8a0e3c43",
        "v1.1796325849",
        "1796325849-x",
        "12345678901",
        "x",
    ] {
        assert_eq!(readable_times(text), text, "{text}");
    }
    assert_eq!(readable_times(""), "");
}

#[wasm_bindgen_test]
fn an_audit_change_is_field_old_to_new_with_dates() {
    use serde_json::json;
    let before = json!({"expires_at": 1_796_325_849u64, "seats": 5, "licensee": "Acme", "same": 1});
    let after = json!({"expires_at": 1_804_188_249u64, "seats": 5, "licensee": "Acme GmbH", "same": 1, "note": "renewal"});
    assert_eq!(
        change_lines(Some(&before), Some(&after)),
        vec![
            format!(
                "expires_at: {} → {}",
                date_time(1_796_325_849),
                date_time(1_804_188_249)
            ),
            "licensee: Acme → Acme GmbH".to_owned(),
            "note: renewal".to_owned(),
        ]
    );
    // A creation lists its fields; a removal says so; scalars and nothing.
    assert_eq!(
        change_lines(None, Some(&json!({"id": "l-1", "revoked": true}))),
        vec!["id: l-1", "revoked: true"]
    );
    assert_eq!(
        change_lines(Some(&json!({"seats": 3})), None),
        vec!["seats: 3 → (removed)"]
    );
    assert_eq!(
        change_lines(Some(&json!(1)), Some(&json!(2))),
        vec!["1 → 2"]
    );
    assert_eq!(change_lines(None, Some(&json!("x"))), vec!["(none) → x"]);
    assert!(change_lines(None, None).is_empty());
    assert!(
        change_lines(Some(&before), Some(&before)).is_empty(),
        "nothing changed: no line"
    );
}

#[wasm_bindgen_test]
fn impossible_dates_are_refused() {
    for bad in [
        "",
        "2026",
        "2026-13-01",
        "2026-02-29",
        "2100-02-29",
        "2026-04-31",
        "1969-12-31",
        "2026-00-10",
        "2026-01-00",
        "x-1-1",
        "2026-1-1-1",
    ] {
        assert_eq!(parse_date_end_of_day(bad), None, "{bad:?}");
    }
    assert!(parse_date_end_of_day("2024-02-29").is_some());
}

#[wasm_bindgen_test]
fn relative_times_read_naturally() {
    assert_eq!(relative(1000, 1000), "now");
    assert_eq!(relative(1000 + 3 * 86_400 + 5, 1000), "in 3 days");
    assert_eq!(relative(1000, 1000 + 7200), "2 h ago");
    assert_eq!(relative(1000 + 86_400, 1000), "in 1 day");
    assert_eq!(duration(90), "1 min");
    assert_eq!(duration(3 * 31_536_000), "3 years");
}

#[wasm_bindgen_test]
fn fractions_are_written_without_float_formatting_and_round_like_it() {
    assert_eq!(fixed(2.345, 2), "2.35");
    assert_eq!(fixed(2.0, 1), "2.0");
    assert_eq!(fixed(0.05, 1), "0.1");
    assert_eq!(fixed(-0.04, 1), "0.0");
    assert_eq!(fixed(-1.25, 1), "-1.3");
    assert_eq!(fixed(1234.5, 0), "1235");
    assert_eq!(fixed(0.007, 2), "0.01");
    assert_eq!(fixed(440.0, 1), "440.0");
    assert_eq!(
        fixed(1e300, 2),
        "18446744073709551615",
        "saturates, never panics"
    );
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(fixed(bad, 1), "–");
    }
    // The same text as Rust's own formatting wherever halves are not at stake.
    for v in [0.0, 1.0, 3.24159, 99.99, 12345.678, 0.1, 7.25e-3] {
        for places in 0..4 {
            let ours = fixed(v, places);
            let std = format!("{v:.prec$}", prec = places as usize);
            assert_eq!(ours, std, "{v} to {places} places");
        }
    }
}

#[wasm_bindgen_test]
fn percentages_never_divide_by_zero() {
    assert_eq!(percent(0, 0), "–");
    assert_eq!(percent(1, 8), "12.5%");
}

#[wasm_bindgen_test]
fn state_names_match_the_api() {
    for s in ["valid", "grace", "expired", "revoked"] {
        let state = parse_license_state(s).unwrap();
        assert_eq!(license_state(state), s);
        assert_eq!(serde_json::to_value(state).unwrap(), s);
    }
    assert_eq!(parse_license_state("VALID"), None);
}

#[wasm_bindgen_test]
fn the_issue_form_says_what_to_fix() {
    use lifeline_console::pages::licenses::issue_request;
    let ok = issue_request("editor", " ACME ", "pro, sso,,", "2027-01-31", "7", "").unwrap();
    assert_eq!(ok.licensee, "ACME");
    assert_eq!(ok.entitlements, ["pro", "sso"]);
    assert_eq!(date(ok.expires_at), "2027-01-31");
    assert_eq!(ok.grace_s, 7 * 86_400);
    assert_eq!(ok.seats, None);
    assert_eq!(
        issue_request("editor", "A", "", "2027-01-31", "", "5")
            .unwrap()
            .seats,
        Some(5)
    );
    for (args, says) in [
        (["", "A", "", "2027-01-31", "7", ""], "product"),
        (["editor", " ", "", "2027-01-31", "7", ""], "licensee"),
        (["editor", "A", "", "31/01/2027", "7", ""], "date"),
        (["editor", "A", "", "2027-01-31", "-1", ""], "grace"),
        (["editor", "A", "", "2027-01-31", "400", ""], "grace"),
        (["editor", "A", "", "2027-01-31", "7", "0"], "Seats"),
        (["editor", "A", "", "2027-01-31", "7", "many"], "Seats"),
    ] {
        let [p, l, e, x, g, s] = args;
        let err = issue_request(p, l, e, x, g, s).unwrap_err();
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[wasm_bindgen_test]
fn chart_series_place_minutes_before_now_and_skip_empty_percentiles() {
    use lifeline_api::MinuteStats;
    use lifeline_console::pages::overview::validation_series;
    let now = 10_000;
    let minutes = vec![
        MinuteStats {
            start: now - 120,
            requests: 0,
            errors: 0,
            failures: 0,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
        },
        MinuteStats {
            start: now - 60,
            requests: 50,
            errors: 5,
            failures: 10,
            p50_ms: Some(0.5),
            p95_ms: Some(1.0),
            p99_ms: Some(2.5),
        },
    ];
    let (rate, ratio, latency) = validation_series(&minutes, now);
    assert_eq!(rate[0].points, [(-2.0, 0.0), (-1.0, 50.0)]);
    assert_eq!(rate[1].points, [(-2.0, 0.0), (-1.0, 10.0)]);
    // No requests: no ratio and no latency point rather than a fake zero.
    assert_eq!(ratio[0].points, [(-1.0, 10.0)]);
    assert_eq!(ratio[1].points, [(-1.0, 20.0)]);
    assert_eq!(
        latency.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(),
        ["p50", "p95", "p99"]
    );
    assert_eq!(latency[2].points, [(-1.0, 2.5)]);
}

#[wasm_bindgen_test]
fn the_override_form_says_what_to_fix() {
    use lifeline_api::{OverrideEffect, OverrideScope};
    use lifeline_console::pages::overrides::{OverrideForm, override_request};
    let form = |f: &dyn Fn(&mut OverrideForm)| {
        let mut form = OverrideForm {
            scope_kind: "licensee".into(),
            scope_value: " acme ".into(),
            effect_kind: "valid".into(),
            effect_value: String::new(),
            hours: "24".into(),
            reason: "key window closed".into(),
            incident: "INC-7".into(),
        };
        f(&mut form);
        form
    };
    let ok = override_request(&form(&|_| {}), 1_000).unwrap();
    assert_eq!(ok.scope, OverrideScope::Licensee("acme".into()));
    assert_eq!(ok.effect, OverrideEffect::Valid);
    assert_eq!(ok.expires_at, 1_000 + 24 * 3600);
    let all = override_request(
        &form(&|f| {
            f.scope_kind = "all".into();
            f.scope_value.clear();
            f.effect_kind = "extend_grace".into();
            f.effect_value = "48".into();
        }),
        0,
    )
    .unwrap();
    assert_eq!(all.scope, OverrideScope::All);
    assert_eq!(all.effect, OverrideEffect::ExtendGrace { secs: 48 * 3600 });
    for (change, says) in [
        (
            &(|f: &mut OverrideForm| f.scope_value = " ".into()) as &dyn Fn(&mut OverrideForm),
            "covers",
        ),
        (
            &|f: &mut OverrideForm| f.effect_kind = "entitlements".into(),
            "entitlements",
        ),
        (
            &|f: &mut OverrideForm| {
                f.effect_kind = "extend_grace".into();
                f.effect_value = "0".into();
            },
            "grace",
        ),
        (&|f: &mut OverrideForm| f.hours = "0".into(), "1 to 720"),
        (&|f: &mut OverrideForm| f.hours = "721".into(), "1 to 720"),
        (
            &|f: &mut OverrideForm| f.incident = String::new(),
            "incident",
        ),
    ] {
        let err = override_request(&form(change), 0).unwrap_err();
        assert!(err.contains(says), "{err}");
    }
}

#[wasm_bindgen_test]
fn chart_axes_have_round_steps_and_room_above_the_highest_point() {
    use lifeline_console::components::chart::{tick_label, y_axis};
    let (top, ticks) = y_axis(100.0);
    assert_eq!(
        (top, ticks),
        (125.0, vec![0.0, 25.0, 50.0, 75.0, 100.0, 125.0])
    );
    assert_eq!(y_axis(8.0).0, 10.0);
    // 0.3 / 0.1 is 2.9999999999999996 in floating point: the top still clears 0.3.
    let (top, ticks) = y_axis(0.3);
    assert!(top > 0.3 && ticks.len() <= 6, "{top} {ticks:?}");
    assert_eq!(
        ticks.iter().map(|t| tick_label(*t)).collect::<Vec<_>>(),
        ["0", "0.1", "0.2", "0.3", "0.4"]
    );
    // No data, or nonsense: a plain 0..1.25 axis rather than NaN coordinates.
    for max in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        let (top, ticks) = y_axis(max);
        assert_eq!(top, 1.25, "{max}");
        assert_eq!(ticks.len(), 6, "{max}");
    }
    assert_eq!(tick_label(12.5), "12.5");
    assert_eq!(tick_label(2500.0), "2500");
}

#[wasm_bindgen_test]
fn paths_name_their_page_and_nothing_else_is_a_page() {
    use lifeline_console::router::{Route, query_param};
    let cases = [
        ("/", Some(Route::Overview)),
        ("/licenses", Some(Route::Licenses)),
        ("/licenses/", Some(Route::Licenses)),
        (
            "/licenses/0193-a",
            Some(Route::License("0193-a".to_owned())),
        ),
        ("/licenses/a%20b", Some(Route::License("a b".to_owned()))),
        ("/incidents/7", Some(Route::Incident("7".to_owned()))),
        ("/drills/d-1", Some(Route::Drill("d-1".to_owned()))),
        ("/overrides", Some(Route::Overrides)),
        ("/keys", Some(Route::Keys)),
        ("/audit", Some(Route::Audit)),
        ("/map", Some(Route::Map)),
        // Not console pages: the API, keys for verifiers, typos, extra segments, no id.
        ("/api/v1/overrides/bundle", None),
        ("/.well-known/lifeline/keys.json", None),
        ("/licence", None),
        ("/licenses/a/b", None),
        ("/licenses//", None),
        ("licenses", None),
        ("", None),
    ];
    for (path, route) in cases {
        assert_eq!(Route::parse(path), route, "{path}");
    }
    assert_eq!(
        query_param("?state=grace", "state").as_deref(),
        Some("grace")
    );
    assert_eq!(
        query_param("a=1&name=one-node-down&name=x", "name").as_deref(),
        Some("one-node-down")
    );
    assert_eq!(
        query_param("?q=acme+corp%26co", "q").as_deref(),
        Some("acme corp&co")
    );
    assert_eq!(query_param("?flag&x=1", "flag").as_deref(), Some(""));
    assert_eq!(query_param("?x=%E0%A4%A", "x").as_deref(), Some("%E0%A4%A"));
    assert_eq!(query_param("", "state"), None);
}

#[wasm_bindgen_test]
fn the_map_layout_puts_dependents_above_what_they_need_and_never_overlaps_boxes() {
    use lifeline_api::{ComponentKind as K, DependencyMap, Health, MapComponent, MapEdge};
    use lifeline_console::components::map_graph::{
        BOX_H, BOX_W, WIDTH, depths, layout, short_name,
    };
    let component = |id: String, kind: K| MapComponent {
        id: id.clone(),
        kind,
        name: id,
        owner: "unassigned".into(),
        health: Health::Ok,
        reason: String::new(),
        missing: false,
        single_point_of_failure: false,
        breaks: Vec::new(),
        blast_radius: Vec::new(),
        licenses_affected: None,
        products_affected: None,
    };
    let edge = |from: &str, to: &str| MapEdge {
        from: from.into(),
        to: to.into(),
        requirement: "x".into(),
    };
    // Twelve services (more than a row holds), two nodes, the store, a key; the server lists
    // kinds in its own order, which is not the order of the dependencies.
    let mut components = vec![
        component("key:k".into(), K::SigningKey),
        component("store".into(), K::Store),
        component("node:a".into(), K::Node),
        component("node:b".into(), K::Node),
        component("status-list".into(), K::StatusList),
    ];
    let mut edges = vec![
        edge("node:a", "store"),
        edge("node:b", "store"),
        edge("node:a", "key:k"),
        edge("status-list", "node:a"),
        edge("status-list", "node:b"),
    ];
    for i in 0..12 {
        let id = format!("service:s{i}");
        components.push(component(id.clone(), K::Service));
        edges.push(edge(&id, "node:a"));
        edges.push(edge(&id, "status-list"));
    }
    let map = DependencyMap {
        now: 0,
        components,
        edges: edges.clone(),
        single_points_of_failure: Vec::new(),
    };
    let d = depths(&map);
    let depth = |id: &str| d[map.components.iter().position(|c| c.id == id).unwrap()];
    assert_eq!(
        (
            depth("key:k"),
            depth("node:a"),
            depth("status-list"),
            depth("service:s0")
        ),
        (0, 1, 2, 3)
    );
    let l = layout(&map);
    let kinds: Vec<&str> = l.bands.iter().map(|b| b.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["service", "status_list", "node", "store", "signing_key"]
    );
    let at = |id: &str| l.boxes.iter().find(|b| b.id == id).unwrap();
    for e in &edges {
        assert!(at(&e.from).y < at(&e.to).y, "{} above {}", e.from, e.to);
    }
    assert_eq!(l.boxes.len(), 17);
    for (i, a) in l.boxes.iter().enumerate() {
        assert!(
            a.x >= 0.0 && a.x + BOX_W <= WIDTH && a.y + BOX_H <= l.height,
            "{a:?}"
        );
        for b in &l.boxes[i + 1..] {
            let apart = a.x + BOX_W <= b.x
                || b.x + BOX_W <= a.x
                || a.y + BOX_H <= b.y
                || b.y + BOX_H <= a.y;
            assert!(apart, "{a:?} overlaps {b:?}");
        }
    }
    // A cycle (never sent by the server) is cut, not followed forever.
    let looped = DependencyMap {
        now: 0,
        components: vec![
            component("node:a".into(), K::Node),
            component("store".into(), K::Store),
        ],
        edges: vec![edge("node:a", "store"), edge("store", "node:a")],
        single_points_of_failure: Vec::new(),
    };
    assert_eq!(layout(&looped).boxes.len(), 2);
    assert_eq!(short_name("short"), "short");
    assert_eq!(short_name(&"x".repeat(40)).chars().count(), 22);
}
