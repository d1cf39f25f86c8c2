//! Re-signing every license of one key with the active key (a leaked key's recovery): in
//! batches, each one transaction — versions taken from the store-wide counter, tokens signed
//! on every core, rows updated in multi-row statements, the replaced tokens kept in
//! `license_versions` — so a stopped run leaves every license either re-signed or as it was,
//! and running again carries on with the licenses still under the key.

use serde_json::{Map, Value, json};
use sqlx::Row;

use crate::keys::KeyRing;
use crate::problem::AppError;
use crate::store::{Backend, Store, StoreError, WriteTx};

use super::record::{db, secs};

/// Licenses per transaction (and per progress report).
pub(crate) const REKEY_BATCH: usize = 2_000;
/// Rows per multi-row statement.
const ROWS_PER_STATEMENT: usize = 200;

/// One license to re-sign: its id, version, token and claims as signed.
struct Held {
    id: String,
    version: u64,
    token: String,
    claims: Map<String, Value>,
}

/// How many licenses key `kid` signed that still carry its signature.
pub(crate) async fn count_under_key(store: &Store, kid: &str) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM licenses WHERE kid = $1")
        .bind(kid)
        .fetch_one(store.pool())
        .await?
        .try_get("n")?;
    Ok(secs(n))
}

/// Re-signs up to [`REKEY_BATCH`] licenses of key `kid` with `ring`'s active key at `now`;
/// how many (0 when none is left). Each keeps its claims but `iat` (now: inside the active
/// key's window) and `ver` (the next version).
pub(crate) async fn re_sign_batch(
    store: &Store,
    ring: &KeyRing,
    actor: &str,
    kid: &str,
    now: u64,
) -> Result<usize, AppError> {
    let mut w = store.write().await?;
    let rows =
        sqlx::query("SELECT id, version, token FROM licenses WHERE kid = $1 ORDER BY id LIMIT $2")
            .bind(kid)
            .bind(i64::try_from(REKEY_BATCH).unwrap_or(i64::MAX))
            .fetch_all(&mut *w.tx)
            .await
            .map_err(StoreError::from)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut held = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id").map_err(StoreError::from)?;
        let token: String = row.try_get("token").map_err(StoreError::from)?;
        // What was signed is what is signed again: the stored token, authenticated.
        let claims = lifeline_core::UnverifiedLicense::parse(token.as_bytes())
            .and_then(|t| t.authenticate(&ring.set))
            .map_err(|e| StoreError::corrupt(format!("license {id}'s stored token"), e))?
            .claims()
            .as_map()
            .clone();
        held.push(Held {
            version: secs(row.try_get("version").map_err(StoreError::from)?),
            id,
            token,
            claims,
        });
    }
    let n = held.len();
    let first_version = super::allocate_versions(&mut w, n as u64).await?;
    let signed = sign_all(ring, &held, first_version, now)?;
    update_rows(&mut w, &held, &signed, first_version, ring.active.kid()).await?;
    keep_all_replaced(&mut w, &held, kid, now).await?;
    w.audit(
        actor,
        "key.licenses_re_signed",
        kid,
        None,
        Some(&json!({
            "licenses": n, "first": held.first().map(|h| &h.id), "last": held.last().map(|h| &h.id),
            "signed_by": ring.active.kid(),
        })),
    )
    .await?;
    w.commit().await?;
    Ok(n)
}

/// The new tokens, signed on every core; license `i` gets version `first_version + i`.
fn sign_all(
    ring: &KeyRing,
    held: &[Held],
    first_version: u64,
    now: u64,
) -> Result<Vec<String>, AppError> {
    super::on_every_core(held, |i, h| {
        let mut claims = h.claims.clone();
        let offset = u64::try_from(i).unwrap_or(u64::MAX);
        claims.insert("iat".into(), now.into());
        claims.insert("ver".into(), (first_version + offset).into());
        ring.active
            .sign_license(&claims)
            .map_err(|e| AppError::internal(format!("re-signing {}: {e}", h.id)))
    })
}

/// Placeholder `n` (0-based) of a multi-row statement: `?` on SQLite (see `insert_rows`),
/// `$n+1` on PostgreSQL.
fn placeholder(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_owned(),
        _ => format!("${}", n + 1),
    }
}

async fn update_rows(
    w: &mut WriteTx,
    held: &[Held],
    signed: &[String],
    first_version: u64,
    active_kid: &str,
) -> Result<(), StoreError> {
    let backend = w.backend();
    for (c, (rows, tokens)) in held
        .chunks(ROWS_PER_STATEMENT)
        .zip(signed.chunks(ROWS_PER_STATEMENT))
        .enumerate()
    {
        let values: Vec<String> = (0..rows.len())
            .map(|r| {
                let p = |k| placeholder(backend, r * 4 + k);
                format!("({}, {}, {}, CAST({} AS BIGINT))", p(0), p(1), p(2), p(3))
            })
            .collect();
        let sql = format!(
            "WITH v (id, token, kid, version) AS (VALUES {}) \
             UPDATE licenses SET token = v.token, kid = v.kid, version = v.version \
             FROM v WHERE licenses.id = v.id",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (i, (h, token)) in rows.iter().zip(tokens).enumerate() {
            let version = first_version + u64::try_from(c * ROWS_PER_STATEMENT + i).unwrap_or(0);
            query = query
                .bind(h.id.clone())
                .bind(token.clone())
                .bind(active_kid.to_owned())
                .bind(db(version));
        }
        query.execute(&mut *w.tx).await?;
    }
    Ok(())
}

/// Keeps the replaced tokens (the key's issued list names them).
async fn keep_all_replaced(
    w: &mut WriteTx,
    held: &[Held],
    kid: &str,
    now: u64,
) -> Result<(), StoreError> {
    let backend = w.backend();
    for rows in held.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..rows.len())
            .map(|r| {
                let p = |k| placeholder(backend, r * 5 + k);
                format!("({}, {}, {}, {}, {})", p(0), p(1), p(2), p(3), p(4))
            })
            .collect();
        let sql = format!(
            "INSERT INTO license_versions (license_id, version, token, kid, replaced_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for h in rows {
            query = query
                .bind(h.id.clone())
                .bind(db(h.version))
                .bind(h.token.clone())
                .bind(kid.to_owned())
                .bind(db(now));
        }
        query.execute(&mut *w.tx).await?;
    }
    Ok(())
}

/// Every token key `kid` signed that the store knows: the current tokens still under it and
/// every replaced version.
pub(crate) async fn tokens_signed_by(store: &Store, kid: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT token FROM licenses WHERE kid = $1 UNION SELECT token FROM license_versions WHERE kid = $1",
    )
    .bind(kid)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("token"))
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)
}
