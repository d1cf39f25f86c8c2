//! Refusals hyper answers on its own, before a request reaches the router: 400 (not HTTP),
//! 414 (a URI longer than 65,534 bytes) and 431 (too many or too large headers). hyper writes
//! them as a bare head with an empty body and closes the connection; [`ProblemIo`] sits
//! between hyper and the socket and replaces exactly such a head with the same status as an
//! RFC 9457 problem (`application/problem+json`, a stable `code`), like every other refusal.
//!
//! What is replaced: a write that is one complete response head, status 400, 414 or 431,
//! `content-length: 0` and no `content-type`. The router never answers so (every error it
//! sends is a problem with a body), and a body cannot look like one (the API's bodies are
//! JSON, which escapes CR and LF).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose bare transport-level refusals are rewritten as problems.
#[derive(Debug)]
pub(crate) struct ProblemIo<T> {
    inner: T,
    /// A replacement being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> ProblemIo<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The problem that replaces `head`, if `head` is one of hyper's bare refusals.
pub(crate) fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    if !text.ends_with("\r\n\r\n") || text.matches("\r\n\r\n").count() != 1 {
        return None;
    }
    let status_line = text.split("\r\n").next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    let status: u16 = parts.next()?.parse().ok()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("\r\ncontent-type:") || !lower.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let (title, code, detail) = match status {
        400 => (
            "Bad Request",
            "bad_http",
            "the request is not valid HTTP/1.1 (or HTTP/2)",
        ),
        414 => (
            "URI Too Long",
            "uri_too_long",
            "the request's URI is longer than 65,534 bytes",
        ),
        431 => (
            "Request Header Fields Too Large",
            "headers_too_large",
            "the request has more than 100 headers or more than 400 KiB of them",
        ),
        _ => return None,
    };
    let body = serde_json::json!({
        "type": format!("urn:lifeline:problem:{code}"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    })
    .to_string();
    Some(
        format!(
            "HTTP/1.1 {status} {title}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            match replacement(buf) {
                Some(problem) => self.pending = Some((problem, 0)),
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        // Write the whole replacement, then report the original head as written.
        loop {
            let this = &mut *self;
            let Some((problem, sent)) = this.pending.as_mut() else {
                return Poll::Ready(Ok(buf.len()));
            };
            let Some(rest) = problem.get(*sent..).filter(|r| !r.is_empty()) else {
                this.pending = None;
                return Poll::Ready(Ok(buf.len()));
            };
            match Pin::new(&mut this.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_refusals_are_replaced() {
        for status in [400, 414, 431] {
            let head = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\ndate: now\r\n\r\n");
            let out = String::from_utf8(replacement(head.as_bytes()).unwrap()).unwrap();
            assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{out}");
            assert!(out.contains("content-type: application/problem+json"));
            let body: serde_json::Value =
                serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap();
            assert_eq!(body["status"], status);
            assert!(body["code"].is_string());
        }
        for kept in [
            // The router's own problems (a content type, a body).
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 10\r\n\r\n",
            // Other statuses, and heads followed by a body in the same write.
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nHTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "{\"json\": true}",
            "",
        ] {
            assert!(replacement(kept.as_bytes()).is_none(), "{kept:?}");
        }
    }
}
