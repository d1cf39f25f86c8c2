//! What the commands that talk to a license server share: where it is, the token, the client.

use std::time::Duration;

use lifeline_api::Problem;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::failure::CliError;

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

/// `GET path` on the server: the answer as `T`, or its refusal ([`refused`] with `hint`).
pub(crate) fn get<T: DeserializeOwned>(
    remote: &Remote,
    path: &str,
    hint: fn(&str) -> Option<&'static str>,
) -> Result<T, CliError> {
    let url = remote.url(path);
    let response = agent(Duration::from_secs(30))
        .get(&url)
        .header("Authorization", &remote.bearer())
        .call();
    answer(&url, response, hint)
}

/// `POST path` (with a JSON body, or none) on the server.
pub(crate) fn post<T: DeserializeOwned>(
    remote: &Remote,
    path: &str,
    body: Option<&Value>,
    hint: fn(&str) -> Option<&'static str>,
) -> Result<T, CliError> {
    let url = remote.url(path);
    let request = agent(Duration::from_secs(30))
        .post(&url)
        .header("Authorization", &remote.bearer());
    let response = match body {
        Some(b) => request.send_json(b),
        None => request.send_empty(),
    };
    answer(&url, response, hint)
}

/// Reads a 2xx answer as `T`; anything else is [`refused`].
fn answer<T: DeserializeOwned>(
    url: &str,
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    hint: fn(&str) -> Option<&'static str>,
) -> Result<T, CliError> {
    let mut response = response
        .map_err(|e| CliError::new(format!("cannot reach {url}: {e}")).hint("check --server"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| CliError::new(format!("reading the answer of {url}: {e}")))?;
    if !(200..300).contains(&status) {
        return Err(refused(url, status, &text, hint));
    }
    serde_json::from_str(&text).map_err(|e| CliError::new(format!("{url}: unexpected answer: {e}")))
}

/// A server's refusal as an error: its problem's code and detail, and a hint (`hint`'s for
/// the command's own codes, else the usual one for a token refused).
pub(crate) fn refused(
    url: &str,
    status: u16,
    text: &str,
    hint: fn(&str) -> Option<&'static str>,
) -> CliError {
    let Ok(problem) = serde_json::from_str::<Problem>(text) else {
        return CliError::new(format!("{url}: HTTP {status}: {text}"));
    };
    let error = CliError::new(format!(
        "the server refused (HTTP {status}, {}): {}",
        problem.code, problem.detail
    ));
    match hint(&problem.code) {
        Some(h) => error.hint(h),
        None if problem.code == "unauthorized" => error.hint("check --token or $LIFELINE_TOKEN"),
        None => error,
    }
}
