//! What the commands that talk to a license server share: where it is, the token, the client.

use std::time::Duration;

/// `--server` and `--token` (or `$LIFELINE_TOKEN`).
#[derive(Debug, clap::Args)]
pub(crate) struct Remote {
    /// The license server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub(crate) server: String,
    /// API token (default: $LIFELINE_TOKEN).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "LIFELINE_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: String,
}

impl Remote {
    /// `server` + `path`, without a doubled slash.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }

    /// The `Authorization` header value.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// An HTTP client that returns 4xx/5xx answers instead of failing on them.
pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}
