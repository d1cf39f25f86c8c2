//! Issuing: checking a request, signing (one or many, on every core), storing and auditing
//! in one transaction; idempotent retries by key.

use lifeline_api::{IssueLicense, License, LicenseState};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::keys::KeyRing;
use crate::problem::AppError;
use crate::store::{Backend, Store, StoreError, WriteTx};

use super::record::{COLUMNS, ISSUER, db, from_row};

/// Checks a request before anything is signed.
pub fn check_request(req: &IssueLicense, now: u64) -> Result<(), AppError> {
    use lifeline_api::bounds::{
        MAX_GRACE_SECS, MAX_NAME_CHARS, check_expiry, check_secs, check_text,
    };
    check_text("licensee", &req.licensee, MAX_NAME_CHARS)?;
    check_expiry("expires_at", req.expires_at, now)?;
    check_secs("grace_s", req.grace_s, MAX_GRACE_SECS)?;
    if req.entitlements.len() > 256
        || req
            .entitlements
            .iter()
            .any(|e| e.is_empty() || e.len() > 128)
    {
        return Err(AppError::invalid(
            "entitlements: at most 256, each 1 to 128 characters",
        ));
    }
    if let Some(offline) = req.offline_grace_s {
        check_secs("offline_grace_s", offline, 365 * 86_400)?;
    }
    let seat_terms = [
        ("seat_mode", req.seat_mode.is_some()),
        ("heartbeat_s", req.heartbeat_s.is_some()),
        ("overage", req.overage.is_some()),
        ("linger_s", req.linger_s.is_some()),
        ("borrow_max_s", req.borrow_max_s.is_some()),
    ];
    if req.seats.is_none()
        && let Some((name, _)) = seat_terms.iter().find(|(_, set)| *set)
    {
        return Err(AppError::invalid(format!(
            "{name} needs seats: the seat terms apply to a license with seats"
        )));
    }
    if req.heartbeat_s.is_some_and(|h| {
        !(lifeline_core::MIN_HEARTBEAT_S..=lifeline_core::MAX_SEAT_SECS).contains(&h)
    }) {
        return Err(AppError::invalid(
            "heartbeat_s: from 10 seconds to a year (31536000)",
        ));
    }
    if req
        .linger_s
        .is_some_and(|s| s > lifeline_core::MAX_SEAT_SECS)
        || req
            .borrow_max_s
            .is_some_and(|s| s > lifeline_core::MAX_SEAT_SECS)
    {
        return Err(AppError::invalid(
            "linger_s and borrow_max_s: at most a year (31536000 seconds)",
        ));
    }
    if matches!(req.overage, Some(lifeline_core::Overage::Percent(p)) if p > 1000) {
        return Err(AppError::invalid("overage: a percentage of at most 1000"));
    }
    if serde_json::to_vec(&req.metadata).map_or(usize::MAX, |v| v.len()) > 16 * 1024 {
        return Err(AppError::invalid("metadata is larger than 16 KiB"));
    }
    Ok(())
}

/// A hash of the request body, to tell an idempotent retry from a conflicting reuse.
pub(crate) fn request_hash(req: &IssueLicense) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(req).unwrap_or_default()))
}

/// Signs a license for a request (pure CPU: no store).
#[tracing::instrument(name = "sign", level = "debug", skip_all)]
pub(crate) fn sign(
    keys: &KeyRing,
    req: &IssueLicense,
    now: u64,
    status: Option<(u64, &str)>,
) -> Result<License, AppError> {
    let id = crate::ids::new_id()?;
    let mut claims = json!({
        "iss": ISSUER, "sub": req.licensee, "aud": req.product, "jti": id,
        "iat": now, "nbf": now, "exp": req.expires_at, "entitlements": req.entitlements,
    });
    if let Some(obj) = claims.as_object_mut() {
        if req.grace_s > 0 {
            obj.insert("grace_s".into(), req.grace_s.into());
        }
        if let Some(seats) = req.seats {
            obj.insert("seats".into(), seats.into());
        }
        if let Some(mode) = req.seat_mode {
            obj.insert("seat_mode".into(), mode.as_str().into());
        }
        for (claim, value) in [
            ("heartbeat_s", req.heartbeat_s),
            ("linger_s", req.linger_s),
            ("borrow_max_s", req.borrow_max_s),
        ] {
            if let Some(v) = value {
                obj.insert(claim.into(), v.into());
            }
        }
        if let Some(overage) = req.overage {
            obj.insert("overage".into(), json!(overage));
        }
        if let Some(offline) = req.offline_grace_s {
            obj.insert("offline_grace_s".into(), offline.into());
        }
        if let Some((idx, uri)) = status {
            obj.insert(
                "status".into(),
                json!({ "status_list": { "idx": idx, "uri": uri } }),
            );
        }
    }
    let token = keys
        .active
        .sign_license(
            claims
                .as_object()
                .ok_or_else(|| AppError::internal("the claims are not a JSON object"))?,
        )
        .map_err(|e| AppError::invalid(e.to_string()))?;
    Ok(License {
        id,
        product: req.product.clone(),
        licensee: req.licensee.clone(),
        entitlements: req.entitlements.clone(),
        issued_at: now,
        expires_at: req.expires_at,
        grace_s: req.grace_s,
        seats: req.seats,
        metadata: req.metadata.clone(),
        kid: keys.active.kid().to_owned(),
        token,
        state: LicenseState::Valid,
        revoked_at: None,
        revoke_reason: None,
        version: 0,
    })
}

/// One license row to insert.
pub(crate) struct NewRow<'a> {
    pub(crate) license: &'a License,
    pub(crate) status_idx: Option<u64>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) request_hash: Option<String>,
}

/// Reserves `n` consecutive status-list indexes (in their own short transaction: a batch that
/// later fails leaves a harmless gap).
pub(crate) async fn allocate_status(store: &Store, n: usize) -> Result<u64, StoreError> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let mut tx = store.pool().begin().await?;
    let next: i64 =
        sqlx::query("UPDATE status_counter SET next = next + $1 WHERE id = 1 RETURNING next")
            .bind(n)
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
    tx.commit().await?;
    Ok(u64::try_from(next - n).unwrap_or(0))
}

/// Inserts license rows in multi-row statements (fast for bulk issuing). On SQLite the
/// placeholders are plain `?`: binding numbered ones makes sqlx ask SQLite each parameter's
/// name, a linear search per parameter (quadratic per statement: a tenth of a bulk issue's
/// time in a profile).
pub(crate) async fn insert_rows(w: &mut WriteTx, rows: &[NewRow<'_>]) -> Result<(), AppError> {
    const COLS: usize = 14;
    // Measured on 100,000 licenses (SQLite, `make bench`'s provisioning): 50 rows 4.1 s,
    // 200 rows 3.6 s, 500 rows 3.9 s (with numbered placeholders 50 rows took 5.4 s).
    const ROWS_PER_STATEMENT: usize = 200;
    let positional = w.backend() == Backend::Sqlite;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO licenses (id, product, licensee, entitlements, issued_at, expires_at, grace_s, seats, metadata, kid, token, idempotency_key, request_hash, status_idx) VALUES ",
        );
        for r in 0..chunk.len() {
            if r > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..COLS {
                if c > 0 {
                    sql.push(',');
                }
                if positional {
                    sql.push('?');
                } else {
                    sql.push_str(&format!("${}", r * COLS + c + 1));
                }
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for r in chunk {
            let l = r.license;
            query = query
                .bind(l.id.clone())
                .bind(l.product.clone())
                .bind(l.licensee.clone())
                .bind(Value::from(l.entitlements.clone()).to_string())
                .bind(db(l.issued_at))
                .bind(db(l.expires_at))
                .bind(db(l.grace_s))
                .bind(l.seats.map(i64::from))
                .bind(Value::Object(l.metadata.clone()).to_string())
                .bind(l.kid.clone())
                .bind(l.token.clone())
                .bind(r.idempotency_key.clone())
                .bind(r.request_hash.clone())
                .bind(r.status_idx.map(db));
        }
        if let Err(e) = query.execute(&mut *w.tx).await {
            let text = e.to_string();
            if text.contains("FOREIGN KEY") || text.contains("foreign key") {
                return Err(AppError::not_found(
                    "a license names a product that does not exist",
                ));
            }
            if text.contains("UNIQUE") || text.contains("duplicate key") {
                return Err(AppError::conflict(
                    "an Idempotency-Key of this request was already used",
                ));
            }
            return Err(StoreError::from(e).into());
        }
    }
    Ok(())
}

/// Signs and stores one license inside `w`, with its audit event. The product must exist.
pub(crate) async fn issue_in(
    w: &mut WriteTx,
    keys: &KeyRing,
    status_uri: &str,
    actor: &str,
    req: &IssueLicense,
    now: u64,
    idempotency_key: Option<&str>,
) -> Result<License, AppError> {
    let idx = w.allocate_status(1).await?;
    let license = sign(keys, req, now, Some((idx, status_uri)))?;
    let row = NewRow {
        license: &license,
        status_idx: Some(idx),
        idempotency_key: idempotency_key.map(str::to_owned),
        request_hash: idempotency_key.map(|_| request_hash(req)),
    };
    insert_rows(w, &[row]).await?;
    let summary = json!({
        "product": license.product, "licensee": license.licensee, "expires_at": license.expires_at,
        "entitlements": license.entitlements, "kid": license.kid,
    });
    w.audit(actor, "license.issued", &license.id, None, Some(&summary))
        .await?;
    Ok(license)
}

/// Signs many licenses on every core (signing is the cost of bulk issuing); license `i`
/// gets status-list index `first_idx + i`.
#[tracing::instrument(name = "sign_many", level = "debug", skip_all, fields(n = reqs.len()))]
pub(crate) fn sign_many(
    keys: &KeyRing,
    reqs: &[IssueLicense],
    now: u64,
    first_idx: u64,
    status_uri: &str,
) -> Result<Vec<License>, AppError> {
    on_every_core(reqs, |i, r| {
        let idx = first_idx + u64::try_from(i).unwrap_or(u64::MAX);
        sign(keys, r, now, Some((idx, status_uri)))
    })
}

/// `f(i, item)` for every item, the items split evenly over the machine's cores (signing
/// is the cost of bulk work); the results in order, or the first error.
pub(crate) fn on_every_core<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(usize, &T) -> Result<R, AppError> + Sync,
) -> Result<Vec<R>, AppError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, item)| f(c * chunk + i, item))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| AppError::internal("a signing thread panicked"))??,
            );
        }
        Ok(out)
    })
}

/// The licenses stored under the bulk idempotency keys `KEY/0..n`, if that batch committed.
pub(crate) async fn by_bulk_key(
    store: &Store,
    key: &str,
    n: usize,
    now: u64,
) -> Result<Option<(Vec<License>, Vec<String>)>, StoreError> {
    let first = by_idempotency_key(store, &format!("{key}/0"), now).await?;
    if first.is_none() {
        return Ok(None);
    }
    let mut licenses = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    // Every key of the batch starts with "KEY/": they sort in ["KEY/", "KEY0").
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, idempotency_key, request_hash FROM licenses WHERE idempotency_key >= $1 AND idempotency_key < $2"
    ))
    .bind(format!("{key}/"))
    .bind(format!("{key}0"))
    .fetch_all(store.pool())
    .await?;
    let mut indexed: Vec<(usize, License, String)> = Vec::with_capacity(rows.len());
    for row in &rows {
        let k: String = row.try_get("idempotency_key")?;
        let Some(i) = k
            .rsplit_once('/')
            .and_then(|(prefix, i)| (prefix == key).then_some(i))
            .and_then(|i| i.parse().ok())
        else {
            continue;
        };
        indexed.push((
            i,
            from_row(row, now)?,
            row.try_get::<Option<String>, _>("request_hash")?
                .unwrap_or_default(),
        ));
    }
    indexed.sort_by_key(|(i, _, _)| *i);
    for (_, l, h) in indexed {
        licenses.push(l);
        hashes.push(h);
    }
    Ok(Some((licenses, hashes)))
}

/// The license issued earlier under this idempotency key, with the request hash it had.
pub(crate) async fn by_idempotency_key(
    store: &Store,
    key: &str,
    now: u64,
) -> Result<Option<(License, String)>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, request_hash FROM licenses WHERE idempotency_key = $1"
    ))
    .bind(key)
    .fetch_optional(store.pool())
    .await?;
    match row {
        Some(row) => Ok(Some((
            from_row(&row, now)?,
            row.try_get::<Option<String>, _>("request_hash")?
                .unwrap_or_default(),
        ))),
        None => Ok(None),
    }
}
