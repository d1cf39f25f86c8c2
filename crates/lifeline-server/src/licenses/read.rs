//! Reading: one license, lists with filters and search, counts by state (`census`), the
//! soonest to expire.

use lifeline_api::{License, LicenseState, StateCounts};
use sqlx::Row;

use crate::problem::AppError;
use crate::store::{Bind, Filter, Store, StoreError, like_escape};

use super::record::{COLUMNS, db, from_row, secs};

/// One license by id.
pub(crate) async fn get(store: &Store, id: &str, now: u64) -> Result<Option<License>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM licenses WHERE id = $1"))
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| from_row(&r, now)).transpose()
}

/// Filters for listing.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only this product.
    pub(crate) product: Option<String>,
    /// Only this licensee.
    pub(crate) licensee: Option<String>,
    /// Only this state (`valid`, `grace`, `expired`, `revoked`).
    pub(crate) state: Option<LicenseState>,
    /// Only licenses (not revoked) expiring within this many seconds from now.
    pub(crate) expiring_within: Option<u64>,
    /// Search, case-insensitive: a license id prefix or a licensee substring (`%` and `_`
    /// match literally); 1–256 characters; combines with the other filters.
    #[schemars(length(min = 1, max = 256))]
    pub(crate) q: Option<String>,
    /// Page size, 1–500 (default 50).
    #[schemars(range(min = 1, max = 500))]
    pub(crate) limit: Option<u32>,
    /// From `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
    /// Only licenses with seats using at least this percentage of them (1–100), e.g. 90.
    #[schemars(range(min = 1, max = 100))]
    pub(crate) seats_used_at_least: Option<u32>,
}

/// The longest search text.
const MAX_SEARCH_CHARS: usize = 256;

/// What each state means in SQL, every `?` being "now": the one definition the list
/// filters, the counts (overview, metrics) and [`state_at`] agree on.
fn state_sql(state: LicenseState) -> &'static str {
    match state {
        LicenseState::Revoked => "revoked_at IS NOT NULL",
        LicenseState::Valid => "revoked_at IS NULL AND expires_at > ?",
        LicenseState::Grace => {
            "revoked_at IS NULL AND expires_at <= ? AND expires_at + grace_s > ?"
        }
        LicenseState::Expired => "revoked_at IS NULL AND expires_at + grace_s <= ?",
    }
}

/// "Expiring soon" (as the list's `expiring_within`): not revoked, not yet expired, expiring
/// by `$2` (`$1` is now).
const EXPIRING_SQL: &str = "revoked_at IS NULL AND expires_at > $1 AND expires_at <= $2";

/// A page of licenses, ordered by id.
pub(crate) async fn list(
    store: &Store,
    q: &ListQuery,
    now: u64,
) -> Result<(Vec<License>, Option<String>), AppError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("limit must be 1 to 500"));
    }
    let mut f = Filter::default();
    if let Some(p) = &q.product {
        f.add("product = ?", Bind::Text(p.clone()));
    }
    if let Some(l) = &q.licensee {
        f.add("licensee = ?", Bind::Text(l.clone()));
    }
    if let Some(text) = &q.q {
        if text.is_empty() || text.chars().count() > MAX_SEARCH_CHARS {
            return Err(AppError::invalid(format!(
                "q must be 1 to {MAX_SEARCH_CHARS} characters"
            )));
        }
        // Both sides go through the database's LOWER, so they fold alike on either backend.
        f.add(
            "(LOWER(id) LIKE (LOWER(?) || '%') ESCAPE '\\' \
              OR LOWER(licensee) LIKE ('%' || LOWER(?) || '%') ESCAPE '\\')",
            Bind::Text(like_escape(text)),
        );
    }
    if let Some(c) = &q.cursor {
        f.add("id > ?", Bind::Text(c.clone()));
    }
    let now_db = db(now);
    if let Some(state) = q.state {
        f.add(state_sql(state), Bind::Int(now_db));
    }
    if let Some(pct) = q.seats_used_at_least {
        if !(1..=100).contains(&pct) {
            return Err(AppError::invalid("seats_used_at_least must be 1 to 100"));
        }
        // `pct` is a checked integer: written into the statement, the time bound.
        f.add(
            &format!(
                "seats IS NOT NULL AND seats > 0 AND (SELECT COUNT(*) FROM seats s WHERE s.license_id = licenses.id \
                 AND (s.status IN ('alive', 'borrowed') OR (s.status = 'released' AND s.holds_until > ?))) * 100 >= seats * {pct}"
            ),
            Bind::Int(now_db),
        );
    }
    if let Some(within) = q.expiring_within {
        f.add("revoked_at IS NULL AND expires_at > ?", Bind::Int(now_db));
        f.add("expires_at <= ?", Bind::Int(db(now.saturating_add(within))));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM licenses {} ORDER BY id LIMIT {}",
        f.where_clause(),
        limit + 1
    );
    let rows = f
        .bind_all(sqlx::query(&sql))
        .fetch_all(store.pool())
        .await
        .map_err(StoreError::from)?;
    let mut items = rows
        .iter()
        .map(|r| from_row(r, now))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|l| l.id.clone())
    } else {
        None
    };
    Ok((items, next))
}

/// Licenses by state at `now`, and how many expire within each of `windows` seconds:
/// counted by the database (one scan, no rows loaded).
/// How many licenses past expiry (not revoked) fall under at least one of `scopes`.
pub(crate) async fn count_overridden(
    store: &Store,
    now: u64,
    scopes: &[&lifeline_core::Scope],
) -> Result<u64, StoreError> {
    use lifeline_core::Scope;
    if scopes.is_empty() {
        return Ok(0);
    }
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    for scope in scopes {
        let (column, value) = match scope {
            Scope::License(id) => ("id", id),
            Scope::Licensee(l) => ("licensee", l),
            Scope::Product(p) => ("product", p),
            _ => {
                conditions.push("1 = 1".to_owned());
                continue;
            }
        };
        binds.push(value.clone());
        conditions.push(format!("{column} = ${}", binds.len() + 1));
    }
    let sql = format!(
        "SELECT COUNT(*) AS n FROM licenses WHERE revoked_at IS NULL AND expires_at <= $1 AND ({})",
        conditions.join(" OR ")
    );
    let mut query = sqlx::query(&sql).bind(db(now));
    for b in binds {
        query = query.bind(b);
    }
    let row = query.fetch_one(store.pool()).await?;
    Ok(secs(row.try_get::<i64, _>("n")?))
}

pub(crate) async fn census(
    store: &Store,
    now: u64,
    windows: &[u64],
) -> Result<(StateCounts, Vec<u64>), StoreError> {
    let states = [
        LicenseState::Valid,
        LicenseState::Grace,
        LicenseState::Expired,
        LicenseState::Revoked,
    ];
    let mut columns: Vec<String> = states
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS s{i}",
                state_sql(*s).replace('?', "$1")
            )
        })
        .collect();
    for i in 0..windows.len() {
        columns.push(format!(
            "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS w{i}",
            EXPIRING_SQL.replace("$2", &format!("${}", i + 2))
        ));
    }
    let sql = format!("SELECT {} FROM licenses", columns.join(", "));
    let mut query = sqlx::query(&sql).bind(db(now));
    for w in windows {
        query = query.bind(db(now.saturating_add(*w)));
    }
    let row = query.fetch_one(store.pool()).await?;
    let count = |col: String| -> Result<u64, StoreError> {
        Ok(secs(
            row.try_get::<Option<i64>, _>(col.as_str())?.unwrap_or(0),
        ))
    };
    let counts = StateCounts {
        valid: count("s0".into())?,
        grace: count("s1".into())?,
        expired: count("s2".into())?,
        revoked: count("s3".into())?,
        overridden: 0,
    };
    let expiring = (0..windows.len())
        .map(|i| count(format!("w{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((counts, expiring))
}

/// The first `limit` licenses expiring within `within` seconds, soonest first.
pub(crate) async fn expiring_soon(
    store: &Store,
    now: u64,
    within: u64,
    limit: u32,
) -> Result<Vec<License>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM licenses WHERE {EXPIRING_SQL} ORDER BY expires_at, id LIMIT {limit}"
    ))
    .bind(db(now))
    .bind(db(now.saturating_add(within)))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|r| from_row(r, now)).collect()
}
