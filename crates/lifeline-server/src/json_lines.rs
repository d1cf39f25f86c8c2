//! A response body of JSON lines (`application/x-ndjson`) sent as a task produces them: the
//! answer of a long operation (a key compromise's progress, then its result).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use hyper::body::Frame;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;

/// Each value received becomes one line; the body ends when every sender is gone.
pub(crate) struct JsonLines<T> {
    rx: UnboundedReceiver<T>,
}

impl<T> JsonLines<T> {
    pub(crate) fn new(rx: UnboundedReceiver<T>) -> Self {
        Self { rx }
    }
}

impl<T: Serialize> hyper::body::Body for JsonLines<T> {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx.poll_recv(cx).map(|line| {
            line.map(|value| {
                // A value that does not serialize (none of ours) becomes an empty object
                // rather than a broken line.
                let mut text = serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec());
                text.push(b'\n');
                Ok(Frame::data(Bytes::from(text)))
            })
        })
    }
}
