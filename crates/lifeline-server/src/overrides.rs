//! Temporary overrides kept by the server ("never lock users out"): an operator creates one
//! during an incident; the server signs it with its active key (a `lifeline-override+jwt`
//! token, as `lifeline-core` verifies it), `validate` applies it, and the public bundle hands
//! it to edges and clients.
//!
//! ```text
//! POST /overrides ─check─▶ ends within 72 h: sign → row + override.created → active (201)
//!                          later (≤ 30 days): row, no token + override.created → pending (202)
//! POST /overrides/{id}/approve (admin, another API token) ─sign (iat = now)─▶ active
//! POST /overrides/{id}/revoke ─▶ revoked (no longer applied nor published)
//! ```
//!
//! Every change and its audit event commit in one transaction; the events name the override
//! by id and never contain its token. A token already handed out (in a `validate` answer or a
//! bundle) verifies offline until its own `exp`, revoked or not: keep overrides short.

use axum::http::StatusCode;
use lifeline_api::{CreateOverride, OverrideEffect, OverrideRecord, OverrideScope, OverrideStatus};
use lifeline_core::{Claims, KeySet, Override, UnixTime, VerifyError};
use serde_json::{Map, Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::Caller;
use crate::keys::KeyRing;
use crate::problem::AppError;
use crate::store::{Bind, Filter, Store, StoreError, WriteTx};

/// An override ending at most this long after its creation is signed at once; a longer one
/// waits for a second admin's approval (72 hours).
pub const MAX_UNAPPROVED_OVERRIDE_SECS: u64 = 72 * 3600;
/// No override may end later than this after its creation (30 days).
pub const MAX_OVERRIDE_SECS: u64 = lifeline_core::MAX_OVERRIDE_LIFETIME_SECS;
/// How long a signed override bundle is fresh (its `exp` is its `iat` plus this).
pub const OVERRIDE_BUNDLE_TTL_SECS: u64 = 300;
/// The media type of `GET /api/v1/overrides/bundle` (after the token's `typ`, as the status
/// list's `application/statuslist+jwt`).
pub const OVERRIDE_BUNDLE_MEDIA_TYPE: &str = "application/lifeline-override-bundle+jwt";

/// The longest `reason`, `incident` or revocation reason, in characters.
const MAX_TEXT_CHARS: usize = 1024;
/// The longest scope value (a license id, licensee or product), in characters.
const MAX_SCOPE_CHARS: usize = 256;

const COLUMNS: &str = "id, token, scope_type, scope_value, effect_json, reason, incident, \
                       created_at, created_by, created_by_token, expires_at, approved_by, revoked_at";

fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unprocessable(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

/// Where an override stands at `now`.
fn status_at(signed: bool, revoked: bool, expires_at: u64, now: u64) -> OverrideStatus {
    if revoked {
        OverrideStatus::Revoked
    } else if now >= expires_at {
        OverrideStatus::Expired
    } else if signed {
        OverrideStatus::Active
    } else {
        OverrideStatus::PendingApproval
    }
}

/// Each status in SQL, every `?` being now (agrees with [`status_at`]).
fn status_sql(status: OverrideStatus) -> &'static str {
    match status {
        OverrideStatus::Active => "token IS NOT NULL AND revoked_at IS NULL AND expires_at > ?",
        OverrideStatus::PendingApproval => {
            "token IS NULL AND revoked_at IS NULL AND expires_at > ?"
        }
        OverrideStatus::Expired => "revoked_at IS NULL AND expires_at <= ?",
        OverrideStatus::Revoked => "revoked_at IS NOT NULL",
    }
}

fn scope_columns(scope: &OverrideScope) -> (&'static str, Option<&str>) {
    match scope {
        OverrideScope::License(v) => ("license", Some(v)),
        OverrideScope::Licensee(v) => ("licensee", Some(v)),
        OverrideScope::Product(v) => ("product", Some(v)),
        OverrideScope::All => ("all", None),
    }
}

fn scope_from(kind: &str, value: Option<String>) -> Result<OverrideScope, StoreError> {
    match (kind, value) {
        ("all", _) => Ok(OverrideScope::All),
        ("license", Some(v)) => Ok(OverrideScope::License(v)),
        ("licensee", Some(v)) => Ok(OverrideScope::Licensee(v)),
        ("product", Some(v)) => Ok(OverrideScope::Product(v)),
        (kind, _) => Err(StoreError::corrupt(
            "an override's scope",
            format!("{kind:?} without a value"),
        )),
    }
}

/// A row: the record, and the API token that created it (for the two-person rule).
struct Stored {
    record: OverrideRecord,
    created_by_token: String,
}

fn from_row(row: &AnyRow, now: u64) -> Result<Stored, StoreError> {
    let token: Option<String> = row.try_get("token")?;
    let revoked_at = row.try_get::<Option<i64>, _>("revoked_at")?.map(secs);
    let expires_at = secs(row.try_get("expires_at")?);
    let effect: String = row.try_get("effect_json")?;
    let effect: OverrideEffect = serde_json::from_str(&effect)
        .map_err(|e| StoreError::corrupt("an override's effect", e))?;
    let kind: String = row.try_get("scope_type")?;
    let record = OverrideRecord {
        id: row.try_get("id")?,
        scope: scope_from(&kind, row.try_get("scope_value")?)?,
        effect,
        reason: row.try_get("reason")?,
        incident: row.try_get("incident")?,
        created_at: secs(row.try_get("created_at")?),
        created_by: row.try_get("created_by")?,
        expires_at,
        approved_by: row.try_get("approved_by")?,
        revoked_at,
        status: status_at(token.is_some(), revoked_at.is_some(), expires_at, now),
        token,
    };
    Ok(Stored {
        record,
        created_by_token: row.try_get("created_by_token")?,
    })
}

fn text_ok(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= MAX_TEXT_CHARS
}

/// Checks a request before anything is signed or stored; every refusal is a 422 with its
/// own code: `invalid_reason`, `invalid_incident`, `expiry_in_past`, `expiry_too_far`,
/// `invalid_scope`, `invalid_effect`.
pub fn check(req: &CreateOverride, now: u64) -> Result<(), AppError> {
    if !text_ok(&req.reason) {
        return Err(unprocessable(
            "invalid_reason",
            format!("reason must be 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    if !text_ok(&req.incident) {
        return Err(unprocessable(
            "invalid_incident",
            format!("incident must be 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    if req.expires_at <= now {
        return Err(unprocessable(
            "expiry_in_past",
            format!(
                "expires_at {} is not in the future (now is {now})",
                req.expires_at
            ),
        ));
    }
    let latest = now.saturating_add(MAX_OVERRIDE_SECS);
    if req.expires_at > latest {
        return Err(unprocessable(
            "expiry_too_far",
            format!(
                "expires_at {} is more than 30 days ahead (at most {latest})",
                req.expires_at
            ),
        ));
    }
    if let (_, Some(value)) = scope_columns(&req.scope)
        && (value.trim().is_empty() || value.chars().count() > MAX_SCOPE_CHARS)
    {
        return Err(unprocessable(
            "invalid_scope",
            format!("the scope's value must be 1 to {MAX_SCOPE_CHARS} characters"),
        ));
    }
    match &req.effect {
        OverrideEffect::Entitlements { add }
            if add.is_empty()
                || add.len() > 256
                || add.iter().any(|e| e.trim().is_empty() || e.len() > 128) =>
        {
            Err(unprocessable(
                "invalid_effect",
                "entitlements to add: 1 to 256, each 1 to 128 characters",
            ))
        }
        OverrideEffect::ExtendGrace { secs: 0 } => Err(unprocessable(
            "invalid_effect",
            "extend_grace needs secs > 0",
        )),
        _ => Ok(()),
    }
}

/// Signs `r` as an override token with the ring's active key (`iat` = `nbf` = `now`).
fn sign(
    keys: &KeyRing,
    issuer: &str,
    now: u64,
    r: &OverrideRecord,
    approved_by: Option<&str>,
) -> Result<String, AppError> {
    let mut claims = Map::new();
    for (name, value) in [
        ("iss", json!(issuer)),
        ("jti", json!(r.id)),
        ("iat", json!(now)),
        ("nbf", json!(now)),
        ("exp", json!(r.expires_at)),
        ("scope", json!(r.scope)),
        ("effect", json!(r.effect)),
        ("reason", json!(r.reason)),
        ("incident", json!(r.incident)),
    ] {
        claims.insert(name.into(), value);
    }
    if let Some(who) = approved_by {
        claims.insert("approved_by".into(), who.into());
    }
    keys.active
        .sign_override(&claims)
        .map_err(|e| unprocessable("invalid_override", e.to_string()))
}

/// What the audit log keeps of an override: everything but its token.
fn summary(r: &OverrideRecord, keys: Option<&KeyRing>) -> Value {
    let mut v = json!({
        "scope": r.scope, "effect": r.effect, "expires_at": r.expires_at,
        "reason": r.reason, "incident": r.incident, "status": r.status,
    });
    if let (Some(keys), Value::Object(map)) = (keys, &mut v) {
        map.insert("kid".into(), keys.active.kid().into());
    }
    v
}

/// Creates an override: signed at once when it ends within [`MAX_UNAPPROVED_OVERRIDE_SECS`]
/// (status `active`), else stored unsigned (`pending_approval`).
pub(crate) async fn create(
    store: &Store,
    keys: &KeyRing,
    issuer: &str,
    caller: &Caller,
    req: &CreateOverride,
    now: u64,
) -> Result<OverrideRecord, AppError> {
    check(req, now)?;
    let immediate = req.expires_at.saturating_sub(now) <= MAX_UNAPPROVED_OVERRIDE_SECS;
    let mut record = OverrideRecord {
        id: format!("ovr-{}", crate::ids::new_id()?),
        scope: req.scope.clone(),
        effect: req.effect.clone(),
        reason: req.reason.trim().to_owned(),
        incident: req.incident.trim().to_owned(),
        created_at: now,
        created_by: caller.actor(),
        expires_at: req.expires_at,
        approved_by: None,
        revoked_at: None,
        status: OverrideStatus::PendingApproval,
        token: None,
    };
    if immediate {
        record.token = Some(sign(keys, issuer, now, &record, None)?);
        record.status = OverrideStatus::Active;
    }
    let (scope_type, scope_value) = scope_columns(&record.scope);
    let effect = serde_json::to_string(&record.effect).map_err(|source| StoreError::Encode {
        what: "an override's effect",
        source,
    })?;
    let mut w = store.write().await?;
    sqlx::query(
        "INSERT INTO overrides (id, token, scope_type, scope_value, effect_json, reason, incident, \
         created_at, created_by, created_by_token, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&record.id)
    .bind(record.token.clone())
    .bind(scope_type)
    .bind(scope_value.map(str::to_owned))
    .bind(effect)
    .bind(&record.reason)
    .bind(&record.incident)
    .bind(db(now))
    .bind(&record.created_by)
    .bind(&caller.id)
    .bind(db(record.expires_at))
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?;
    let after = summary(&record, immediate.then_some(keys));
    w.audit(
        &record.created_by,
        "override.created",
        &record.id,
        None,
        Some(&after),
    )
    .await?;
    if immediate {
        issued(&mut w, &record, now).await?;
    }
    w.commit().await?;
    Ok(record)
}

/// The `override.issued` webhook message (the override is active from now on), in `w`.
async fn issued(w: &mut WriteTx, r: &OverrideRecord, now: u64) -> Result<(), StoreError> {
    let mut data = summary(r, None);
    if let Value::Object(map) = &mut data {
        map.insert("id".into(), r.id.clone().into());
        map.insert("created_by".into(), r.created_by.clone().into());
        map.insert("approved_by".into(), json!(r.approved_by));
    }
    crate::webhooks::enqueue(
        w,
        lifeline_api::WebhookEventType::OverrideIssued,
        &data,
        now,
    )
    .await
}

async fn fetch(w: &mut WriteTx, id: &str, now: u64) -> Result<Stored, AppError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM overrides WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::not_found(format!("no override {id:?}")))?;
    Ok(from_row(&row, now)?)
}

fn status_name(s: OverrideStatus) -> &'static str {
    match s {
        OverrideStatus::Active => "active",
        OverrideStatus::PendingApproval => "pending_approval",
        OverrideStatus::Expired => "expired",
        OverrideStatus::Revoked => "revoked",
    }
}

/// Approves a pending override: signs it (`iat` = now, `approved_by` = the approver). The
/// approver must be another person than the creator, not merely another token of theirs
/// (403 `same_person`: the tokens' principals are compared); an override that is
/// not pending is a conflict (409).
pub(crate) async fn approve(
    store: &Store,
    keys: &KeyRing,
    issuer: &str,
    caller: &Caller,
    id: &str,
    now: u64,
) -> Result<OverrideRecord, AppError> {
    let mut w = store.write().await?;
    let Stored {
        record,
        created_by_token,
    } = fetch(&mut w, id, now).await?;
    if record.status != OverrideStatus::PendingApproval {
        return Err(AppError::conflict(format!(
            "override {id:?} is {}, not pending approval",
            status_name(record.status)
        )));
    }
    // Another person, not merely another token: a token minted by the creator for
    // themselves shares the creator's principal.
    let creator: Option<String> = sqlx::query("SELECT principal FROM api_tokens WHERE id = $1")
        .bind(&created_by_token)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(StoreError::from)?
        .map(|row| row.try_get::<Option<String>, _>("principal"))
        .transpose()
        .map_err(StoreError::from)?
        .flatten();
    if created_by_token == caller.id || creator.as_deref() == Some(caller.principal.as_str()) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "same_person",
            "an override is approved by another person than the one who created it (a token the creator minted for themselves is still the creator)",
        ));
    }
    let approver = caller.actor();
    let token = sign(keys, issuer, now, &record, Some(&approver))?;
    sqlx::query(
        "UPDATE overrides SET token = $1, approved_by = $2, approved_at = $3 WHERE id = $4",
    )
    .bind(&token)
    .bind(&approver)
    .bind(db(now))
    .bind(id)
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?;
    let after = OverrideRecord {
        approved_by: Some(approver.clone()),
        status: OverrideStatus::Active,
        token: Some(token),
        ..record
    };
    w.audit(
        &approver,
        "override.approved",
        id,
        Some(&json!({ "status": "pending_approval" })),
        Some(&json!({ "status": "active", "approved_by": approver, "kid": keys.active.kid() })),
    )
    .await?;
    issued(&mut w, &after, now).await?;
    w.commit().await?;
    Ok(after)
}

/// Revokes a pending or active override; one already revoked or expired is a conflict (409).
pub(crate) async fn revoke(
    store: &Store,
    caller: &Caller,
    id: &str,
    reason: &str,
    now: u64,
) -> Result<OverrideRecord, AppError> {
    if !text_ok(reason) {
        return Err(unprocessable(
            "invalid_reason",
            format!("reason must be 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    let reason = reason.trim();
    let mut w = store.write().await?;
    let Stored { record, .. } = fetch(&mut w, id, now).await?;
    if matches!(
        record.status,
        OverrideStatus::Revoked | OverrideStatus::Expired
    ) {
        return Err(AppError::conflict(format!(
            "override {id:?} is already {}",
            status_name(record.status)
        )));
    }
    let actor = caller.actor();
    sqlx::query(
        "UPDATE overrides SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4",
    )
    .bind(db(now))
    .bind(&actor)
    .bind(reason)
    .bind(id)
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?;
    let before = record.status;
    let after = OverrideRecord {
        revoked_at: Some(now),
        status: OverrideStatus::Revoked,
        ..record
    };
    w.audit(
        &actor,
        "override.revoked",
        id,
        Some(&json!({ "status": before })),
        Some(&json!({ "status": "revoked", "revoked_at": now, "reason": reason })),
    )
    .await?;
    w.commit().await?;
    Ok(after)
}

/// One override by id.
pub(crate) async fn get(
    store: &Store,
    id: &str,
    now: u64,
) -> Result<Option<OverrideRecord>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM overrides WHERE id = $1"))
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| from_row(&r, now).map(|s| s.record)).transpose()
}

/// Overrides, newest first, optionally only those in one status; at most `limit`.
pub(crate) async fn list(
    store: &Store,
    status: Option<OverrideStatus>,
    limit: u32,
    now: u64,
) -> Result<Vec<OverrideRecord>, StoreError> {
    let mut f = Filter::default();
    if let Some(status) = status {
        f.add(status_sql(status), Bind::Int(db(now)));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM overrides {} ORDER BY created_at DESC, id DESC LIMIT {limit}",
        f.where_clause()
    );
    let rows = f
        .bind_all(sqlx::query(&sql))
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|r| from_row(r, now).map(|s| s.record))
        .collect()
}

/// An active override: its token and what the core read from it.
#[derive(Debug)]
pub(crate) struct Active {
    /// The signed token, as handed out.
    pub(crate) token: String,
    /// The token, verified against the key ring.
    pub(crate) verified: Override,
}

/// The active overrides, each verified with the core against the key ring (a node caches
/// them; see `AppState::active_overrides`).
#[derive(Debug, Default)]
pub(crate) struct ActiveOverrides {
    items: Vec<Active>,
}

impl ActiveOverrides {
    /// The scopes of those that can keep a license past its expiry usable (effect `valid`
    /// or `extend_grace`) and have not ended at `now`.
    pub(crate) fn rescuing_scopes(&self, now: UnixTime) -> Vec<&lifeline_core::Scope> {
        self.items
            .iter()
            .filter(|a| {
                now < a.verified.expires_at
                    && !matches!(
                        a.verified.effect,
                        lifeline_core::Effect::Entitlements { .. }
                    )
            })
            .map(|a| &a.verified.scope)
            .collect()
    }

    /// Those that cover a license with these claims and have not ended at `now`.
    pub(crate) fn covering(&self, claims: &Claims, now: UnixTime) -> Vec<&Active> {
        self.items
            .iter()
            .filter(|a| now < a.verified.expires_at && a.verified.scope.covers(claims))
            .collect()
    }

    /// The tokens of those that have not ended at `now`.
    pub(crate) fn tokens(&self, now: UnixTime) -> Vec<String> {
        self.items
            .iter()
            .filter(|a| now < a.verified.expires_at)
            .map(|a| a.token.clone())
            .collect()
    }
}

/// Reads the active overrides and verifies each against `keys` at `now`. The flag says
/// whether a token named a key `keys` does not hold (another node may have rotated: re-read
/// the keys and load again); tokens that do not verify are left out, never trusted.
pub(crate) async fn load_active(
    store: &Store,
    keys: &KeySet,
    now: u64,
) -> Result<(ActiveOverrides, bool), StoreError> {
    let rows = sqlx::query(
        "SELECT id, token FROM overrides \
         WHERE token IS NOT NULL AND revoked_at IS NULL AND expires_at > $1 \
         ORDER BY created_at DESC, id DESC",
    )
    .bind(db(now))
    .fetch_all(store.pool())
    .await?;
    let leeway = lifeline_core::Policy::new().leeway_secs();
    let mut items = Vec::with_capacity(rows.len());
    let mut unknown_key = false;
    for row in &rows {
        let id: String = row.try_get("id")?;
        let token: String = row.try_get("token")?;
        match Override::verify(token.as_bytes(), keys, UnixTime::from_secs(now), leeway) {
            Ok(verified) => items.push(Active { token, verified }),
            Err(VerifyError::UnknownKey { .. }) => unknown_key = true,
            Err(e) => {
                tracing::warn!(override_id = %id, error = %e, "a stored override does not verify")
            }
        }
    }
    Ok((ActiveOverrides { items }, unknown_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(scope: OverrideScope, effect: OverrideEffect, expires_at: u64) -> CreateOverride {
        CreateOverride {
            scope,
            effect,
            expires_at,
            reason: "key window closed by mistake".into(),
            incident: "INC-1".into(),
        }
    }

    #[test]
    fn status_follows_signature_revocation_and_time() {
        assert_eq!(status_at(true, false, 10, 5), OverrideStatus::Active);
        assert_eq!(
            status_at(false, false, 10, 5),
            OverrideStatus::PendingApproval
        );
        assert_eq!(status_at(true, false, 10, 10), OverrideStatus::Expired);
        assert_eq!(status_at(false, false, 10, 11), OverrideStatus::Expired);
        assert_eq!(status_at(true, true, 10, 11), OverrideStatus::Revoked);
    }

    #[test]
    fn check_names_each_rule() {
        let now = 1_000_000;
        let ok = req(OverrideScope::All, OverrideEffect::Valid, now + 3600);
        assert!(check(&ok, now).is_ok());
        let code = |r: CreateOverride| check(&r, now).err().map(|e| e.code());
        let mut r = ok.clone();
        r.reason = " ".into();
        assert_eq!(code(r), Some("invalid_reason"));
        let mut r = ok.clone();
        r.incident = "x".repeat(1025);
        assert_eq!(code(r), Some("invalid_incident"));
        assert_eq!(
            code(req(OverrideScope::All, OverrideEffect::Valid, now)),
            Some("expiry_in_past")
        );
        assert_eq!(
            code(req(
                OverrideScope::All,
                OverrideEffect::Valid,
                now + MAX_OVERRIDE_SECS + 1
            )),
            Some("expiry_too_far")
        );
        assert!(
            check(
                &req(
                    OverrideScope::All,
                    OverrideEffect::Valid,
                    now + MAX_OVERRIDE_SECS
                ),
                now
            )
            .is_ok()
        );
        assert_eq!(
            code(req(
                OverrideScope::Licensee(String::new()),
                OverrideEffect::Valid,
                now + 60
            )),
            Some("invalid_scope")
        );
        assert_eq!(
            code(req(
                OverrideScope::All,
                OverrideEffect::Entitlements { add: vec![] },
                now + 60
            )),
            Some("invalid_effect")
        );
        assert_eq!(
            code(req(
                OverrideScope::All,
                OverrideEffect::ExtendGrace { secs: 0 },
                now + 60
            )),
            Some("invalid_effect")
        );
    }
}
