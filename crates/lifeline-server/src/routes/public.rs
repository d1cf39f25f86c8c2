//! Routes without authentication: health, the public key set and online validation (with
//! the active overrides applied).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lifeline_api::{ValidateRequest, ValidateResponse};
use lifeline_core::{LeaseTerms, Policy, UnixTime, lease_claims};
use serde_json::{Value, json};

use crate::AppState;
use crate::body::JsonBody;
use crate::problem::AppError;

/// How long a lease stays valid: a client that cached one may run offline this long.
pub const LEASE_TTL_SECS: u64 = 3600;

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store().ping().await?;
    let stall = state.store_write_stall();
    if stall > 0 {
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unwritable",
            format!(
                "this node's heartbeat could not be written for {stall} s beyond its interval: the store refuses writes"
            ),
        ));
    }
    Ok(Json(
        json!({ "status": "ready", "store": format!("{:?}", state.store().backend()).to_lowercase() }),
    ))
}

pub(crate) async fn keys(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let ring = state.keys().await?;
    let mut response = Json(ring.jwks(state.public_url())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::openapi::JWK_SET_MEDIA_TYPE),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

/// `GET /.well-known/lifeline/issued/{kid}`: the issued list of a compromised key, as
/// published (cacheable like the key set; 404 when the key has none).
pub(crate) async fn issued_list(
    State(state): State<AppState>,
    crate::ids::PathId(kid): crate::ids::PathId,
) -> Result<impl IntoResponse, AppError> {
    let ring = state.keys().await?;
    let list = ring.published_list(&kid).ok_or_else(|| {
        AppError::not_found(format!(
            "signing key {kid:?} has no issued list (it is not marked compromised)"
        ))
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/jwt"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        list.token.to_string(),
    ))
}

/// Refuses an anonymous `/metrics` or status-list request beyond its address's rate
/// (20 a second, 40 at once by default): their answers are cached, but the requests are not
/// free, and no one address should make a node busy with them.
pub(crate) async fn public_rate(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match state.public_limit().take(crate::limits::client_ip(&parts)) {
        Err(wait) => crate::limits::too_many(wait, "requests for metrics and the status list"),
        Ok(()) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
    }
}

/// Refuses a `validate` beyond the caller's rate (checked before the body is read), and
/// counts every `validate` answered with an error status (rate limit, bad body, store) in
/// the per-minute series; verdicts are counted by the handler.
pub(crate) async fn validate_rate(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let response = match state
        .validate_limit()
        .take(crate::limits::client_ip(&parts))
    {
        Err(wait) => crate::limits::too_many(wait, "validations"),
        Ok(()) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
    };
    if response.status().is_client_error() || response.status().is_server_error() {
        state.metrics().validation_error(crate::clock::now());
    }
    response
}

#[tracing::instrument(name = "validate", level = "debug", skip_all)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ValidateRequest>,
) -> Result<Response, AppError> {
    let mut pending = Abandoned {
        state: state.clone(),
        started: std::time::Instant::now(),
        answered: false,
    };
    let answer = answer(state, req).await;
    pending.answered = true;
    answer
}

/// Counts a `validate` whose client went away before the answer (its future dropped): its
/// time so far joins the latency figures, so a stalled node shows in the p99 even when
/// every client gives up on it.
struct Abandoned {
    state: AppState,
    started: std::time::Instant,
    answered: bool,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if !self.answered {
            self.state.metrics().validation(
                crate::clock::now(),
                "abandoned",
                None,
                self.started.elapsed().as_secs_f64(),
            );
        }
    }
}

/// This node's verdict on a license token at `at`: authenticated (the keys re-read once when
/// its key is unknown: another node may have rotated), evaluated by the core, with the
/// store's revocation and the active overrides applied. `validate` answers with it; the seat
/// routes judge the license a machine presents with it.
pub(crate) struct Judged {
    pub(crate) verdict: lifeline_core::Verdict,
    /// The override tokens that cover the license (never for a revoked one).
    pub(crate) overrides: Vec<String>,
    pub(crate) revoked: bool,
    /// The key ring the token was checked against.
    pub(crate) ring: std::sync::Arc<crate::keys::KeyRing>,
}

pub(crate) async fn judge(
    state: &AppState,
    token: &[u8],
    at: UnixTime,
) -> Result<Judged, AppError> {
    let hot = state.hot();
    let mut ring = state.keys().await?;
    let mut signed = hot.authenticate(token, &ring.set);
    if matches!(signed, Err(lifeline_core::VerifyError::UnknownKey { .. })) {
        // Another node may have rotated since this one last read the keys.
        ring = state.reload_keys().await?;
        signed = hot.authenticate(token, &ring.set);
    }
    let mut verdict = match &signed {
        Ok(license) => license.evaluate(&ring.set, &Policy::new(), at),
        Err(error) => lifeline_core::Verdict::from_error(error.clone()),
    };
    let revocation = match verdict.claims() {
        Some(claims) => hot.revocation(state.store(), claims.jti()).await?,
        None => None,
    };
    // Active overrides covering the license, applied by the core: never to a revoked license
    // (nor handed out with one), so the revocation below always wins.
    let mut overrides = Vec::new();
    if revocation.is_none()
        && let Some(claims) = verdict.claims()
    {
        let active = state.active_overrides().await?;
        let covering = active.covering(claims, at);
        overrides = covering.iter().map(|a| a.token.clone()).collect();
        verdict = verdict.with_overrides(covering.iter().map(|a| &a.verified), at);
    }
    // What the store knows and the token cannot say: the core writes the refusal.
    if let Some((at, why)) = &revocation {
        verdict = verdict.revoked(UnixTime::from_secs(*at), why);
    }
    Ok(Judged {
        verdict,
        overrides,
        revoked: revocation.is_some(),
        ring,
    })
}

async fn answer(state: AppState, req: ValidateRequest) -> Result<Response, AppError> {
    if req.token.len() > lifeline_core::MAX_TOKEN_BYTES + 1024 {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "token_too_large",
            "the token is larger than 64 KiB",
        ));
    }
    if req.instance.as_ref().is_some_and(|i| i.len() > 256) {
        return Err(AppError::invalid("instance must be at most 256 characters"));
    }
    let started = std::time::Instant::now();
    // A drill's hanging node (`--danger-fault-injection` only): slow inside the measured span,
    // as a real stall would be.
    if let Some(delay) = state.injected_validate_delay() {
        tokio::time::sleep(delay).await;
    }
    let now = crate::clock::now();
    let at = UnixTime::from_secs(now);
    let hot = state.hot();
    let token = req.token.as_bytes();
    let Judged {
        verdict,
        overrides,
        revoked,
        ring,
    } = judge(&state, token, at).await?;
    // A newer version in the store (extended, re-keyed): the answer carries it.
    let newer = match verdict.claims() {
        Some(claims) if !revoked => {
            let stored = hot.version(state.store(), claims.jti()).await?;
            (stored > claims.version()).then_some(stored)
        }
        _ => None,
    };
    let state_name = verdict.state().as_str();
    let reason = verdict.reason().map(|r| r.as_str());
    let override_id = verdict.applied_override().map(|o| o.id.clone());
    let summary = format!("{state_name}/{reason:?}/{override_id:?}/{newer:?}");
    let instance = req.instance.as_deref();
    let record = |state: &AppState| {
        state
            .metrics()
            .validation(now, state_name, reason, started.elapsed().as_secs_f64());
    };
    // The same answer for the same token and instance within a second: the bytes already sent.
    let key = hot.answer_key(token, instance);
    if verdict.claims().is_some()
        && let Some(cached) = hot.reusable_answer(&key, &summary)
    {
        record(&state);
        return Ok(json_answer(cached));
    }
    let verdict_json = serde_json::to_value(&verdict).unwrap_or(Value::Null);
    // Every answer about an authentic license carries a lease signed by this node: permission
    // when usable, a signed refusal otherwise. Clients trust nothing else, so a forged or
    // garbled answer is a node failure to them, never a refusal.
    let terms = LeaseTerms {
        issuer: crate::licenses::ISSUER,
        instance,
        now: at,
        ttl_secs: LEASE_TTL_SECS,
        seq: lease_seq(),
    };
    let (lease, lease_expires_at) = match lease_claims(&verdict, &terms) {
        Some((claims, exp)) => match ring.active.sign_lease(&claims) {
            Ok(lease) => (Some(lease), Some(exp.as_secs())),
            Err(e) => {
                tracing::error!(error = %e, "signing a lease");
                state.metrics().publish_failure(now, "lease");
                (None, None)
            }
        },
        None => (None, None),
    };
    let signed = lease.is_some();
    let license = match (newer, verdict.claims()) {
        (Some(_), Some(claims)) => current_token(&state, claims.jti()).await?,
        _ => None,
    };
    let body = serde_json::to_string(&ValidateResponse {
        verdict: verdict_json,
        revoked,
        lease,
        lease_expires_at,
        overrides,
        license,
    })
    .map_err(|e| AppError::internal(format!("cannot encode the answer: {e}")))?;
    if signed {
        hot.remember_answer(key, summary, body.clone());
    }
    record(&state);
    Ok(json_answer(body))
}

/// The stored token of license `id` (read once per client holding an older version).
pub(crate) async fn current_token(state: &AppState, id: &str) -> Result<Option<String>, AppError> {
    use sqlx::Row as _;
    let row = sqlx::query("SELECT token FROM licenses WHERE id = $1")
        .bind(id)
        .fetch_optional(state.store().pool())
        .await
        .map_err(crate::store::StoreError::from)?;
    Ok(row
        .map(|r| r.try_get::<String, _>("token"))
        .transpose()
        .map_err(crate::store::StoreError::from)?)
}

fn json_answer(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A lease's sequence: this node's clock in milliseconds, never lower than the last one it
/// gave (clients refuse an answer older than one they have seen).
pub(crate) fn lease_seq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let ms = crate::clock::now_ms();
    let prev = LAST.fetch_max(ms, Ordering::Relaxed);
    prev.max(ms)
}

/// How long a status list may be cached (`ttl` claim and `Cache-Control`).
pub const STATUS_LIST_TTL_SECS: u64 = 300;

/// `GET /api/v1/status-list`: the revocation bitstring as a signed Token Status List
/// (`typ` `statuslist+jwt`; one bit per license, 1 = revoked, zlib-compressed, base64url).
pub(crate) async fn status_list(
    State(state): State<AppState>,
) -> Result<impl IntoResponse, AppError> {
    let jwt = state
        .hot()
        .status_list(|| async { build_status_list(&state).await.map(Arc::new) })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/statuslist+jwt"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        jwt.as_str().to_owned(),
    ))
}

/// Reads the revoked licenses' indexes and signs the list (a scan of the revoked licenses:
/// done at most once a second per node, see `HotPath::status_list`).
async fn build_status_list(state: &AppState) -> Result<String, AppError> {
    use std::io::Write as _;

    use base64::Engine as _;
    use sqlx::Row as _;

    let pool = state.store().pool();
    let size: i64 = sqlx::query("SELECT next FROM status_counter WHERE id = 1")
        .fetch_one(pool)
        .await
        .and_then(|r| r.try_get("next"))
        .map_err(crate::store::StoreError::from)?;
    let revoked = sqlx::query(
        "SELECT status_idx FROM licenses WHERE revoked_at IS NOT NULL AND status_idx IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .map_err(crate::store::StoreError::from)?;
    let mut bits = vec![0u8; usize::try_from(size).unwrap_or(0).div_ceil(8).max(1)];
    for row in &revoked {
        let idx: i64 = row
            .try_get("status_idx")
            .map_err(crate::store::StoreError::from)?;
        let idx = usize::try_from(idx).unwrap_or(usize::MAX);
        if let Some(byte) = bits.get_mut(idx / 8) {
            *byte |= 1 << (idx % 8);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&bits)
        .and_then(|()| z.flush())
        .map_err(|e| AppError::internal(format!("compression: {e}")))?;
    let compressed = z
        .finish()
        .map_err(|e| AppError::internal(format!("compression: {e}")))?;
    let ring = state.keys().await?;
    let now = crate::clock::now();
    let header = json!({ "alg": "EdDSA", "typ": "statuslist+jwt", "kid": ring.active.kid() });
    let payload = json!({
        "iss": crate::licenses::ISSUER,
        "sub": state.status_list_uri(),
        "iat": now,
        "exp": now + STATUS_LIST_TTL_SECS,
        "ttl": STATUS_LIST_TTL_SECS,
        "status_list": { "bits": 1, "lst": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed) },
    });
    Ok(ring.active.sign_jws(
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
    ))
}
