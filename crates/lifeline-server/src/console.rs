//! The web console: a built single-page app (Trunk's `dist` directory: `index.html` and
//! hashed `.js`/`.wasm`/`.css` files) served by the API's router for every path the API
//! does not own.
//!
//! - The API's own paths (`/api/…`, `/.well-known/…`, `/metrics`, `/healthz`, `/readyz`)
//!   never reach the console: unknown ones keep answering 404 problem+json.
//! - `GET`/`HEAD` of any other path serves the file of that name if there is one, else
//!   `index.html` (client-side routing: `/licenses/abc` is the app's page).
//! - `index.html` is sent with `Cache-Control: no-cache` (always revalidated, so a new build
//!   is picked up); every other file is content-hashed by the build and cached for a year
//!   (`immutable`).
//! - Responses are gzip-compressed when the client accepts it, and carry `nosniff`,
//!   `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and a strict
//!   `Content-Security-Policy`: scripts from the console's own origin only (plus the one
//!   inline loader Trunk writes into `index.html`, allowed by its SHA-256, computed when the
//!   directory is opened), WebAssembly may compile but nothing may be compiled from a string
//!   (`'wasm-unsafe-eval'`, no `'unsafe-eval'`), no inline style, no plugin, no framing.
//!
//! Without a console, `GET /` answers a short HTML page (status 404) that says how to serve
//! one; every other unknown path is the usual 404 problem.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use tower::{Layer as _, ServiceExt as _};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

use crate::AppError;

/// `Cache-Control` of `index.html`.
pub const INDEX_CACHE_CONTROL: &str = "no-cache";
/// `Cache-Control` of every other console file (their names carry a content hash).
pub const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Serves the console in `dir` for every path `api` does not route, except the API's own
/// paths. Fails when `dir` has no `index.html`.
pub fn with_console(api: Router, dir: &Path) -> std::io::Result<Router> {
    Ok(Console::open(dir)?.mount(api))
}

/// A console directory that has an `index.html`.
#[derive(Clone, Debug)]
pub(crate) struct Console {
    dir: PathBuf,
    index: PathBuf,
    /// The `Content-Security-Policy` of every answer.
    policy: HeaderValue,
}

/// The console's policy, with `'sha256-…'` sources for the inline scripts of its index.
fn content_security_policy(index_html: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let mut hashes = String::new();
    let mut rest = index_html;
    while let Some(start) = rest.find("<script") {
        let Some(open_end) = rest.get(start..).and_then(|t| t.find('>')) else {
            break;
        };
        let tag = rest.get(start..start + open_end).unwrap_or_default();
        let body_start = start + open_end + 1;
        let Some(close) = rest.get(body_start..).and_then(|t| t.find("</script>")) else {
            break;
        };
        let body = rest.get(body_start..body_start + close).unwrap_or_default();
        if !tag.contains(" src=") && !body.trim().is_empty() {
            let digest = sha2::Sha256::digest(body.as_bytes());
            hashes.push_str(&format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = rest.get(body_start + close..).unwrap_or_default();
    }
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

impl Console {
    /// Checks that `dir` holds a built console.
    pub(crate) fn open(dir: &Path) -> std::io::Result<Self> {
        let index = dir.join("index.html");
        if !index.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "console directory {} has no index.html: point --console at the console's \
                     built dist directory",
                    dir.display()
                ),
            ));
        }
        let html = std::fs::read_to_string(&index)?;
        let policy = HeaderValue::from_str(&content_security_policy(&html)).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", index.display()),
            )
        })?;
        Ok(Self {
            dir: dir.to_owned(),
            index,
            policy,
        })
    }

    /// `api` with the console as its fallback.
    pub(crate) fn mount(self, api: Router) -> Router {
        let files = CompressionLayer::new().layer(tower::service_fn(move |req: Request| {
            let console = self.clone();
            async move { Ok::<_, Infallible>(console.serve(req).await) }
        }));
        api.fallback_service(tower::service_fn(move |req: Request| {
            let files = files.clone();
            async move {
                if is_api_path(req.uri().path()) {
                    return Ok::<_, Infallible>(not_found());
                }
                if req.method() != Method::GET && req.method() != Method::HEAD {
                    let mut response = AppError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        "the console only answers GET and HEAD",
                    )
                    .into_response();
                    response
                        .headers_mut()
                        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                    return Ok(response);
                }
                let response = files.oneshot(req).await?;
                Ok(response.map(Body::new))
            }
        }))
    }

    /// The file named by the path, else `index.html`, with the console's headers.
    async fn serve(&self, req: Request) -> Response {
        let (parts, _) = req.into_parts();
        let asked_for_index = parts.uri.path() == "/index.html";
        let file = ServeDir::new(&self.dir)
            .append_index_html_on_directories(false)
            .oneshot(Request::from_parts(parts.clone(), Body::empty()))
            .await;
        let (mut response, cache) = match file {
            Ok(r) if r.status() != StatusCode::NOT_FOUND => {
                let cache = if asked_for_index {
                    INDEX_CACHE_CONTROL
                } else {
                    ASSET_CACHE_CONTROL
                };
                (r.map(Body::new), cache)
            }
            _ => {
                let index = ServeFile::new(&self.index)
                    .oneshot(Request::from_parts(parts, Body::empty()))
                    .await;
                match index {
                    Ok(r) => (r.map(Body::new), INDEX_CACHE_CONTROL),
                    Err(e) => match e {},
                }
            }
        };
        let ok = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
        let headers = response.headers_mut();
        if ok {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::CONTENT_SECURITY_POLICY, self.policy.clone());
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response
    }
}

/// Whether a path belongs to the API (and so never to the console).
fn is_api_path(path: &str) -> bool {
    ["/api", "/.well-known", "/metrics", "/healthz", "/readyz"]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

fn not_found() -> Response {
    AppError::not_found("no such route").into_response()
}

/// The router's fallback when no console is served: a hint at `/`, else 404 problem+json.
pub(crate) async fn not_served(method: Method, uri: Uri) -> Response {
    if uri.path() != "/" || (method != Method::GET && method != Method::HEAD) {
        return not_found();
    }
    let page = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
        <title>Lifeline</title></head><body>\n<h1>Lifeline license server</h1>\n\
        <p>This server does not serve the web console. Start it with \
        <code>lifeline serve --console DIR</code> (or set <code>LIFELINE_CONSOLE_DIR</code>), \
        DIR being the console's built <code>dist</code> directory.</p>\n\
        <p>The API is under <code>/api/v1</code>; its description is at \
        <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>\n</body></html>\n";
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-cache")],
        Html(page),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_the_apis_own_prefixes() {
        for path in [
            "/api",
            "/api/",
            "/api/v1/nope",
            "/.well-known/x",
            "/metrics",
            "/metrics/x",
            "/healthz",
            "/readyz/",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in [
            "/",
            "/apis",
            "/licenses/abc",
            "/metricsx",
            "/index.html",
            "/app.wasm",
        ] {
            assert!(!is_api_path(path), "{path}");
        }
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_loader_by_its_hash() {
        let html = "<head><script type=\"module\">\nimport init from '/app.js';\n</script>\
                    <script src=\"/other.js\"></script></head>";
        let policy = content_security_policy(html);
        // SHA-256 of the loader's text, as a browser computes it (Python's hashlib agrees).
        assert!(
            policy.contains("'sha256-DMGlWxzfNmII634DO34waQ0zG9JnfoNpCGqxdUPiZlU='"),
            "{policy}"
        );
        assert_eq!(
            policy.matches("'sha256-").count(),
            1,
            "only the inline one: {policy}"
        );
        assert!(
            policy.starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-")
        );
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"));
        for directive in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{directive}: {policy}");
        }
        assert_eq!(
            content_security_policy("<p>no script</p>"),
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        );
    }
}
