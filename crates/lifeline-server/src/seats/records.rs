//! Seats in the store: activation (counted and inserted in one serialized write, so no
//! number of concurrent requests on any number of nodes gets past the limit), heartbeats,
//! release, borrowing (each applied inside a write `writer.rs` commits with others), an
//! operator's release, listing. The sweep is in `outages.rs`, the figures by product in
//! `usage.rs`.

use hmac::{Hmac, Mac};
use lifeline_api::{Seat, SeatEnd, SeatMode, SeatStatus};
use lifeline_core::SeatPolicy;
use serde_json::Value;
use sha2::Sha256;
use sqlx::Row;
use sqlx::any::AnyRow;

use lifeline_api::WebhookEventType;
use serde_json::json;

use crate::store::{Store, StoreError, WriteTx};
use crate::webhooks::enqueue;

const COLUMNS: &str = "id, license_id, fingerprint, name, mode, heartbeat_s, node, first_seen, last_heartbeat, status, borrowed_until, holds_until, ended_at, end_cause, end_reason";

/// A seat counts while alive or borrowed, and while a released one lingers.
const LIVE: &str =
    "(status IN ('alive', 'borrowed') OR (status = 'released' AND holds_until > $2))";

pub(super) fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The key of the fingerprints' keyed hash: made once per store, read at start.
pub(crate) async fn load_or_init_secret(store: &Store) -> Result<Vec<u8>, StoreError> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh)?;
    sqlx::query("INSERT INTO seat_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
        .bind(hex::encode(fresh))
        .execute(store.pool())
        .await?;
    let secret: String = sqlx::query("SELECT secret FROM seat_secret WHERE id = 1")
        .fetch_one(store.pool())
        .await?
        .try_get("secret")?;
    hex::decode(secret).map_err(|e| StoreError::corrupt("the seat secret", e))
}

/// What the store keeps of a fingerprint: HMAC-SHA256 under the store's seat secret, of the
/// license id and the fingerprint (hex).
pub(crate) fn keyed_fingerprint(secret: &[u8], license_id: &str, fingerprint: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(license_id.as_bytes());
    mac.update(&[0]);
    mac.update(fingerprint.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A seat row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SeatRow {
    pub(crate) id: String,
    pub(crate) license_id: String,
    pub(crate) fingerprint: String,
    pub(crate) name: String,
    pub(crate) mode: SeatMode,
    pub(crate) heartbeat_s: u64,
    pub(crate) node: String,
    pub(crate) first_seen: u64,
    pub(crate) last_heartbeat: u64,
    pub(crate) status: SeatStatus,
    pub(crate) borrowed_until: Option<u64>,
    pub(crate) holds_until: Option<u64>,
    pub(crate) ended_at: Option<u64>,
    pub(crate) end_cause: Option<SeatEnd>,
    pub(crate) end_reason: Option<String>,
}

impl SeatRow {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let opt = |name: &str| -> Result<Option<u64>, StoreError> {
            Ok(row.try_get::<Option<i64>, _>(name)?.map(secs))
        };
        let text = |name: &str| -> Result<String, StoreError> { Ok(row.try_get(name)?) };
        Ok(Self {
            id: text("id")?,
            license_id: text("license_id")?,
            fingerprint: text("fingerprint")?,
            name: text("name")?,
            mode: enum_of("mode", text("mode")?)?,
            heartbeat_s: secs(row.try_get("heartbeat_s")?),
            node: text("node")?,
            first_seen: secs(row.try_get("first_seen")?),
            last_heartbeat: secs(row.try_get("last_heartbeat")?),
            status: enum_of("status", text("status")?)?,
            borrowed_until: opt("borrowed_until")?,
            holds_until: opt("holds_until")?,
            ended_at: opt("ended_at")?,
            end_cause: row
                .try_get::<Option<String>, _>("end_cause")?
                .map(|c| enum_of("end_cause", c))
                .transpose()?,
            end_reason: row.try_get("end_reason")?,
        })
    }

    /// Whether the seat counts against the license at `now`.
    pub(crate) fn is_live(&self, now: u64) -> bool {
        match self.status {
            SeatStatus::Alive | SeatStatus::Borrowed => true,
            SeatStatus::Released => self.holds_until.is_some_and(|h| h > now),
            SeatStatus::Reclaimed => false,
        }
    }

    /// When its lease runs out: the borrow's end, or a heartbeat period after the last one.
    pub(crate) fn lease_expires_at(&self) -> Option<u64> {
        match self.status {
            SeatStatus::Borrowed => self.borrowed_until,
            SeatStatus::Alive => Some(self.last_heartbeat.saturating_add(self.heartbeat_s)),
            SeatStatus::Released | SeatStatus::Reclaimed => None,
        }
    }

    /// As operators see it.
    pub(crate) fn to_api(&self) -> Seat {
        Seat {
            id: self.id.clone(),
            license_id: self.license_id.clone(),
            name: self.name.clone(),
            fingerprint_hash: self.fingerprint.chars().take(12).collect(),
            mode: self.mode,
            node: self.node.clone(),
            first_seen: self.first_seen,
            last_heartbeat: self.last_heartbeat,
            status: self.status,
            lease_expires_at: self.lease_expires_at(),
            borrowed_until: self.borrowed_until,
            ended_at: self.ended_at,
            end_cause: self.end_cause,
            end_reason: self.end_reason.clone(),
        }
    }
}

/// A snake_case enum stored as TEXT.
fn enum_of<T: serde::de::DeserializeOwned>(column: &str, text: String) -> Result<T, StoreError> {
    serde_json::from_value(Value::String(text.clone()))
        .map_err(|_| StoreError::corrupt(format!("seat column {column}"), format!("{text:?}")))
}

async fn live_count(w: &mut WriteTx, license_id: &str, now: u64) -> Result<u32, StoreError> {
    let n: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM seats WHERE license_id = $1 AND {LIVE}"
    ))
    .bind(license_id)
    .bind(db(now))
    .fetch_one(&mut *w.tx)
    .await?
    .try_get("n")?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Live seats of a license at `now`.
pub(crate) async fn count_live(
    store: &Store,
    license_id: &str,
    now: u64,
) -> Result<u32, StoreError> {
    let n: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM seats WHERE license_id = $1 AND {LIVE}"
    ))
    .bind(license_id)
    .bind(db(now))
    .fetch_one(store.pool())
    .await?
    .try_get("n")?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// What an activation asks.
#[derive(Clone, Debug)]
pub(crate) struct Activation {
    pub(crate) license_id: String,
    pub(crate) fingerprint: String,
    pub(crate) name: String,
    pub(crate) policy: SeatPolicy,
    pub(crate) node: String,
    pub(crate) now: u64,
}

/// What an activation got.
#[derive(Debug)]
pub(crate) enum Activated {
    /// A new seat.
    Created(SeatRow, u32),
    /// The machine's live (or lingering) seat, renewed.
    Reused(SeatRow, u32),
    /// Every seat is taken: the live count.
    Exhausted(u32),
}

/// Activates a seat in `w` (a serialized write): the machine's own if it has one, else a
/// new one if one is free.
pub(super) async fn activate_in(w: &mut WriteTx, a: &Activation) -> Result<Activated, StoreError> {
    let mine: Option<String> = sqlx::query(&format!(
        "SELECT id FROM seats WHERE license_id = $1 AND fingerprint = $3 AND {LIVE} ORDER BY last_heartbeat DESC"
    ))
    .bind(&a.license_id)
    .bind(db(a.now))
    .bind(&a.fingerprint)
    .fetch_optional(&mut *w.tx)
    .await?
    .map(|row| row.try_get("id"))
    .transpose()?;
    if let Some(id) = mine {
        // Alive or borrowed: renewed. Lingering after a release: alive again.
        let row = sqlx::query(&format!(
            "UPDATE seats SET status = CASE WHEN status = 'released' THEN 'alive' ELSE status END, \
             last_heartbeat = $2, node = $3, holds_until = NULL, ended_at = NULL, end_cause = NULL, end_reason = NULL \
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(&id)
        .bind(db(a.now))
        .bind(&a.node)
        .fetch_one(&mut *w.tx)
        .await?;
        let in_use = live_count(w, &a.license_id, a.now).await?;
        return Ok(Activated::Reused(SeatRow::from_row(&row)?, in_use));
    }
    let in_use = live_count(w, &a.license_id, a.now).await?;
    if in_use >= a.policy.limit() {
        let data = json!({ "license_id": a.license_id, "name": a.name, "in_use": in_use, "max": a.policy.limit(), "node": a.node });
        enqueue(w, WebhookEventType::SeatDenied, &data, a.now).await?;
        return Ok(Activated::Exhausted(in_use));
    }
    let seat = SeatRow {
        id: crate::ids::new_id()?,
        license_id: a.license_id.clone(),
        fingerprint: a.fingerprint.clone(),
        name: a.name.clone(),
        mode: a.policy.mode,
        heartbeat_s: a.policy.heartbeat_s,
        node: a.node.clone(),
        first_seen: a.now,
        last_heartbeat: a.now,
        status: SeatStatus::Alive,
        borrowed_until: None,
        holds_until: None,
        ended_at: None,
        end_cause: None,
        end_reason: None,
    };
    sqlx::query(&format!(
        "INSERT INTO seats ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'alive', NULL, NULL, NULL, NULL, NULL)"
    ))
    .bind(&seat.id)
    .bind(&seat.license_id)
    .bind(&seat.fingerprint)
    .bind(&seat.name)
    .bind(seat.mode.as_str())
    .bind(db(seat.heartbeat_s))
    .bind(&seat.node)
    .bind(db(a.now))
    .execute(&mut *w.tx)
    .await?;
    let data = json!({ "seat_id": seat.id, "license_id": a.license_id, "name": a.name, "mode": a.policy.mode.as_str(), "in_use": in_use + 1, "max": a.policy.limit(), "node": a.node });
    enqueue(w, WebhookEventType::SeatActivated, &data, a.now).await?;
    Ok(Activated::Created(seat, in_use + 1))
}

/// One seat.
pub(crate) async fn get(store: &Store, id: &str) -> Result<Option<SeatRow>, StoreError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM seats WHERE id = $1"))
        .bind(id)
        .fetch_optional(store.pool())
        .await?
        .map(|r| SeatRow::from_row(&r))
        .transpose()
}

/// A license's seats: live ones first, then the most recent; at most `limit`.
pub(crate) async fn for_license(
    store: &Store,
    license_id: &str,
    limit: u32,
) -> Result<Vec<SeatRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM seats WHERE license_id = $1 \
         ORDER BY CASE WHEN status IN ('alive', 'borrowed') THEN 0 ELSE 1 END, last_heartbeat DESC, id LIMIT $2"
    ))
    .bind(license_id)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(SeatRow::from_row).collect()
}

/// A change a machine asks for its own seat.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    /// A heartbeat.
    Heartbeat,
    /// A release; the seat still counts `linger_s`.
    Release { linger_s: u64 },
    /// A borrow until then.
    Borrow { until: u64 },
}

impl Change {
    /// The request's name in metrics.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Heartbeat => "heartbeat",
            Self::Release { .. } => "release",
            Self::Borrow { .. } => "borrow",
        }
    }
}

/// A machine's change to its own seat.
#[derive(Clone, Debug)]
pub(crate) struct SeatChange {
    pub(crate) seat_id: String,
    pub(crate) license_id: String,
    /// The keyed fingerprint.
    pub(crate) fingerprint: String,
    pub(crate) node: String,
    pub(crate) change: Change,
    pub(crate) now: u64,
}

/// Applies a machine's change to its seat in `w`, if the seat is its own and still held.
/// Returns the seat as it now is and whether this change applied (`None`: no such seat).
pub(super) async fn change_in(
    w: &mut WriteTx,
    c: &SeatChange,
) -> Result<Option<(SeatRow, bool)>, StoreError> {
    let held =
        "id = $1 AND license_id = $2 AND fingerprint = $3 AND status IN ('alive', 'borrowed')";
    let (set, extra) = match c.change {
        Change::Heartbeat => ("last_heartbeat = $4, node = $5", None),
        Change::Release { linger_s } => (
            "status = 'released', ended_at = $4, node = $5, holds_until = $6, \
             end_cause = 'released', borrowed_until = NULL",
            Some(c.now.saturating_add(linger_s)),
        ),
        Change::Borrow { until } => (
            "status = 'borrowed', last_heartbeat = $4, node = $5, borrowed_until = $6",
            Some(until),
        ),
    };
    let sql = format!("UPDATE seats SET {set} WHERE {held} RETURNING {COLUMNS}");
    let mut query = sqlx::query(&sql)
        .bind(&c.seat_id)
        .bind(&c.license_id)
        .bind(&c.fingerprint)
        .bind(db(c.now))
        .bind(&c.node);
    if let Some(extra) = extra {
        query = query.bind(db(extra));
    }
    if let Some(row) = query.fetch_optional(&mut *w.tx).await? {
        if let Change::Release { .. } = c.change {
            // A release changes the count: written with its webhook message.
            let data = json!({ "seat_id": c.seat_id, "license_id": c.license_id, "by": "machine", "node": c.node });
            enqueue(w, WebhookEventType::SeatReleased, &data, c.now).await?;
        }
        return Ok(Some((SeatRow::from_row(&row)?, true)));
    }
    // Not applied: the seat as it is (another machine's, ended, or none).
    sqlx::query(&format!("SELECT {COLUMNS} FROM seats WHERE id = $1"))
        .bind(&c.seat_id)
        .fetch_optional(&mut *w.tx)
        .await?
        .map(|r| Ok((SeatRow::from_row(&r)?, false)))
        .transpose()
}

/// An operator ends a seat (audited with the reason). `None`: no such seat; a seat already
/// ended is returned unchanged.
pub(crate) async fn force_release(
    store: &Store,
    id: &str,
    actor: &str,
    reason: &str,
    now: u64,
) -> Result<Option<(SeatRow, bool)>, StoreError> {
    let Some(before) = get(store, id).await? else {
        return Ok(None);
    };
    if !matches!(before.status, SeatStatus::Alive | SeatStatus::Borrowed) {
        return Ok(Some((before, false)));
    }
    let mut w = store.write().await?;
    let done = sqlx::query(
        "UPDATE seats SET status = 'released', ended_at = $2, holds_until = $2, end_cause = 'admin', \
         end_reason = $3, borrowed_until = NULL WHERE id = $1 AND status IN ('alive', 'borrowed')",
    )
    .bind(id)
    .bind(db(now))
    .bind(reason)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if done == 1 {
        let detail = serde_json::json!({ "license_id": before.license_id, "reason": reason });
        w.audit(actor, "seat.released", id, None, Some(&detail))
            .await?;
        let data = json!({ "seat_id": id, "license_id": before.license_id, "by": "operator", "reason": reason });
        enqueue(&mut w, WebhookEventType::SeatReleased, &data, now).await?;
        w.commit().await?;
    }
    let after = get(store, id)
        .await?
        .ok_or_else(|| StoreError::corrupt("a seat", "vanished"))?;
    Ok(Some((after, done == 1)))
}
