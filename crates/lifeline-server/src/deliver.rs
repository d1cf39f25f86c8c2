//! Webhook delivery: one pass ([`deliver`]) sends the outbox's due messages, at least once.
//!
//! Endpoints are independent: each endpoint's due messages go out in order on a task of its
//! own, and an endpoint whose task still runs (a slow or hanging endpoint, up to the
//! attempt timeout) is left out of the passes that start meanwhile, which serve the others
//! (`serve` starts a pass every `every_ms` without waiting for the last). Each attempt is
//! signed as it is sent (its `webhook-timestamp` is the time of sending, not of the pass).
//!
//! A message is claimed before it is sent (its `next_attempt_at` moved past the attempt's
//! timeout by a conditional UPDATE), so two nodes never send the same attempt. A 2xx answer
//! delivers it; anything else (another status, a timeout, a refused connection) schedules the
//! next attempt after the configured backoff, until the attempts run out: then the message
//! has failed, and an endpoint whose last [`DeliveryConfig::disable_after`] messages all
//! failed is disabled (audited `webhook.disabled`). A delivery resets that count. Attempts
//! are bookkeeping, written outside the audit chain.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::store::{Store, StoreError};

/// How messages are delivered (`lifeline serve` uses the defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Waits before each retry, seconds: the first attempt, then one retry per entry
    /// (5 s, 30 s, 2 min, 10 min, 30 min).
    pub backoff_s: Vec<u64>,
    /// Each attempt's timeout, connection included, milliseconds (5 s; connecting alone at
    /// most 2 s).
    pub timeout_ms: u64,
    /// An endpoint is disabled after this many failed messages in a row (5).
    pub disable_after: u64,
    /// How often the background deliverer looks for due messages, milliseconds (1 s).
    pub every_ms: u64,
    /// Messages sent per pass at most (100).
    pub batch: u32,
    /// Whether endpoints may be loopback, link-local or private addresses (`serve
    /// --allow-private-webhooks`; off: refused when registered and before each attempt).
    pub allow_private: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            backoff_s: vec![5, 30, 120, 600, 1800],
            timeout_ms: 5_000,
            disable_after: 5,
            every_ms: 1000,
            batch: 100,
            allow_private: false,
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Attempts made.
    pub attempted: u64,
    /// Messages delivered (2xx).
    pub delivered: u64,
    /// Messages that ran out of attempts.
    pub failed: u64,
    /// Endpoints disabled.
    pub disabled: Vec<String>,
}

/// Connecting to an endpoint takes at most this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

struct Due {
    msg_id: String,
    webhook_id: String,
    payload: String,
    attempts: i64,
    next_attempt_at: i64,
    url: String,
    secret: String,
}

/// The endpoints with a delivery task running on this node.
pub(crate) type InFlight = Arc<Mutex<HashSet<String>>>;

/// Takes an endpoint off the in-flight set when its task ends, however it ends.
struct Turn {
    in_flight: InFlight,
    webhook_id: String,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.webhook_id);
    }
}

/// Sends the messages due at `now` (unix seconds), each endpoint on a task of its own,
/// leaving out the endpoints whose task from an earlier pass still runs.
#[tracing::instrument(name = "webhooks.deliver", level = "debug", skip_all, fields(now = now))]
pub(crate) async fn deliver(
    store: &Store,
    config: &Arc<DeliveryConfig>,
    in_flight: &InFlight,
    now: u64,
) -> Result<DeliveryReport, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT o.msg_id, o.webhook_id, o.payload, o.attempts, o.next_attempt_at, w.url, w.secret \
         FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id \
         WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= $1 \
         AND w.disabled_at IS NULL AND w.deleted_at IS NULL \
         ORDER BY o.next_attempt_at, o.created_at, o.msg_id LIMIT {}",
        config.batch.max(1)
    ))
    .bind(db(now))
    .fetch_all(store.pool())
    .await?;
    // Each endpoint's messages, in order.
    let mut by_endpoint: Vec<(String, Vec<Due>)> = Vec::new();
    for r in &rows {
        let d = Due {
            msg_id: r.try_get("msg_id")?,
            webhook_id: r.try_get("webhook_id")?,
            payload: r.try_get("payload")?,
            attempts: r.try_get("attempts")?,
            next_attempt_at: r.try_get("next_attempt_at")?,
            url: r.try_get("url")?,
            secret: r.try_get("secret")?,
        };
        match by_endpoint.iter_mut().find(|(id, _)| *id == d.webhook_id) {
            Some((_, list)) => list.push(d),
            None => by_endpoint.push((d.webhook_id.clone(), vec![d])),
        }
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (webhook_id, due) in by_endpoint {
        let fresh = in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(webhook_id.clone());
        if !fresh {
            continue; // its task from an earlier pass still runs
        }
        let turn = Turn {
            in_flight: in_flight.clone(),
            webhook_id,
        };
        let (store, config) = (store.clone(), config.clone());
        tasks.spawn(async move {
            let _turn = turn;
            endpoint_turn(&store, &config, due, now, started).await
        });
    }
    let mut report = DeliveryReport::default();
    while let Some(done) = tasks.join_next().await {
        let part = done.map_err(|_| StoreError::TaskEnded("a webhook delivery task"))??;
        report.attempted += part.attempted;
        report.delivered += part.delivered;
        report.failed += part.failed;
        report.disabled.extend(part.disabled);
    }
    Ok(report)
}

/// One endpoint's turn in a pass: its due messages in order (a hanging endpoint makes only
/// its own messages wait).
async fn endpoint_turn(
    store: &Store,
    config: &DeliveryConfig,
    due: Vec<Due>,
    now: u64,
    started: Instant,
) -> Result<DeliveryReport, StoreError> {
    let timeout = Duration::from_millis(config.timeout_ms.max(1));
    let claim_until = now.saturating_add(timeout.as_secs() + 60);
    let mut report = DeliveryReport::default();
    for d in due {
        let claimed = sqlx::query(
            "UPDATE webhook_outbox SET next_attempt_at = $1 WHERE msg_id = $2 AND webhook_id = $3 \
             AND next_attempt_at = $4 AND delivered_at IS NULL AND failed_at IS NULL",
        )
        .bind(db(claim_until))
        .bind(&d.msg_id)
        .bind(&d.webhook_id)
        .bind(d.next_attempt_at)
        .execute(store.pool())
        .await?
        .rows_affected();
        if claimed != 1 {
            continue; // another node took it
        }
        report.attempted += 1;
        // Signed as it is sent: the pass's `now` plus the time the pass has run.
        let sent_at = now.saturating_add(started.elapsed().as_secs());
        let outcome = send(&d, sent_at, timeout, config.allow_private).await;
        let attempts = d.attempts + 1;
        match outcome {
            Ok(()) => {
                sqlx::query(
                    "UPDATE webhook_outbox SET delivered_at = $1, attempts = $2, last_error = NULL \
                     WHERE msg_id = $3 AND webhook_id = $4",
                )
                .bind(db(sent_at))
                .bind(attempts)
                .bind(&d.msg_id)
                .bind(&d.webhook_id)
                .execute(store.pool())
                .await?;
                sqlx::query("UPDATE webhooks SET consecutive_failures = 0 WHERE id = $1")
                    .bind(&d.webhook_id)
                    .execute(store.pool())
                    .await?;
                report.delivered += 1;
            }
            Err(error) => {
                let retry = usize::try_from(d.attempts)
                    .ok()
                    .and_then(|i| config.backoff_s.get(i));
                match retry {
                    Some(wait) => {
                        sqlx::query(
                            "UPDATE webhook_outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 \
                             WHERE msg_id = $4 AND webhook_id = $5",
                        )
                        .bind(attempts)
                        .bind(db(now.saturating_add(*wait)))
                        .bind(&error)
                        .bind(&d.msg_id)
                        .bind(&d.webhook_id)
                        .execute(store.pool())
                        .await?;
                    }
                    None => {
                        report.failed += 1;
                        if give_up(store, config, &d, attempts, &error, now).await? {
                            report.disabled.push(d.webhook_id.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Marks a message failed; disables its endpoint after too many in a row (true if so).
async fn give_up(
    store: &Store,
    config: &DeliveryConfig,
    d: &Due,
    attempts: i64,
    error: &str,
    now: u64,
) -> Result<bool, StoreError> {
    sqlx::query(
        "UPDATE webhook_outbox SET attempts = $1, failed_at = $2, last_error = $3 \
         WHERE msg_id = $4 AND webhook_id = $5",
    )
    .bind(attempts)
    .bind(db(now))
    .bind(error)
    .bind(&d.msg_id)
    .bind(&d.webhook_id)
    .execute(store.pool())
    .await?;
    let failures: i64 = sqlx::query(
        "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 \
         RETURNING consecutive_failures",
    )
    .bind(&d.webhook_id)
    .fetch_one(store.pool())
    .await?
    .try_get("consecutive_failures")?;
    if u64::try_from(failures).unwrap_or(0) < config.disable_after.max(1) {
        return Ok(false);
    }
    let mut w = store.write().await?;
    let disabled =
        sqlx::query("UPDATE webhooks SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(db(now))
            .bind(&d.webhook_id)
            .execute(&mut *w.tx)
            .await?
            .rows_affected()
            == 1;
    if disabled {
        let after = json!({ "url": d.url, "failed_messages": failures, "last_error": error });
        w.audit(
            "system",
            "webhook.disabled",
            &d.webhook_id,
            None,
            Some(&after),
        )
        .await?;
    }
    w.commit().await?;
    Ok(disabled)
}

/// One attempt: POST the payload, signed for this attempt's timestamp. `Err` says why it did
/// not count as delivered.
async fn send(d: &Due, now: u64, timeout: Duration, allow_private: bool) -> Result<(), String> {
    let signature = crate::webhooks::sign(&d.secret, &d.msg_id, now, d.payload.as_bytes())
        .ok_or_else(|| "the endpoint's secret is malformed".to_owned())?;
    let url = d.url.clone();
    let msg_id = d.msg_id.clone();
    let body = d.payload.clone();
    let status = tokio::task::spawn_blocking(move || {
        if !allow_private {
            // Checked again at every attempt: the name may resolve elsewhere now.
            crate::webhook_target::check_public(&url)?;
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .max_redirects(0)
            .user_agent("lifeline-webhooks")
            .build()
            .into();
        agent
            .post(&url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .send(body.as_bytes())
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("delivery task: {e}"))??;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}
