//! The console served next to the API: files, the single-page fallback, cache headers,
//! compression, and the API's paths left alone.

use std::io::Read as _;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use lifeline_server::{ASSET_CACHE_CONTROL, INDEX_CACHE_CONTROL, app, with_console};
use tower::ServiceExt;

use crate::{Db, server};

const INDEX: &str = "<!doctype html><html><head><title>Lifeline console</title>\
    <link rel=\"stylesheet\" href=\"/style-4f2a.css\"></head><body><script type=\"module\">\
    import init from '/lifeline-console-9c1d.js'; init('/lifeline-console-9c1d_bg.wasm');\
    </script></body></html>";

fn build(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let js = "export default function init(url) { return fetch(url); }\n".repeat(200);
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(7u8, 4096));
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("lifeline-console-9c1d.js"), &js).unwrap();
    std::fs::write(dir.join("lifeline-console-9c1d_bg.wasm"), &wasm).unwrap();
    std::fs::write(dir.join("style-4f2a.css"), "body { margin: 0 }\n").unwrap();
    std::fs::create_dir(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets").join("logo-77.svg"), "<svg/>").unwrap();
    (js.into_bytes(), wasm)
}

async fn get(
    router: &Router,
    method: &str,
    uri: &str,
    gzip: bool,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "gzip");
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

fn assert_console_headers(uri: &str, h: &HeaderMap, cache: &str) {
    assert_eq!(h[header::CACHE_CONTROL], cache, "{uri}");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{uri}");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{uri}");
}

fn assert_problem_404(uri: &str, status: StatusCode, h: &HeaderMap, body: &[u8]) {
    assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    assert_eq!(h[header::CONTENT_TYPE], "application/problem+json", "{uri}");
    let p: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(p["code"], "not_found", "{uri}");
}

#[tokio::test]
async fn the_console_is_served_beside_the_api() {
    let s = server(Db::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let (js, wasm) = build(dir.path());
    // A file next to the console directory, which no path may reach.
    std::fs::write(dir.path().parent().unwrap().join("secret.txt"), "secret").ok();
    let router = with_console(app(s.state.clone()), dir.path()).unwrap();

    // index.html at /, at /index.html and for every client-side route.
    for uri in [
        "/",
        "/index.html",
        "/licenses",
        "/licenses/0195e2a0-aaaa",
        "/audit?order=desc",
        "/assets/",
        "/no-such-file.js",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/../../secret.txt",
    ] {
        let (st, h, body) = get(&router, "GET", uri, false).await;
        assert_eq!(st, StatusCode::OK, "{uri}");
        assert_eq!(h[header::CONTENT_TYPE], "text/html", "{uri}");
        assert_eq!(String::from_utf8(body).unwrap(), INDEX, "{uri}");
        assert_console_headers(uri, &h, INDEX_CACHE_CONTROL);
    }
    // Built files, by name, with their types, cached for good.
    for (uri, content_type, expected) in [
        ("/lifeline-console-9c1d.js", "text/javascript", js.clone()),
        (
            "/lifeline-console-9c1d_bg.wasm",
            "application/wasm",
            wasm.clone(),
        ),
        (
            "/style-4f2a.css",
            "text/css",
            b"body { margin: 0 }\n".to_vec(),
        ),
        ("/assets/logo-77.svg", "image/svg+xml", b"<svg/>".to_vec()),
    ] {
        let (st, h, body) = get(&router, "GET", uri, false).await;
        assert_eq!(st, StatusCode::OK, "{uri}");
        assert_eq!(h[header::CONTENT_TYPE], content_type, "{uri}");
        assert!(
            h.get(header::CONTENT_ENCODING).is_none(),
            "{uri}: not asked for gzip"
        );
        assert_eq!(body, expected, "{uri}");
        assert_console_headers(uri, &h, ASSET_CACHE_CONTROL);
    }
    let (st, h, body) = get(&router, "HEAD", "/lifeline-console-9c1d.js", false).await;
    assert_eq!((st, body.len()), (StatusCode::OK, 0));
    assert_eq!(h[header::CACHE_CONTROL], ASSET_CACHE_CONTROL);

    // gzip when the client accepts it.
    for (uri, expected) in [
        ("/lifeline-console-9c1d.js", js),
        ("/lifeline-console-9c1d_bg.wasm", wasm),
        ("/licenses/abc", INDEX.as_bytes().to_vec()),
    ] {
        let (st, h, body) = get(&router, "GET", uri, true).await;
        assert_eq!(st, StatusCode::OK, "{uri}");
        assert_eq!(h[header::CONTENT_ENCODING], "gzip", "{uri}");
        assert!(body.len() < expected.len(), "{uri}: compressed");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, expected, "{uri}");
        assert!(h.get(header::CACHE_CONTROL).is_some(), "{uri}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    // The API's paths are the API's: unknown ones stay 404 problem+json.
    for uri in [
        "/api",
        "/api/nope",
        "/api/v1/nope",
        "/api/v1/licenses/x/y/z",
        "/.well-known/nope",
        "/metrics/x",
        "/healthz/x",
        "/readyz/x",
    ] {
        let (st, h, body) = get(&router, "GET", uri, true).await;
        assert_problem_404(uri, st, &h, &body);
        assert!(
            h.get(header::CONTENT_ENCODING).is_none(),
            "{uri}: API answers as before"
        );
    }
    let (st, h, body) = get(&router, "GET", "/healthz", true).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert!(String::from_utf8(body).unwrap().contains("ok"));
    let (st, _, _) = get(&router, "GET", "/api/v1/openapi.json", false).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = get(&router, "GET", "/api/v1/licenses", false).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _, _) = get(&router, "DELETE", "/api/v1/licenses", false).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    // The console only reads.
    let (st, h, _) = get(&router, "POST", "/licenses/abc", false).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(h[header::ALLOW], "GET, HEAD");
}

#[tokio::test]
async fn a_console_without_index_html_is_refused() {
    let s = server(Db::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.js"), "x").unwrap();
    for d in [dir.path().to_owned(), dir.path().join("missing")] {
        let err = with_console(app(s.state.clone()), &d).unwrap_err();
        assert!(err.to_string().contains("no index.html"), "{err}");
        assert!(err.to_string().contains(&d.display().to_string()), "{err}");
    }
    // A directory named index.html is not a page.
    std::fs::create_dir(dir.path().join("index.html")).unwrap();
    assert!(with_console(app(s.state.clone()), dir.path()).is_err());
}

#[tokio::test]
async fn without_a_console_the_root_says_how_to_serve_one() {
    let s = server(Db::Sqlite).await;
    let router = app(s.state.clone());
    let (st, h, body) = get(&router, "GET", "/", false).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("--console"), "{page}");
    assert!(page.contains("LIFELINE_CONSOLE_DIR"), "{page}");
    for uri in ["/licenses/abc", "/index.html", "/api/nope"] {
        let (st, h, body) = get(&router, "GET", uri, false).await;
        assert_problem_404(uri, st, &h, &body);
    }
    let (st, h, _) = get(&router, "POST", "/", false).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(h[header::CONTENT_TYPE], "application/problem+json");
}
