//! Storage: one implementation over sqlx's `Any` driver, two real backends — SQLite (the
//! embedded default; WAL, `synchronous=FULL`) and PostgreSQL (several nodes, one store).
//! One set of migrations for both (`migrations/`).
//!
//! Every write runs in a [`WriteTx`], which first moves the audit chain's head: that one row
//! serializes writers on both backends, and the audit event is appended in the same
//! transaction as the change it records.

use std::time::Duration;

use lifeline_api::AuditEvent;
use serde_json::Value;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::audit;

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A storage failure. Never shown to API callers in detail (see `problem.rs`): they get 503
/// `store_unavailable`; the log gets this.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed or refused (connection, statement, constraint, timeout).
    Database(sqlx::Error),
    /// A database URL this server cannot use.
    UnsupportedUrl(String),
    /// A stored value that does not read back as what the server wrote (JSON that does not
    /// parse, a token that no longer verifies): the store was changed outside the server.
    Corrupt {
        /// What was being read.
        what: String,
        /// Why it does not read.
        detail: String,
    },
    /// A value could not be encoded for storing.
    Encode {
        /// What was being written.
        what: &'static str,
        /// The failure.
        source: serde_json::Error,
    },
    /// The system's random generator failed (ids, secrets).
    Random(getrandom::Error),
    /// A file next to the store (the first admin token).
    File {
        /// The file.
        path: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A task holding a store resource (the drills' store lock) ended early.
    TaskEnded(&'static str),
    /// A write done together with others (group commit) that the database refused: the
    /// failure, as every request of the batch is told.
    Batch(String),
}

impl StoreError {
    /// A stored value that does not read back.
    pub(crate) fn corrupt(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "store: {e}"),
            Self::UnsupportedUrl(url) => write!(
                f,
                "store: unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
            ),
            Self::Corrupt { what, detail } => {
                write!(f, "store: {what} does not read back: {detail}")
            }
            Self::Encode { what, source } => write!(f, "store: cannot encode {what}: {source}"),
            Self::Random(e) => write!(f, "store: the system's random generator failed: {e}"),
            Self::File { path, source } => {
                write!(f, "store: cannot write {}: {source}", path.display())
            }
            Self::TaskEnded(what) => write!(f, "store: {what} ended"),
            Self::Batch(why) => write!(f, "store: a batched write failed: {why}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(e) => Some(e),
            Self::Encode { source, .. } => Some(source),
            Self::File { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

impl From<getrandom::Error> for StoreError {
    fn from(e: getrandom::Error) -> Self {
        Self::Random(e)
    }
}

/// The license database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The schema, in order: one set of files for both backends. The SQL is the part both
/// speak (`TEXT`, `BIGINT`, `INTEGER`, numbered `$n` placeholders); a statement that had to
/// differ would be chosen by backend in [`Store::migrate`], the one place for it.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../migrations/0001_init.sql")),
    (
        "0002_status_list",
        include_str!("../migrations/0002_status_list.sql"),
    ),
    (
        "0003_audit_filters",
        include_str!("../migrations/0003_audit_filters.sql"),
    ),
    (
        "0004_overrides",
        include_str!("../migrations/0004_overrides.sql"),
    ),
    (
        "0005_incidents",
        include_str!("../migrations/0005_incidents.sql"),
    ),
    ("0006_drills", include_str!("../migrations/0006_drills.sql")),
    ("0007_seats", include_str!("../migrations/0007_seats.sql")),
    (
        "0008_seat_due",
        include_str!("../migrations/0008_seat_due.sql"),
    ),
    (
        "0009_token_principals",
        include_str!("../migrations/0009_token_principals.sql"),
    ),
    (
        "0010_license_versions",
        include_str!("../migrations/0010_license_versions.sql"),
    ),
    (
        "0011_key_compromise",
        include_str!("../migrations/0011_key_compromise.sql"),
    ),
];

impl Store {
    /// Connects (`sqlite://PATH` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            options = options.max_connections(4).after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL for concurrent readers; FULL so an acknowledged write survives a crash;
                    // a 64 MiB page cache and rarer checkpoints for bulk issuing (measured:
                    // 100,000 licenses 5.6-6.6 s -> 5.2-5.3 s).
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA cache_size = -65536",
                        "PRAGMA wal_autocheckpoint = 10000",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(16);
        }
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
        } else {
            url.to_owned()
        };
        let pool = options.connect(&url).await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&self.pool)
            .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            if self.backend == Backend::Postgres {
                // Several nodes may start at once: one migrates, the others wait.
                sqlx::query("SELECT pg_advisory_xact_lock(4242)")
                    .execute(&mut *tx)
                    .await?;
            }
            let done: Option<AnyRow> =
                sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(*version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_none() {
                // Comments go first (they may contain ';'), then one statement per ';'.
                let code: String = sql
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect::<Vec<_>>()
                    .join("\n");
                for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(*version)
                    .bind(crate::clock::now_i64())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool, for the query modules.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write: locks the audit head so this transaction's events extend the chain.
    #[tracing::instrument(name = "store.write", level = "debug", skip_all)]
    pub(crate) async fn write(&self) -> Result<WriteTx, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        let seq: i64 = row.try_get("seq")?;
        let hash: String = row.try_get("hash")?;
        Ok(WriteTx {
            tx,
            seq,
            hash,
            appended: false,
            backend: self.backend,
        })
    }

    /// Audit events matching `filter`, at most `limit`, in the filter's order.
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut f = Filter::default();
        if let Some(after) = filter.after {
            f.add(
                "seq > ?",
                Bind::Int(i64::try_from(after).unwrap_or(i64::MAX)),
            );
        }
        if let Some(before) = filter.before {
            f.add(
                "seq < ?",
                Bind::Int(i64::try_from(before).unwrap_or(i64::MAX)),
            );
        }
        if let Some(subject) = &filter.subject {
            f.add("subject = ?", Bind::Text(subject.clone()));
        }
        match &filter.action {
            Some(prefix) if prefix.ends_with('.') => f.add(
                "action LIKE ? ESCAPE '\\'",
                Bind::Text(format!("{}%", like_escape(prefix))),
            ),
            Some(action) => f.add("action = ?", Bind::Text(action.clone())),
            None => {}
        }
        let order = if filter.descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT seq, at, actor, action, subject, before_json, after_json, prev_hash, hash \
             FROM audit_events {} ORDER BY seq {order} LIMIT {limit}",
            f.where_clause()
        );
        let rows = f.bind_all(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// Which audit events to read (`GET /api/v1/audit`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only `seq > after`.
    pub after: Option<u64>,
    /// Only `seq < before`.
    pub before: Option<u64>,
    /// Only this subject (exact).
    pub subject: Option<String>,
    /// Only this action; an action ending with `.` (`license.`) is a prefix.
    pub action: Option<String>,
    /// Newest first instead of oldest first.
    pub descending: bool,
}

impl AuditFilter {
    /// Events after `seq`, oldest first: how the whole chain is walked.
    pub fn after(seq: u64) -> Self {
        Self {
            after: Some(seq),
            ..Self::default()
        }
    }
}

/// A value bound to a placeholder.
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// SQL conditions with numbered placeholders (`$1`, `$2`, ...) and their values: the one
/// query builder for filtered reads (licenses, audit events).
#[derive(Default)]
pub(crate) struct Filter {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Adds a condition; every `?` in it is the one value `bind` (numbered in order).
    pub(crate) fn add(&mut self, sql: &str, bind: Bind) {
        self.binds.push(bind);
        self.conditions
            .push(sql.replace('?', &format!("${}", self.binds.len())));
    }

    /// `WHERE a AND b ...`, or nothing.
    pub(crate) fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// Binds the values, in order, to a query built from [`Self::where_clause`].
    pub(crate) fn bind_all<'q>(
        self,
        mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        for b in self.binds {
            query = match b {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        query
    }
}

/// `text` with LIKE's wildcards (`%`, `_`) and the escape character (`\`) escaped, for
/// `LIKE ... ESCAPE '\'` (the same on SQLite and PostgreSQL).
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn audit_from_row(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    let json = |col: &str| -> Result<Option<Value>, StoreError> {
        let text: Option<String> = row.try_get(col)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(AuditEvent {
        seq: u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
        at: u64::try_from(row.try_get::<i64, _>("at")?).unwrap_or(0),
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        before: json("before_json")?,
        after: json("after_json")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// A write transaction holding the audit chain's head.
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    seq: i64,
    hash: String,
    appended: bool,
    backend: Backend,
}

impl WriteTx {
    /// The store's backend (SQL that differs between them).
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Appends one audit event to the chain, in this transaction.
    pub(crate) async fn audit(
        &mut self,
        actor: &str,
        action: &str,
        subject: &str,
        before: Option<&Value>,
        after: Option<&Value>,
    ) -> Result<(), StoreError> {
        let seq = self.seq + 1;
        let at = crate::clock::now_i64();
        let event = audit::EventBody {
            seq: u64::try_from(seq).unwrap_or(0),
            at: u64::try_from(at).unwrap_or(0),
            actor,
            action,
            subject,
            before,
            after,
        };
        let hash = audit::chain_hash(&self.hash, &event);
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, action, subject, before_json, after_json, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(before.map(Value::to_string))
        .bind(after.map(Value::to_string))
        .bind(&self.hash)
        .bind(&hash)
        .execute(&mut *self.tx)
        .await?;
        self.seq = seq;
        self.hash = hash;
        self.appended = true;
        Ok(())
    }

    /// Reserves `n` consecutive status-list indexes in this transaction.
    pub(crate) async fn allocate_status(&mut self, n: usize) -> Result<u64, StoreError> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let next: i64 =
            sqlx::query("UPDATE status_counter SET next = next + $1 WHERE id = 1 RETURNING next")
                .bind(n)
                .fetch_one(&mut *self.tx)
                .await?
                .try_get("next")?;
        Ok(u64::try_from(next - n).unwrap_or(0))
    }

    /// Commits the change and its audit events together.
    #[tracing::instrument(name = "store.commit", level = "debug", skip_all)]
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        if self.appended {
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.seq)
                .bind(&self.hash)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::like_escape;

    #[test]
    fn like_escape_makes_wildcards_literal() {
        assert_eq!(like_escape("plain"), "plain");
        assert_eq!(like_escape("50%_off"), "50\\%\\_off");
        assert_eq!(like_escape("a\\b"), "a\\\\b");
        assert_eq!(like_escape(""), "");
    }
}

#[cfg(test)]
mod typed_errors {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn failures_say_what_failed() {
        let err = Store::open("mysql://localhost/licenses").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::UnsupportedUrl(url) if url == "mysql://localhost/licenses")
        );
        assert!(
            err.to_string().contains("use sqlite://PATH or postgres://"),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("lifeline-store-{}", std::process::id()));
        let missing = format!("sqlite://{}/no/such/dir/x.db", dir.display());
        let err = Store::open(&missing).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        let corrupt = StoreError::corrupt("a stored drill report", "expected value at line 1");
        assert_eq!(
            corrupt.to_string(),
            "store: a stored drill report does not read back: expected value at line 1"
        );
    }
}
