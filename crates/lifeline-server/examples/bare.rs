//! The load tests' anchor (`make bench`): a bare axum handler on the same stack as the
//! server (tokio, hyper, axum) that answers every request (`POST /api/v1/validate`, the seat
//! requests, …) with a constant, so the benchmark can say what share of the bare stack's
//! throughput an endpoint keeps when sent the very same requests.
//!
//! `cargo run --release -p lifeline-server --example bare -- 127.0.0.1:PORT`

use axum::Router;

const ANSWER: &str = r#"{"verdict":{"state":"valid"},"revoked":false,"lease":null,"lease_expires_at":null,"overrides":[]}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let app = Router::new().fallback(|| async { ([("content-type", "application/json")], ANSWER) });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare: serving on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
