//! The audit log's filters and paging in both directions.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{Server, license_body};

/// Follows the cursor (`next_after` or `next_before`) from `first` to the end.
async fn walk(s: &Server, first: &str, cursor: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut uri = first.to_owned();
    for _ in 0..100 {
        let (st, page) = s.admin("GET", &uri, None).await;
        assert_eq!(st, StatusCode::OK, "{uri}: {page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        let other = if cursor == "next_after" {
            "next_before"
        } else {
            "next_after"
        };
        assert!(page.get(other).is_none_or(Value::is_null), "{uri}: {page}");
        match page[cursor].as_u64() {
            Some(next) => {
                let param = cursor.trim_start_matches("next_");
                uri = format!("{first}&{param}={next}");
            }
            None => return items,
        }
    }
    panic!("paging did not end");
}

fn seqs(items: &[Value]) -> Vec<u64> {
    items.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

pub(crate) async fn audit_filters_and_pages_both_ways(s: Server) {
    s.product("p").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let l = s.issue(license_body("p", &format!("a{i}"))).await;
        ids.push(l["id"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        s.admin(
            "POST",
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(json!({"reason": "r"})),
        )
        .await;
    }
    s.admin("POST", "/api/v1/keys/rotate", None).await;
    let (_, all) = s.admin("GET", "/api/v1/audit?limit=1000", None).await;
    let all: Vec<Value> = all["items"].as_array().unwrap().clone();
    let all_seqs = seqs(&all);
    assert!(all_seqs.windows(2).all(|w| w[0] < w[1]), "ascending");
    assert!(all.len() >= 10, "{}", all.len());

    // Ascending pages by next_after, descending by next_before: the same events, no gaps,
    // no duplicates, whatever the page size.
    for limit in [1, 2, 3, all.len(), all.len() + 1] {
        let asc = walk(&s, &format!("/api/v1/audit?limit={limit}"), "next_after").await;
        assert_eq!(seqs(&asc), all_seqs, "asc, limit {limit}");
        let desc = walk(
            &s,
            &format!("/api/v1/audit?order=desc&limit={limit}"),
            "next_before",
        )
        .await;
        let mut reversed = all_seqs.clone();
        reversed.reverse();
        assert_eq!(seqs(&desc), reversed, "desc, limit {limit}");
    }

    // Filters, alone and combined with paging.
    let expect = |f: &dyn Fn(&Value) -> bool| -> Vec<u64> {
        all.iter()
            .filter(|e| f(e))
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    let one = &ids[0];
    let by_subject = walk(
        &s,
        &format!("/api/v1/audit?subject={one}&limit=1"),
        "next_after",
    )
    .await;
    assert_eq!(seqs(&by_subject), expect(&|e| e["subject"] == json!(one)));
    assert_eq!(
        by_subject
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["license.issued", "license.revoked"]
    );
    let issued = walk(
        &s,
        "/api/v1/audit?action=license.issued&limit=2",
        "next_after",
    )
    .await;
    assert_eq!(seqs(&issued).len(), 5);
    let licenses = walk(
        &s,
        "/api/v1/audit?action=license.&order=desc&limit=2",
        "next_before",
    )
    .await;
    let mut expected = expect(&|e| e["action"].as_str().unwrap().starts_with("license."));
    expected.reverse();
    assert_eq!(seqs(&licenses), expected);
    assert_eq!(expected.len(), 7);
    let queries: Vec<(String, usize)> = vec![
        ("action=license".into(), 0),
        ("action=licens.".into(), 0),
        // A prefix is literal: `_` is no wildcard.
        ("action=licens_.".into(), 0),
        ("action=key.".into(), 2),
        ("action=key.rotated".into(), 1),
        ("subject=nobody".into(), 0),
        (format!("action=license.revoked&subject={one}"), 1),
        (format!("action=license.&subject={}&order=desc", ids[1]), 2),
    ];
    for (query, n) in queries {
        let (_, page) = s
            .admin("GET", &format!("/api/v1/audit?{query}"), None)
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), n, "{query}");
    }
    // A window by seq on both sides.
    let (_, window) = s.admin("GET", "/api/v1/audit?after=2&before=6", None).await;
    assert_eq!(seqs(window["items"].as_array().unwrap()), [3, 4, 5]);
    let (_, window) = s
        .admin("GET", "/api/v1/audit?after=2&before=6&order=desc", None)
        .await;
    assert_eq!(seqs(window["items"].as_array().unwrap()), [5, 4, 3]);
    let (_, newest) = s
        .admin("GET", "/api/v1/audit?order=desc&limit=1", None)
        .await;
    assert_eq!(newest["items"][0]["action"], "key.rotated");
    assert_eq!(newest["next_before"], json!(all_seqs.last().unwrap()));

    for query in [
        "order=sideways",
        "order=DESC",
        "before=-1",
        "after=x",
        "limit=0",
        "limit=1001",
        "subject=",
        "action=",
        "bogus=1",
    ] {
        let (st, p) = s
            .admin("GET", &format!("/api/v1/audit?{query}"), None)
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{query}"
        );
    }
    let long = "x".repeat(257);
    let (st, _) = s
        .admin("GET", &format!("/api/v1/audit?subject={long}"), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}
