//! A typed client for the server's API over `gloo-net`, using `lifeline-api`'s types.
//!
//! Every call carries the signed-in token. A 401 signs the console out with a notice, so an
//! expired or revoked token leads back to the sign-in page from wherever it happened.

use std::fmt;

use gloo_net::http::{Request, RequestBuilder, Response};
use lifeline_api::{
    AuditIntegrity, AuditPage, CreateOverride, DependencyMap, DrillRun, ExtendLicense,
    ForceReleaseSeat, Incident, IncidentDetail, IncidentNote, IncidentStatus, IssueLicense,
    License, LicensePage, LicenseSeats, LicenseState, OverrideRecord, OverrideStatus, Overview,
    Problem, Product, RevokeLicense, RevokeOverride, Seat, SessionInfo, SigningKeyInfo, StartDrill,
    StoredDrillReport,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::session::Auth;

/// Why an API call did not return what was asked.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// The token was refused (missing, wrong, expired or revoked).
    Unauthorized,
    /// The server answered with a problem document.
    Problem(Problem),
    /// The request did not complete (server down, network error).
    Network(String),
    /// The answer was not what the API promises.
    Decode(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("The API token was refused: sign in again."),
            Self::Problem(p) => write!(f, "{} ({}): {}", p.title, p.status, p.detail),
            Self::Network(e) => write!(f, "The server could not be reached: {e}"),
            Self::Decode(e) => write!(f, "The server's answer could not be read: {e}"),
        }
    }
}

/// Filters of the license list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LicenseQuery {
    /// Id prefix or licensee substring.
    pub search: String,
    /// Only this state.
    pub state: Option<LicenseState>,
    /// Only this product.
    pub product: Option<String>,
    /// Page size.
    pub limit: u32,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Only licenses using at least this percentage of their seats.
    pub seats_used_at_least: Option<u32>,
}

/// Filters of the audit log (newest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    /// Exact action, or a prefix ending in `.` (`license.`).
    pub action: String,
    /// Exact subject (license id, kid, ...).
    pub subject: String,
    /// Page size.
    pub limit: u32,
    /// From the previous page's `next_before`.
    pub before: Option<u64>,
}

/// Checks a token before signing in with it.
pub async fn session_for(token: &str) -> Result<SessionInfo, ApiError> {
    let response = Request::get("/api/v1/session")
        .header("Authorization", &format!("Bearer {token}"))
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if !response.ok() {
        return Err(problem(response).await);
    }
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    parse(&text)
}

/// `GET /api/v1/overview`.
pub async fn overview(auth: Auth) -> Result<Overview, ApiError> {
    get(auth, Request::get("/api/v1/overview")).await
}

/// `GET /api/v1/licenses` with filters.
pub async fn licenses(auth: Auth, q: &LicenseQuery) -> Result<LicensePage, ApiError> {
    let mut params = vec![("limit", q.limit.max(1).to_string())];
    if !q.search.trim().is_empty() {
        params.push(("q", q.search.trim().to_owned()));
    }
    if let Some(state) = q.state {
        params.push(("state", crate::format::license_state(state).to_owned()));
    }
    if let Some(product) = &q.product {
        params.push(("product", product.clone()));
    }
    if let Some(cursor) = &q.cursor {
        params.push(("cursor", cursor.clone()));
    }
    if let Some(pct) = q.seats_used_at_least {
        params.push(("seats_used_at_least", pct.to_string()));
    }
    get(auth, Request::get("/api/v1/licenses").query(params)).await
}

/// `GET /api/v1/licenses/{id}`.
pub async fn license(auth: Auth, id: &str) -> Result<License, ApiError> {
    get(
        auth,
        Request::get(&format!("/api/v1/licenses/{}", encode(id))),
    )
    .await
}

/// `POST /api/v1/licenses`.
pub async fn issue(auth: Auth, body: &IssueLicense) -> Result<License, ApiError> {
    post(auth, "/api/v1/licenses", body).await
}

/// `POST /api/v1/licenses/{id}/revoke`.
pub async fn revoke(auth: Auth, id: &str, reason: &str) -> Result<License, ApiError> {
    let body = RevokeLicense {
        reason: reason.to_owned(),
    };
    post(
        auth,
        &format!("/api/v1/licenses/{}/revoke", encode(id)),
        &body,
    )
    .await
}

/// `POST /api/v1/licenses/{id}/extend`.
pub async fn extend(auth: Auth, id: &str, body: &ExtendLicense) -> Result<License, ApiError> {
    post(
        auth,
        &format!("/api/v1/licenses/{}/extend", encode(id)),
        body,
    )
    .await
}

/// `GET /api/v1/licenses/{id}/seats` (operator).
pub async fn license_seats(auth: Auth, id: &str) -> Result<LicenseSeats, ApiError> {
    get(
        auth,
        Request::get(&format!("/api/v1/licenses/{}/seats", encode(id))),
    )
    .await
}

/// `POST /api/v1/seats/{id}/revoke` (operator): ends a seat on its machine's behalf.
pub async fn release_seat(auth: Auth, id: &str, reason: &str) -> Result<Seat, ApiError> {
    let body = ForceReleaseSeat {
        reason: reason.to_owned(),
    };
    post(auth, &format!("/api/v1/seats/{}/revoke", encode(id)), &body).await
}

/// `GET /api/v1/products`.
pub async fn products(auth: Auth) -> Result<Vec<Product>, ApiError> {
    get(auth, Request::get("/api/v1/products")).await
}

/// `GET /api/v1/keys`.
pub async fn keys(auth: Auth) -> Result<Vec<SigningKeyInfo>, ApiError> {
    get(auth, Request::get("/api/v1/keys")).await
}

/// `POST /api/v1/keys/rotate`.
pub async fn rotate(auth: Auth) -> Result<Vec<SigningKeyInfo>, ApiError> {
    post(auth, "/api/v1/keys/rotate", &serde_json::json!({})).await
}

/// Marks a signing key compromised (admin): the server rotates if needed, re-signs its
/// licenses, publishes its issued list; the answer is progress lines, then the report (or
/// why the recovery stopped). The report is read as plain JSON (`CompromiseReport`'s
/// fields): a typed decoder of the tagged lines would cost the `.wasm` more than it saves.
pub async fn compromise_key(
    auth: Auth,
    kid: &str,
    reason: &str,
    incident: &str,
) -> Result<serde_json::Value, ApiError> {
    let body = serde_json::json!({ "reason": reason, "incident": incident }).to_string();
    let path = format!("/api/v1/keys/{}/compromise", encode(kid));
    let text = send(auth, Request::post(&path), Some(body)).await?;
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let line: serde_json::Value =
        serde_json::from_str(last).map_err(|e| ApiError::Decode(e.to_string()))?;
    let text_of = |name: &str| line.get(name).and_then(|v| v.as_str()).unwrap_or_default();
    match text_of("kind") {
        "done" => Ok(line.clone()),
        "failed" => Err(ApiError::Decode(format!(
            "the recovery stopped ({}): {}; run it again to finish",
            text_of("code"),
            text_of("detail")
        ))),
        _ => Err(ApiError::Decode(
            "the answer ended without a result; the key list shows whether it was marked"
                .to_owned(),
        )),
    }
}

/// The public key set edge verifiers use (`/.well-known/lifeline/keys.json`), as text for
/// `lifeline_core::KeySet::from_jwks_json`. Bypasses the HTTP cache: right after a rotation
/// the console must see the new key.
pub async fn public_key_set() -> Result<String, ApiError> {
    let response = Request::get("/.well-known/lifeline/keys.json")
        .cache(web_sys::RequestCache::NoCache)
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if !response.ok() {
        return Err(problem(response).await);
    }
    response
        .text()
        .await
        .map_err(|e| ApiError::Decode(e.to_string()))
}

/// `GET /api/v1/overrides`, newest first, optionally of one status.
pub async fn overrides(
    auth: Auth,
    status: Option<OverrideStatus>,
) -> Result<Vec<OverrideRecord>, ApiError> {
    let mut params = vec![("limit", "500".to_owned())];
    if let Some(s) = status.and_then(|s| serde_json::to_value(s).ok()) {
        params.push(("status", s.as_str().unwrap_or_default().to_owned()));
    }
    get(auth, Request::get("/api/v1/overrides").query(params)).await
}

/// `POST /api/v1/overrides` (active at once up to 72 h, else pending a second admin).
pub async fn create_override(
    auth: Auth,
    body: &CreateOverride,
) -> Result<OverrideRecord, ApiError> {
    post(auth, "/api/v1/overrides", body).await
}

/// `POST /api/v1/overrides/{id}/approve`.
pub async fn approve_override(auth: Auth, id: &str) -> Result<OverrideRecord, ApiError> {
    post(
        auth,
        &format!("/api/v1/overrides/{}/approve", encode(id)),
        &serde_json::json!({}),
    )
    .await
}

/// `POST /api/v1/overrides/{id}/revoke`.
pub async fn revoke_override(
    auth: Auth,
    id: &str,
    reason: &str,
) -> Result<OverrideRecord, ApiError> {
    let body = RevokeOverride {
        reason: reason.to_owned(),
    };
    post(
        auth,
        &format!("/api/v1/overrides/{}/revoke", encode(id)),
        &body,
    )
    .await
}

/// `GET /api/v1/audit`, newest first.
pub async fn audit(auth: Auth, q: &AuditQuery) -> Result<AuditPage, ApiError> {
    let mut params = vec![
        ("order", "desc".to_owned()),
        ("limit", q.limit.max(1).to_string()),
    ];
    if !q.action.trim().is_empty() {
        params.push(("action", q.action.trim().to_owned()));
    }
    if !q.subject.trim().is_empty() {
        params.push(("subject", q.subject.trim().to_owned()));
    }
    if let Some(before) = q.before {
        params.push(("before", before.to_string()));
    }
    get(auth, Request::get("/api/v1/audit").query(params)).await
}

/// `GET /api/v1/audit/verify`.
pub async fn audit_integrity(auth: Auth) -> Result<AuditIntegrity, ApiError> {
    get(auth, Request::get("/api/v1/audit/verify")).await
}

/// Filters of the incident list (newest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IncidentQuery {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only this rule (exact name).
    pub rule: String,
    /// Only those opened at or after this time (unix seconds).
    pub since: Option<u64>,
    /// Page size.
    pub limit: u32,
}

/// `GET /api/v1/incidents` with filters.
pub async fn incidents(auth: Auth, q: &IncidentQuery) -> Result<Vec<Incident>, ApiError> {
    let mut params = vec![("limit", q.limit.clamp(1, 500).to_string())];
    if let Some(s) = q.status.and_then(|s| serde_json::to_value(s).ok()) {
        params.push(("status", s.as_str().unwrap_or_default().to_owned()));
    }
    if !q.rule.trim().is_empty() {
        params.push(("rule", q.rule.trim().to_owned()));
    }
    if let Some(since) = q.since {
        params.push(("since", since.to_string()));
    }
    get(auth, Request::get("/api/v1/incidents").query(params)).await
}

/// `GET /api/v1/incidents/{id}`: with its timeline.
pub async fn incident(auth: Auth, id: &str) -> Result<IncidentDetail, ApiError> {
    get(
        auth,
        Request::get(&format!("/api/v1/incidents/{}", encode(id))),
    )
    .await
}

/// `POST /api/v1/incidents/{id}/acknowledge` (operator).
pub async fn acknowledge_incident(auth: Auth, id: &str) -> Result<IncidentDetail, ApiError> {
    post(
        auth,
        &format!("/api/v1/incidents/{}/acknowledge", encode(id)),
        &serde_json::json!({}),
    )
    .await
}

/// `POST /api/v1/incidents/{id}/notes`, or with `resolve` `…/resolve` (the note says why)
/// (operator).
pub async fn note_incident(
    auth: Auth,
    id: &str,
    text: &str,
    resolve: bool,
) -> Result<IncidentDetail, ApiError> {
    let body = IncidentNote {
        text: text.to_owned(),
    };
    let action = if resolve { "resolve" } else { "notes" };
    post(
        auth,
        &format!("/api/v1/incidents/{}/{action}", encode(id)),
        &body,
    )
    .await
}

/// `GET /api/v1/map`: the dependency map.
pub async fn dependency_map(auth: Auth) -> Result<DependencyMap, ApiError> {
    get(auth, Request::get("/api/v1/map")).await
}

/// `GET /api/v1/drills`: stored drill reports, newest first, optionally of one drill only.
pub async fn drills(
    auth: Auth,
    name: Option<&str>,
    limit: u32,
) -> Result<Vec<StoredDrillReport>, ApiError> {
    let mut params = vec![("limit", limit.clamp(1, 200).to_string())];
    if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
        params.push(("name", name.to_owned()));
    }
    get(auth, Request::get("/api/v1/drills").query(params)).await
}

/// `GET /api/v1/drills/{id}`: one stored drill report.
pub async fn drill(auth: Auth, id: &str) -> Result<StoredDrillReport, ApiError> {
    get(
        auth,
        Request::get(&format!("/api/v1/drills/{}", encode(id))),
    )
    .await
}

async fn get<T: DeserializeOwned>(auth: Auth, request: RequestBuilder) -> Result<T, ApiError> {
    parse(&send(auth, request, None).await?)
}

async fn post<B: Serialize, T: DeserializeOwned>(
    auth: Auth,
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    let body = serde_json::to_string(body).map_err(|e| ApiError::Decode(e.to_string()))?;
    parse(&send(auth, Request::post(path), Some(body)).await?)
}

/// Sends an authenticated request (with a JSON body, if any); the body of a 2xx answer. Not
/// generic: one copy of the async machinery for every call (the console's `.wasm` size);
/// only [`parse`] is per type. A 401 signs out.
async fn send(
    auth: Auth,
    request: RequestBuilder,
    json: Option<String>,
) -> Result<String, ApiError> {
    let result = send_once(auth, request, json).await;
    if matches!(result, Err(ApiError::Unauthorized)) {
        auth.sign_out(Some(
            "Your session ended: the server no longer accepts that token. Sign in again.",
        ));
    }
    result
}

async fn send_once(
    auth: Auth,
    request: RequestBuilder,
    json: Option<String>,
) -> Result<String, ApiError> {
    let token = auth.token().ok_or(ApiError::Unauthorized)?;
    let request = request.header("Authorization", &format!("Bearer {token}"));
    let request = match json {
        Some(body) => request
            .header("Content-Type", "application/json")
            .body(body),
        None => request.build(),
    }
    .map_err(|e| ApiError::Decode(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if !response.ok() {
        return Err(problem(response).await);
    }
    response
        .text()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::Decode(e.to_string()))
}

async fn problem(response: Response) -> ApiError {
    let status = response.status();
    if status == 401 {
        return ApiError::Unauthorized;
    }
    match response.json::<Problem>().await {
        Ok(p) => ApiError::Problem(p),
        Err(_) => ApiError::Problem(Problem {
            type_: "about:blank".to_owned(),
            title: response.status_text(),
            status,
            detail: format!("the server answered {status}"),
            code: "http_error".to_owned(),
            field: None,
        }),
    }
}

/// Percent-encodes a path segment.
fn encode(segment: &str) -> String {
    js_sys::encode_uri_component(segment).into()
}

/// `POST /api/v1/drill-runs` (operator): run a drill on the server now.
pub async fn start_drill(auth: Auth, name: &str) -> Result<DrillRun, ApiError> {
    let body = StartDrill {
        name: name.to_owned(),
    };
    post(auth, "/api/v1/drill-runs", &body).await
}

/// `GET /api/v1/drill-runs`: the drills the server ran lately, newest first.
pub async fn drill_runs(auth: Auth) -> Result<Vec<DrillRun>, ApiError> {
    get(auth, Request::get("/api/v1/drill-runs")).await
}
