//! Signing keys: one active key signs licenses and leases; rotated-out keys stay in the public
//! key set with `not_after` set, so everything they signed keeps verifying.

use std::sync::Arc;

use lifeline_api::{KeyStatus, SigningKeyInfo};
use lifeline_core::{KeySet, LicenseSigner, PublicKey, UnixTime};
use serde_json::Value;
use sqlx::Row;

use crate::store::{Store, StoreError};

/// Signing keys are expected to be rotated within this long; a key's expiration timestamp is
/// its `not_after`, or its creation plus this.
pub const KEY_MAX_AGE_SECS: u64 = 365 * 86_400;

/// The keys as loaded from the store.
#[derive(Debug)]
pub struct KeyRing {
    /// Signs new licenses and leases.
    pub active: LicenseSigner,
    /// Every key, for verification (the public JWKS).
    pub set: KeySet,
    /// Every key, as the API lists them (newest first).
    pub infos: Vec<SigningKeyInfo>,
}

impl KeyRing {
    /// The public JWKS served at `/.well-known/lifeline/keys.json`.
    pub fn jwks(&self) -> Value {
        self.set.to_jwks()
    }
}

fn store_err(what: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt("the signing keys", what)
}

/// Loads the key ring; creates the first key when there is none.
pub(crate) async fn load_or_init(store: &Store) -> Result<Arc<KeyRing>, StoreError> {
    if let Some(ring) = load(store).await? {
        return Ok(ring);
    }
    let mut w = store.write().await?;
    // Another node may have created it meanwhile: look again under the write lock.
    let existing: Option<i64> = sqlx::query("SELECT COUNT(*) AS n FROM signing_keys")
        .fetch_one(&mut *w.tx)
        .await?
        .try_get("n")
        .ok();
    if existing.unwrap_or(0) == 0 {
        let (kid, info) = insert_new_key(&mut w).await?;
        w.audit("system", "key.created", &kid, None, Some(&info))
            .await?;
    }
    w.commit().await?;
    load(store)
        .await?
        .ok_or_else(|| store_err("no signing key after creating one"))
}

/// Loads the key ring, `None` when the store has no key yet.
pub(crate) async fn load(store: &Store) -> Result<Option<Arc<KeyRing>>, StoreError> {
    let rows = sqlx::query(
        "SELECT kid, private_jwk, public_jwk, status, created_at, not_before, not_after FROM signing_keys ORDER BY created_at DESC, kid DESC",
    )
    .fetch_all(store.pool())
    .await?;
    let mut active = None;
    let mut keys = Vec::new();
    let mut infos = Vec::new();
    for row in &rows {
        let kid: String = row.try_get("kid")?;
        let status: String = row.try_get("status")?;
        let not_before: i64 = row.try_get("not_before")?;
        let not_after: Option<i64> = row.try_get("not_after")?;
        let created_at: i64 = row.try_get("created_at")?;
        let public_jwk: String = row.try_get("public_jwk")?;
        let public_jwk: Value = serde_json::from_str(&public_jwk).map_err(store_err)?;
        let secs = |t: i64| UnixTime::from_secs(u64::try_from(t).unwrap_or(0));
        let public = public_jwk
            .as_object()
            .ok_or_else(|| store_err("public key is not an object"))
            .and_then(|jwk| PublicKey::from_jwk(jwk).map_err(store_err))?
            .with_window(Some(secs(not_before)), not_after.map(secs))
            .map_err(store_err)?;
        let is_active = status == "active";
        if is_active && active.is_none() {
            let private: String = row.try_get("private_jwk")?;
            active =
                Some(LicenseSigner::from_private_jwk_json(private.as_bytes()).map_err(store_err)?);
        }
        infos.push(SigningKeyInfo {
            kid: kid.clone(),
            status: if is_active {
                KeyStatus::Active
            } else {
                KeyStatus::Retired
            },
            created_at: u64::try_from(created_at).unwrap_or(0),
            not_before: u64::try_from(not_before).unwrap_or(0),
            not_after: not_after.and_then(|t| u64::try_from(t).ok()),
            rotate_by: is_active.then(|| {
                u64::try_from(not_before)
                    .unwrap_or(0)
                    .saturating_add(KEY_MAX_AGE_SECS)
            }),
            public_jwk: public.to_jwk(),
        });
        keys.push(public);
    }
    let Some(active) = active else {
        return Ok(None);
    };
    let set = KeySet::from_keys(keys).map_err(store_err)?;
    Ok(Some(Arc::new(KeyRing { active, set, infos })))
}

/// Makes a new active key; the previous active key is retired with `not_after = now`.
pub(crate) async fn rotate(store: &Store, actor: &str) -> Result<String, StoreError> {
    let mut w = store.write().await?;
    // `not_after` is exclusive and times are whole seconds: the old key may still have signed
    // during this second, and those licenses must stay valid.
    let now = crate::clock::now_i64().saturating_add(1);
    let retired: Vec<String> = sqlx::query("UPDATE signing_keys SET status = 'retired', not_after = $1 WHERE status = 'active' RETURNING kid")
        .bind(now)
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .filter_map(|r| r.try_get("kid").ok())
        .collect();
    let (kid, info) = insert_new_key(&mut w).await?;
    let before = serde_json::json!({ "active": retired });
    w.audit(actor, "key.rotated", &kid, Some(&before), Some(&info))
        .await?;
    w.commit().await?;
    Ok(kid)
}

async fn insert_new_key(w: &mut crate::store::WriteTx) -> Result<(String, Value), StoreError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(store_err)?;
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).map_err(store_err)?;
    let now = crate::clock::now();
    let kid = format!("k{now}-{}", hex::encode(suffix));
    let signer = LicenseSigner::from_seed(kid.clone(), &seed);
    seed.fill(0);
    let public = signer.public_key().map_err(store_err)?.to_jwk();
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO signing_keys (kid, private_jwk, public_jwk, status, created_at, not_before, not_after) \
         VALUES ($1, $2, $3, 'active', $4, $5, NULL)",
    )
    .bind(&kid)
    .bind(signer.to_private_jwk().to_string())
    .bind(public.to_string())
    .bind(now)
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    Ok((
        kid,
        serde_json::json!({ "kid": signer.kid(), "public_jwk": public }),
    ))
}
