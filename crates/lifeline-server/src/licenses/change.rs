//! Changes to issued licenses: revocation and extension (re-signed with the active key).

use axum::http::StatusCode;
use lifeline_api::{License, LicenseState};
use serde_json::json;

use crate::keys::KeyRing;
use crate::problem::AppError;
use crate::store::{Store, StoreError, WriteTx};

use super::record::{COLUMNS, db, from_row, state_at};

/// Revokes a license; revoking twice is a conflict.
pub(crate) async fn revoke(
    store: &Store,
    actor: &str,
    id: &str,
    reason: &str,
    now: u64,
) -> Result<License, AppError> {
    let mut w = store.write().await?;
    let before = current(&mut w, id, now).await?;
    if before.revoked_at.is_some() {
        return Err(AppError::conflict(format!(
            "license {id:?} is already revoked"
        )));
    }
    sqlx::query("UPDATE licenses SET revoked_at = $1, revoke_reason = $2 WHERE id = $3")
        .bind(db(now))
        .bind(reason)
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(StoreError::from)?;
    let after = License {
        revoked_at: Some(now),
        revoke_reason: Some(reason.to_owned()),
        state: LicenseState::Revoked,
        ..before.clone()
    };
    w.audit(
        actor,
        "license.revoked",
        id,
        Some(&json!({"state": before.state, "revoked_at": null})),
        Some(&json!({"state": "revoked", "revoked_at": now, "reason": reason})),
    )
    .await?;
    let data = json!({
        "id": id, "product": after.product, "licensee": after.licensee,
        "revoked_at": now, "reason": reason,
    });
    crate::webhooks::enqueue(
        &mut w,
        lifeline_api::WebhookEventType::LicenseRevoked,
        &data,
        now,
    )
    .await?;
    w.commit().await?;
    Ok(after)
}

/// Re-signs a license with the active key and a later expiry; the id, status-list index and
/// every other claim stay. `iat` becomes now: a key may only sign inside its window, and the
/// active key's window may have opened after the license was first issued (`nbf` keeps the
/// original start). Unknown → 404, revoked → 409, not later than today's expiry → 422.
pub(crate) async fn extend(
    store: &Store,
    keys: &KeyRing,
    actor: &str,
    id: &str,
    expires_at: u64,
    reason: &str,
    now: u64,
) -> Result<License, AppError> {
    // The same bound as issuing (an expiry in the past is refused below, after the lookup,
    // as `expiry_not_later`).
    if expires_at > now.saturating_add(lifeline_api::bounds::MAX_EXPIRY_AHEAD_SECS) {
        lifeline_api::bounds::check_expiry("expires_at", expires_at, now)?;
    }
    let mut w = store.write().await?;
    let before = current(&mut w, id, now).await?;
    if before.revoked_at.is_some() {
        return Err(AppError::conflict(format!(
            "license {id:?} is revoked; a revoked license cannot be extended"
        )));
    }
    if expires_at <= before.expires_at || expires_at <= now {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expiry_not_later",
            format!(
                "expires_at {expires_at} must be later than the current expiry {} and than now ({now})",
                before.expires_at
            ),
        ));
    }
    // The claims come from the stored token, authenticated first: what was signed is what
    // is signed again.
    let mut claims = lifeline_core::UnverifiedLicense::parse(before.token.as_bytes())
        .and_then(|t| t.authenticate(&keys.set))
        .map_err(|e| StoreError::corrupt(format!("license {id}'s stored token"), e))?
        .claims()
        .as_map()
        .clone();
    let version = allocate_versions(&mut w, 1).await?;
    keep_replaced(&mut w, &before, now).await?;
    claims.insert("exp".into(), expires_at.into());
    claims.insert("iat".into(), now.into());
    claims.insert("ver".into(), version.into());
    let token = keys
        .active
        .sign_license(&claims)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    let kid = keys.active.kid().to_owned();
    sqlx::query(
        "UPDATE licenses SET token = $1, kid = $2, expires_at = $3, version = $4 WHERE id = $5",
    )
    .bind(&token)
    .bind(&kid)
    .bind(db(expires_at))
    .bind(db(version))
    .bind(id)
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?;
    let mut after = License {
        expires_at,
        kid,
        token,
        version,
        ..before.clone()
    };
    after.state = state_at(&after, now);
    w.audit(
        actor,
        "license.extended",
        id,
        Some(&json!({"expires_at": before.expires_at, "kid": before.kid, "state": before.state, "version": before.version})),
        Some(&json!({"expires_at": after.expires_at, "kid": after.kid, "state": after.state, "version": after.version, "reason": reason})),
    )
    .await?;
    w.commit().await?;
    Ok(after)
}

/// Keeps the token a re-signing replaces (the issued list of its key, should that key ever
/// leak, names it too: a machine may still hold it).
pub(crate) async fn keep_replaced(
    w: &mut WriteTx,
    before: &License,
    now: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO license_versions (license_id, version, kid, token, replaced_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&before.id)
    .bind(db(before.version))
    .bind(&before.kid)
    .bind(&before.token)
    .bind(db(now))
    .execute(&mut *w.tx)
    .await?;
    Ok(())
}

/// Takes `n` license versions from the store-wide counter inside `w` (under the write
/// lock: versions are handed out in commit order, so a node reading `version > highest
/// seen` never misses one) and returns the first.
pub(crate) async fn allocate_versions(w: &mut WriteTx, n: u64) -> Result<u64, StoreError> {
    use sqlx::Row as _;
    let next: i64 =
        sqlx::query("UPDATE version_counter SET next = next + $1 WHERE id = 1 RETURNING next")
            .bind(db(n))
            .fetch_one(&mut *w.tx)
            .await?
            .try_get("next")?;
    Ok(super::record::secs(next)
        .saturating_sub(n)
        .saturating_add(1))
}

/// The license as it stands inside the write transaction `w` (404 when there is none).
async fn current(w: &mut WriteTx, id: &str, now: u64) -> Result<License, AppError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM licenses WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::not_found(format!("no license {id:?}")))?;
    Ok(from_row(&row, now)?)
}
