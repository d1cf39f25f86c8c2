//! Per-client rate limits (token buckets keyed by IP address): one for `validate`, one for
//! failed authentication. A flood from one address is refused with 429 while other clients
//! keep their own budgets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::AppError;

/// Request bodies larger than this are refused (413) before parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The limit for `POST /api/v1/licenses/bulk` (10,000 licenses).
pub const MAX_BULK_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Addresses tracked at most; the idlest are forgotten beyond this.
const MAX_TRACKED: usize = 100_000;

/// A rate: `per_sec` tokens per second, at most `burst` saved up. `per_sec == 0` disables it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_sec: f64,
    /// Requests allowed at once.
    pub burst: f64,
}

impl Rate {
    /// No limit.
    pub const UNLIMITED: Self = Self {
        per_sec: 0.0,
        burst: 0.0,
    };
}

/// A token bucket per key: a client address (the default), or what a request presents.
#[derive(Debug)]
pub struct Limiter<K = IpAddr> {
    rate: Rate,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: std::hash::Hash + Eq> Limiter<K> {
    /// A limiter with this rate.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; `Err(seconds to wait)` when the bucket is empty.
    pub fn take(&self, ip: K) -> Result<(), u64> {
        if self.rate.per_sec <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&ip) {
            // Forget buckets that have refilled completely: they hold no information.
            let full = self.rate.burst / self.rate.per_sec;
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() < full);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.rate.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate.per_sec)
            .min(self.rate.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate.per_sec).ceil().max(1.0) as u64)
        }
    }

    /// Whether `ip` has a token left, without taking one.
    pub fn allows(&self, ip: &K) -> bool {
        if self.rate.per_sec <= 0.0 {
            return true;
        }
        let buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        buckets.get(ip).is_none_or(|(tokens, at)| {
            tokens + at.elapsed().as_secs_f64() * self.rate.per_sec >= 1.0
        })
    }
}

/// The client's address (unknown in in-process tests: all such requests share one budget).
pub(crate) fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The path whose bodies may be larger ([`MAX_BULK_BODY_BYTES`]).
const BULK_PATH: &str = "/api/v1/licenses/bulk";

/// Refuses at once (413) a request whose `Content-Length` announces more than its route takes.
/// Without it the body is read up to the limit before the refusal: a client could announce
/// gigabytes, send nothing more, and keep the connection and its task for as long as it likes.
pub(crate) async fn announced_body_limit(request: Request, next: Next) -> Response {
    let limit = body_limit(&request);
    match announced_length(&request) {
        Some(n) if n > limit as u64 => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body announces {n} bytes; this route takes at most {limit}"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// The body length a request announces (`Content-Length`), if it does.
fn announced_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// The most a request to this path may send.
fn body_limit(request: &Request) -> usize {
    if request.uri().path() == BULK_PATH {
        MAX_BULK_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// A client must send a request's whole body within this long (after it is authenticated), or it is
/// answered 408 and the connection closed: a body dribbled a byte at a time cannot hold a
/// connection and its task for ever.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The answer to a body that did not arrive within [`BODY_READ_TIMEOUT`]: 408, and the
/// connection closed.
pub(crate) fn body_timeout() -> Response {
    let mut response = AppError::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        format!(
            "the request body did not arrive within {} s",
            BODY_READ_TIMEOUT.as_secs()
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The most request-body bytes a node holds at once, over all requests: the bound on what
/// slow or large bodies can make it buffer. Every body reserves its announced length (its
/// route's limit when not announced) before it is read and returns it once parsed.
pub const MAX_BODY_BYTES_IN_FLIGHT: usize = 128 * 1024 * 1024;

/// The node's budget for request bodies being read ([`MAX_BODY_BYTES_IN_FLIGHT`]), counted
/// in KiB.
#[derive(Debug)]
pub(crate) struct BodyBudget(std::sync::Arc<tokio::sync::Semaphore>);

impl BodyBudget {
    pub(crate) fn new() -> Self {
        Self(std::sync::Arc::new(tokio::sync::Semaphore::new(
            MAX_BODY_BYTES_IN_FLIGHT / 1024,
        )))
    }

    /// Reserves room for this request's body; `None` when the node already holds its
    /// budget's worth of bodies (answer [`busy`]).
    pub(crate) fn reserve(&self, request: &Request) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let limit = body_limit(request);
        let bytes = announced_length(request).map_or(limit, |n| n.min(limit as u64) as usize);
        let kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
        self.0.clone().try_acquire_many_owned(kib).ok()
    }
}

/// 503 `busy` with `Retry-After`: the body budget is spent for now.
pub(crate) fn busy() -> Response {
    let mut response = AppError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "this node is reading as many request bodies as it can hold; retry shortly",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// 429 with `Retry-After`.
pub(crate) fn too_many(retry_after: u64, what: &str) -> Response {
    let mut response = AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many {what} from this address; retry in {retry_after} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_limited_others_are_not() {
        let limiter = Limiter::new(Rate {
            per_sec: 1.0,
            burst: 3.0,
        });
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        for _ in 0..3 {
            assert!(limiter.take(a).is_ok());
        }
        assert_eq!(limiter.take(a), Err(1));
        assert!(!limiter.allows(&a));
        assert!(limiter.take(b).is_ok(), "another address keeps its budget");
        assert!(Limiter::new(Rate::UNLIMITED).take(a).is_ok());
    }
}
