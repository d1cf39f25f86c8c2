//! What `validate` keeps in memory so that an answer costs no store query and, for a token
//! seen before, no signature check and no new signature:
//!
//! - authenticated licenses per exact token (the core's `TokenCache`): key status, audience
//!   and time are still evaluated on every answer, so expiry and key changes apply at once;
//! - the revoked licenses, re-read from the store every [`REVOCATION_REFRESH`] (at once on the
//!   node that revoked): another node's revocation applies here within that time;
//! - the version of every license re-signed since it was first issued (id → `ver`), read
//!   incrementally every [`REVOCATION_REFRESH`] (only rows with a version above the highest
//!   seen: the versions come from one store-wide counter in commit order): a client
//!   presenting an older version is handed the current token (read from the store then,
//!   once per outdated client);
//! - the last answer per (token, instance) for [`LEASE_REUSE`]: an identical answer within a
//!   second is the same bytes, lease included (same `seq`, which clients accept), instead of
//!   a new signature and serialization.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lifeline_core::{KeySet, SignedLicense, TokenCache, UnverifiedLicense, VerifyError};
use sqlx::Row;

use crate::snapshot::Snapshot;
use crate::store::{Store, StoreError};

/// Other nodes' revocations reach this node's answers within this long.
pub const REVOCATION_REFRESH: Duration = Duration::from_secs(1);
/// An identical answer within this long reuses the lease already signed.
pub const LEASE_REUSE: Duration = Duration::from_secs(1);
/// Authenticated tokens remembered, and the bytes of them: enough for a fleet's working set
/// (the benchmark's 10,000 licenses in rotation fit; the old 4,096 / 4 MiB did not, and
/// every answer then checked a signature again). About 16 MiB of tokens and their claims.
const SIGNED_ENTRIES: usize = 16_384;
const SIGNED_BYTES: usize = 8 * 1024 * 1024;
/// Leases remembered (cleared when full).
const LEASE_ENTRIES: usize = 16_384;

type Revoked = HashMap<String, (u64, String)>;

/// The versions of the licenses re-signed since first issued, and the highest seen.
#[derive(Clone, Debug, Default)]
struct Versions {
    highest: u64,
    of: HashMap<String, u64>,
}

/// An answer already sent (its signed lease included).
#[derive(Clone, Debug)]
struct CachedAnswer {
    body: String,
    /// State, reason and override of the answer.
    summary: String,
    signed: Instant,
}

/// The validate hot path's memory (one per node).
pub(crate) struct HotPath {
    signed: Mutex<TokenCache<Arc<SignedLicense>>>,
    revoked: Snapshot<Revoked>,
    versions: Snapshot<Versions>,
    /// The last versions read (each refresh reads only what changed since).
    versions_read: Mutex<Arc<Versions>>,
    /// The signed status list, rebuilt at most every [`REVOCATION_REFRESH`] however many
    /// ask (at once after this node revokes).
    status_list: Snapshot<String>,
    answers: Mutex<HashMap<AnswerKey, CachedAnswer>>,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for HotPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotPath").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HotPath {
    pub(crate) fn new() -> Self {
        Self {
            signed: Mutex::new(TokenCache::with_max_bytes(SIGNED_ENTRIES, SIGNED_BYTES)),
            revoked: Snapshot::empty(REVOCATION_REFRESH),
            versions: Snapshot::empty(REVOCATION_REFRESH),
            versions_read: Mutex::new(Arc::default()),
            status_list: Snapshot::empty(REVOCATION_REFRESH),
            answers: Mutex::new(HashMap::new()),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The authenticated license for `token`, from the cache or by parsing and checking the
    /// signature (then remembered). Refusals are not cached.
    pub(crate) fn authenticate(
        &self,
        token: &[u8],
        keys: &KeySet,
    ) -> Result<Arc<SignedLicense>, VerifyError> {
        let token = token.trim_ascii();
        if let Some(hit) = lock(&self.signed).get(token) {
            // Authenticated before its key was marked compromised: authenticate again, which
            // takes the digest the key's issued list is checked against.
            if !hit.predates_compromise_in(keys) {
                return Ok(hit.clone());
            }
        }
        let signed = Arc::new(UnverifiedLicense::parse(token)?.authenticate(keys)?);
        lock(&self.signed).insert(token, signed.clone());
        Ok(signed)
    }

    /// When and why `id` was revoked, from a snapshot at most [`REVOCATION_REFRESH`] old.
    pub(crate) async fn revocation(
        &self,
        store: &Store,
        id: &str,
    ) -> Result<Option<(u64, String)>, StoreError> {
        let set = self
            .revoked
            .get(|| async { load_revoked(store).await.map(Arc::new) })
            .await?;
        Ok(set.get(id).cloned())
    }

    /// The store's version of license `id` (0: as first issued), from a snapshot at most
    /// [`REVOCATION_REFRESH`] old.
    pub(crate) async fn version(&self, store: &Store, id: &str) -> Result<u64, StoreError> {
        let versions = self
            .versions
            .get(|| async {
                let read = lock(&self.versions_read).clone();
                let now = load_versions(store, read).await?;
                *lock(&self.versions_read) = now.clone();
                Ok::<_, StoreError>(now)
            })
            .await?;
        Ok(versions.of.get(id).copied().unwrap_or(0))
    }

    /// Makes the next answer re-read versions (this node just re-signed a license).
    pub(crate) fn invalidate_versions(&self) {
        self.versions.invalidate();
    }

    /// Makes the next answer re-read revocations (this node just revoked one).
    pub(crate) fn invalidate_revocations(&self) {
        self.revoked.invalidate();
        self.status_list.invalidate();
    }

    /// The signed status list: the one built less than [`REVOCATION_REFRESH`] ago, else
    /// `build`'s (one caller builds, the others wait for it or take the previous one).
    pub(crate) async fn status_list<F>(
        &self,
        build: impl FnOnce() -> F,
    ) -> Result<Arc<String>, crate::problem::AppError>
    where
        F: std::future::Future<Output = Result<Arc<String>, crate::problem::AppError>>,
    {
        self.status_list.get(build).await
    }

    /// The key of a (token, instance)'s answer: computed once per request.
    pub(crate) fn answer_key(&self, token: &[u8], instance: Option<&str>) -> AnswerKey {
        AnswerKey(
            self.hasher.hash_one(token.trim_ascii()),
            instance.map(str::to_owned),
        )
    }

    /// The answer sent for the same token, instance and outcome less than [`LEASE_REUSE`]
    /// ago.
    pub(crate) fn reusable_answer(&self, key: &AnswerKey, summary: &str) -> Option<String> {
        lock(&self.answers)
            .get(key)
            .filter(|a| a.summary == summary && a.signed.elapsed() < LEASE_REUSE)
            .map(|a| a.body.clone())
    }

    /// Remembers an answer just sent.
    pub(crate) fn remember_answer(&self, key: AnswerKey, summary: String, body: String) {
        let mut answers = lock(&self.answers);
        if answers.len() >= LEASE_ENTRIES {
            answers.clear();
        }
        answers.insert(
            key,
            CachedAnswer {
                body,
                summary,
                signed: Instant::now(),
            },
        );
    }
}

/// Which answer: the token's hash and the instance asking.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AnswerKey(u64, Option<String>);

async fn load_revoked(store: &Store) -> Result<Revoked, StoreError> {
    let rows = sqlx::query(
        "SELECT id, revoked_at, revoke_reason FROM licenses WHERE revoked_at IS NOT NULL",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("id")?,
                (
                    u64::try_from(r.try_get::<i64, _>("revoked_at")?).unwrap_or(0),
                    r.try_get::<Option<String>, _>("revoke_reason")?
                        .unwrap_or_default(),
                ),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// `read` with the licenses re-signed since it was read (the same `Arc` when none was).
async fn load_versions(store: &Store, read: Arc<Versions>) -> Result<Arc<Versions>, StoreError> {
    let rows = sqlx::query("SELECT id, version FROM licenses WHERE version > $1")
        .bind(i64::try_from(read.highest).unwrap_or(i64::MAX))
        .fetch_all(store.pool())
        .await?;
    if rows.is_empty() {
        return Ok(read);
    }
    let mut now = (*read).clone();
    for r in &rows {
        let version = u64::try_from(r.try_get::<i64, _>("version")?).unwrap_or(0);
        now.highest = now.highest.max(version);
        now.of.insert(r.try_get("id")?, version);
    }
    Ok(Arc::new(now))
}
