//! What a license row is: its columns, how a row becomes a `License`, its state at a time.

use lifeline_api::{License, LicenseState};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::StoreError;

pub(super) const COLUMNS: &str = "id, product, licensee, entitlements, issued_at, expires_at, grace_s, seats, metadata, kid, token, revoked_at, revoke_reason, version";

/// The `iss` of every license this server signs.
pub(crate) const ISSUER: &str = "lifeline";

pub(super) fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(super) fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The state of a record at `now`.
pub(crate) fn state_at(l: &License, now: u64) -> LicenseState {
    if l.revoked_at.is_some() {
        LicenseState::Revoked
    } else if now < l.expires_at {
        LicenseState::Valid
    } else if now < l.expires_at.saturating_add(l.grace_s) {
        LicenseState::Grace
    } else {
        LicenseState::Expired
    }
}

pub(super) fn from_row(row: &AnyRow, now: u64) -> Result<License, StoreError> {
    let parse = |col: &str| -> Result<Value, StoreError> {
        let text: String = row.try_get(col)?;
        serde_json::from_str(&text).map_err(|e| StoreError::corrupt(format!("license {col}"), e))
    };
    let entitlements = match parse("entitlements")? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let metadata = match parse("metadata")? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut license = License {
        id: row.try_get("id")?,
        product: row.try_get("product")?,
        licensee: row.try_get("licensee")?,
        entitlements,
        issued_at: secs(row.try_get("issued_at")?),
        expires_at: secs(row.try_get("expires_at")?),
        grace_s: secs(row.try_get("grace_s")?),
        seats: row
            .try_get::<Option<i64>, _>("seats")?
            .and_then(|s| u32::try_from(s).ok()),
        metadata,
        kid: row.try_get("kid")?,
        token: row.try_get("token")?,
        state: LicenseState::Valid,
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(secs),
        revoke_reason: row.try_get("revoke_reason")?,
        version: secs(row.try_get("version")?),
    };
    license.state = state_at(&license, now);
    Ok(license)
}
