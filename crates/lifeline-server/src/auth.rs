//! API tokens: bearer secrets stored only as SHA-256 hashes, compared in constant time, each
//! with a role. Every admin route names the role it needs; no token means no access.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lifeline_api::{ApiTokenCreated, Role};
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::problem::AppError;
use crate::store::{Store, StoreError};

/// Prefix of every token secret, so leaked secrets are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "ll_";

/// A fresh random token secret.
pub(crate) fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// What the store keeps of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// Token id.
    pub(crate) id: String,
    /// Token name.
    pub(crate) name: String,
    /// Its role.
    pub(crate) role: Role,
    /// When it expires, if it does.
    pub(crate) expires_at: Option<u64>,
    /// The person who holds it.
    pub(crate) principal: String,
}

impl Caller {
    /// How the audit log names this caller.
    pub(crate) fn actor(&self) -> String {
        format!("token:{} ({})", self.id, self.name)
    }

    /// Refuses the request unless the caller has at least `role`.
    pub(crate) fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AppError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {} role; the token has {}",
                    role.as_str(),
                    self.role.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let ip = crate::limits::client_ip(parts);
        // A failure is 401, or 429 once this address or this token has failed too often.
        // The check comes after the lookup: a valid token is never refused because others
        // (behind the same address, say) failed.
        let refuse = |presented: &str, detail: &str| {
            if state.note_failed_auth(ip, presented) {
                AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
            } else {
                AppError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many failed authentications from this address or with this token; wait a minute",
                )
            }
        };
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| refuse("", "send an API token: Authorization: Bearer ll_..."))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|v| {
                // The scheme name is case-insensitive (RFC 9110 §11.1).
                let (scheme, secret) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(secret)
            })
            .map(str::trim)
            .ok_or_else(|| refuse("", "the Authorization header must be `Bearer <token>`"))?;
        match lookup(state.store(), secret).await? {
            Some(caller) => Ok(caller),
            None => Err(refuse(secret, "the token is unknown, expired or revoked")),
        }
    }
}

/// A caller with at least the admin role. Handlers that take a body name their role this way
/// (not with [`Caller::require`] inside): extractors run in order and the body is read last,
/// so an unauthenticated or under-privileged request is refused before a byte of its body is
/// read or buffered.
#[derive(Clone, Debug)]
pub(crate) struct Admin(pub(crate) Caller);

/// A caller with at least the operator role (see [`Admin`]).
#[derive(Clone, Debug)]
pub(crate) struct Operator(pub(crate) Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Admin)?;
        Ok(Self(caller))
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Operator)?;
        Ok(Self(caller))
    }
}

async fn lookup(store: &Store, secret: &str) -> Result<Option<Caller>, StoreError> {
    let hash = hash_secret(secret);
    let row = sqlx::query("SELECT id, name, role, token_hash, expires_at, revoked_at, principal FROM api_tokens WHERE token_hash = $1")
        .bind(&hash)
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.try_get("token_hash")?;
    if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
        return Ok(None);
    }
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    if revoked_at.is_some() || expires_at.is_some_and(|t| t <= crate::clock::now_i64()) {
        return Ok(None);
    }
    let role = match row.try_get::<String, _>("role")?.as_str() {
        "admin" => Role::Admin,
        "operator" => Role::Operator,
        _ => Role::Viewer,
    };
    Ok(Some(Caller {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role,
        expires_at: expires_at.and_then(|t| u64::try_from(t).ok()),
        principal: row
            .try_get::<Option<String>, _>("principal")?
            .unwrap_or_default(),
    }))
}

/// Creates an API token for a person of its own (its principal is `token:ID`) and audits
/// it; the secret is returned once. Tokens minted through the API use [`mint_token`].
pub async fn create_token(
    store: &Store,
    actor: &str,
    name: &str,
    role: Role,
    expires_at: Option<u64>,
) -> Result<ApiTokenCreated, StoreError> {
    let secret = new_secret()?;
    let spec = NewToken {
        name,
        role,
        expires_at,
        principal: None,
        minted_by: None,
    };
    insert_token(store, actor, &spec, &secret).await
}

/// A token to insert.
pub(crate) struct NewToken<'a> {
    pub(crate) name: &'a str,
    pub(crate) role: Role,
    pub(crate) expires_at: Option<u64>,
    /// The person; `None`: a person of its own (`token:ID`).
    pub(crate) principal: Option<&'a str>,
    /// The token that minted it.
    pub(crate) minted_by: Option<&'a str>,
}

/// Mints a token through the API: for the minter's own person unless another is named.
pub(crate) async fn mint_token(
    store: &Store,
    minter: &Caller,
    name: &str,
    role: Role,
    expires_at: Option<u64>,
    principal: Option<&str>,
) -> Result<ApiTokenCreated, StoreError> {
    let secret = new_secret()?;
    let spec = NewToken {
        name,
        role,
        expires_at,
        principal: Some(principal.unwrap_or(&minter.principal)),
        minted_by: Some(&minter.id),
    };
    insert_token(store, &minter.actor(), &spec, &secret).await
}

pub(crate) async fn insert_token(
    store: &Store,
    actor: &str,
    spec: &NewToken<'_>,
    secret: &str,
) -> Result<ApiTokenCreated, StoreError> {
    let NewToken {
        name,
        role,
        expires_at,
        ..
    } = *spec;
    let id = crate::ids::new_id()?;
    let principal = spec
        .principal
        .map_or_else(|| format!("token:{id}"), str::to_owned);
    let mut w = store.write().await?;
    sqlx::query("INSERT INTO api_tokens (id, name, role, token_hash, created_at, expires_at, principal, minted_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&id)
        .bind(name)
        .bind(role.as_str())
        .bind(hash_secret(secret))
        .bind(crate::clock::now_i64())
        .bind(expires_at.map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
        .bind(&principal)
        .bind(spec.minted_by)
        .execute(&mut *w.tx)
        .await?;
    // The audit log names the token, never its secret.
    let after = serde_json::json!({
        "id": id, "name": name, "role": role, "expires_at": expires_at,
        "principal": principal, "minted_by": spec.minted_by,
    });
    w.audit(actor, "token.created", &id, None, Some(&after))
        .await?;
    w.commit().await?;
    Ok(ApiTokenCreated {
        id,
        name: name.to_owned(),
        role,
        token: secret.to_owned(),
        expires_at,
        principal,
    })
}
