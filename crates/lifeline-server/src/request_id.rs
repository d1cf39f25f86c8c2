//! A request id on every request: the caller's `x-request-id` when it is a plain one (1 to 64
//! of `A-Z a-z 0-9 - _ . :`), else a new random one. It is echoed on the response, carried by
//! the request's log span, and named in the body of a 500, so that a user's report and the
//! server's log meet.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// The header that carries it, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest id taken from a caller.
const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: Arc<str>;
}

/// The id of the request this task is answering, if any.
pub(crate) fn current() -> Option<Arc<str>> {
    CURRENT.try_with(Arc::clone).ok()
}

fn plain(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new id: 16 hex digits, a random prefix drawn once per process then a counter (unique on
/// this node, told apart across nodes by the prefix; no system call per request).
fn new_id() -> Arc<str> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        // Without randomness, the start time tells processes apart well enough.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = u32::try_from(crate::clock::now_ms() & 0xffff_ffff)
                .unwrap_or(0)
                .to_be_bytes();
        }
        u32::from_be_bytes(bytes)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff;
    Arc::from(format!("{prefix:08x}{n:08x}"))
}

/// Middleware: gives the request its id, runs it inside a `request` span, logs its outcome
/// (5xx as warnings, the rest at debug) and puts the id on the response.
pub(crate) async fn layer(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| plain(v))
        .map_or_else(new_id, Arc::from);
    // The route pattern, never the raw path or query.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::debug_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route,
    );
    let started = Instant::now();
    let mut response = CURRENT
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        // Not only in the (debug) span: a server error is logged with its id at any level.
        tracing::warn!(request_id = %id, route = %route, status, ms, "answered with a server error");
    } else {
        span.in_scope(|| tracing::debug!(status, ms, "answered"));
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::response::IntoResponse as _;

    #[tokio::test]
    async fn an_internal_failure_is_a_500_that_names_its_request() {
        let response = CURRENT
            .scope(Arc::from("req-7"), async {
                crate::problem::AppError::internal("the disk caught fire").into_response()
            })
            .await;
        assert_eq!(response.status(), 500);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "internal");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("req-7"), "{detail}");
        assert!(
            !detail.contains("disk"),
            "the cause stays in the log: {detail}"
        );
    }

    #[test]
    fn only_plain_ids_are_taken_from_callers() {
        assert!(plain("abc-123_x.y:z"));
        assert!(plain(&"a".repeat(MAX_LEN)));
        for bad in ["", "a b", "a\nb", "ä", "<script>", &"a".repeat(MAX_LEN + 1)] {
            assert!(!plain(bad), "{bad:?}");
        }
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(plain(&id));
        assert_ne!(new_id(), id);
    }
}
