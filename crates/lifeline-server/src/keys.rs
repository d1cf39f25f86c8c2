//! Signing keys: one active key signs licenses and leases; rotated-out keys stay in the public
//! key set with `not_after` set, so everything they signed keeps verifying.

use std::sync::Arc;

use lifeline_api::{KeyStatus, SigningKeyInfo};
use lifeline_core::{IssuedList, KeySet, KeyState, LicenseSigner, PublicKey, UnixTime};
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
    /// The published issued lists of compromised keys (also in `set`).
    pub lists: Vec<PublishedList>,
}

/// A compromised key's issued list as published.
#[derive(Debug)]
pub struct PublishedList {
    /// The compromised key.
    pub kid: String,
    /// When it was published (a newer one replaces it).
    pub created_at: i64,
    /// The signed list, as served.
    pub token: Arc<str>,
    /// The list, verified.
    pub list: Arc<IssuedList>,
}

impl KeyRing {
    /// The public JWKS served at `/.well-known/lifeline/keys.json`: every key with its state
    /// (`active`, `retired`, `compromised` + `compromised_at`); a compromised key with a
    /// published list names it (`issued_list`, under `public_url`).
    pub fn jwks(&self, public_url: &str) -> Value {
        let mut jwks = self.set.to_jwks();
        if let Some(Value::Array(keys)) = jwks.get_mut("keys") {
            for key in keys {
                let kid = key.get("kid").and_then(Value::as_str).map(str::to_owned);
                if let (Some(kid), Value::Object(jwk)) = (kid, key)
                    && self.lists.iter().any(|l| l.kid == kid)
                {
                    jwk.insert(
                        "issued_list".into(),
                        issued_list_url(public_url, &kid).into(),
                    );
                }
            }
        }
        jwks
    }

    /// The published issued list of key `kid`.
    pub fn published_list(&self, kid: &str) -> Option<&PublishedList> {
        self.lists.iter().find(|l| l.kid == kid)
    }
}

/// Where the issued list of key `kid` is served.
pub(crate) fn issued_list_url(public_url: &str, kid: &str) -> String {
    format!("{public_url}/.well-known/lifeline/issued/{kid}")
}

fn store_err(what: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt("the signing keys", what)
}

/// Loads the key ring; creates the first key when there is none.
pub(crate) async fn load_or_init(
    store: &Store,
    previous: Option<Arc<KeyRing>>,
) -> Result<Arc<KeyRing>, StoreError> {
    if let Some(ring) = load(store, previous.as_deref()).await? {
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
    load(store, None)
        .await?
        .ok_or_else(|| store_err("no signing key after creating one"))
}

/// Loads the key ring, `None` when the store has no key yet. Issued lists already verified
/// in `previous` are kept rather than read and verified again (they run to megabytes).
pub(crate) async fn load(
    store: &Store,
    previous: Option<&KeyRing>,
) -> Result<Option<Arc<KeyRing>>, StoreError> {
    let rows = sqlx::query(
        "SELECT kid, private_jwk, public_jwk, status, created_at, not_before, not_after, \
         compromised_at, compromise_reason, compromise_incident FROM signing_keys \
         ORDER BY created_at DESC, kid DESC",
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
        let compromised_at: Option<i64> = row.try_get("compromised_at")?;
        let is_active = status == "active";
        let state = match compromised_at {
            Some(at) => KeyState::Compromised { since: secs(at) },
            None if is_active => KeyState::Active,
            None => KeyState::Retired,
        };
        let public = public_jwk
            .as_object()
            .ok_or_else(|| store_err("public key is not an object"))
            .and_then(|jwk| PublicKey::from_jwk(jwk).map_err(store_err))?
            .with_window(Some(secs(not_before)), not_after.map(secs))
            .map_err(store_err)?
            .with_state(state);
        if is_active && compromised_at.is_none() && active.is_none() {
            let private: String = row.try_get("private_jwk")?;
            active =
                Some(LicenseSigner::from_private_jwk_json(private.as_bytes()).map_err(store_err)?);
        }
        infos.push(SigningKeyInfo {
            kid: kid.clone(),
            status: match state {
                KeyState::Compromised { .. } => KeyStatus::Compromised,
                KeyState::Active => KeyStatus::Active,
                KeyState::Retired => KeyStatus::Retired,
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
            compromised_at: compromised_at.and_then(|t| u64::try_from(t).ok()),
            compromise_reason: row.try_get("compromise_reason")?,
            compromise_incident: row.try_get("compromise_incident")?,
            issued_list_licenses: None,
        });
        keys.push(public);
    }
    let Some(active) = active else {
        return Ok(None);
    };
    let mut set = KeySet::from_keys(keys).map_err(store_err)?;
    let lists = load_lists(store, &mut set, previous).await?;
    for info in &mut infos {
        if let Some(l) = lists.iter().find(|l| l.kid == info.kid) {
            info.issued_list_licenses = Some(l.list.len() as u64);
        }
    }
    Ok(Some(Arc::new(KeyRing {
        active,
        set,
        infos,
        lists,
    })))
}

/// The published issued lists, added to `set`: those `previous` holds unchanged are kept,
/// the others read and verified against `set`.
async fn load_lists(
    store: &Store,
    set: &mut KeySet,
    previous: Option<&KeyRing>,
) -> Result<Vec<PublishedList>, StoreError> {
    let rows = sqlx::query("SELECT kid, created_at FROM issued_lists")
        .fetch_all(store.pool())
        .await?;
    let mut lists = Vec::with_capacity(rows.len());
    for row in &rows {
        let kid: String = row.try_get("kid")?;
        let created_at: i64 = row.try_get("created_at")?;
        let kept = previous
            .and_then(|p| p.published_list(&kid))
            .filter(|l| l.created_at == created_at)
            .filter(|l| set.add_verified_issued_list(l.list.clone()));
        if let Some(l) = kept {
            lists.push(PublishedList {
                kid,
                created_at,
                token: l.token.clone(),
                list: l.list.clone(),
            });
            continue;
        }
        let token: String = sqlx::query("SELECT token FROM issued_lists WHERE kid = $1")
            .bind(&kid)
            .fetch_one(store.pool())
            .await?
            .try_get("token")?;
        // A list that no longer verifies (its signer marked compromised since, in a store
        // an older version wrote) costs that key's licenses, not the whole node: said, and
        // left out (the key's tokens are refused until its list is published again).
        let list = match set.add_issued_list(token.as_bytes()) {
            Ok(list) => list,
            Err(e) => {
                tracing::error!(kid, error = %e, "the issued list does not verify: left out");
                continue;
            }
        };
        lists.push(PublishedList {
            kid,
            created_at,
            token: token.into(),
            list,
        });
    }
    Ok(lists)
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
