//! Webhook delivery: one pass ([`deliver`]) sends the outbox's due messages, at least once.
//!
//! A message is claimed before it is sent (its `next_attempt_at` moved past the attempt's
//! timeout by a conditional UPDATE), so two nodes never send the same attempt. A 2xx answer
//! delivers it; anything else (another status, a timeout, a refused connection) schedules the
//! next attempt after the configured backoff, until the attempts run out: then the message
//! has failed, and an endpoint whose last [`DeliveryConfig::disable_after`] messages all
//! failed is disabled (audited `webhook.disabled`). A delivery resets that count. Attempts
//! are bookkeeping, written outside the audit chain.

use std::time::Duration;

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
    /// Each attempt's timeout, milliseconds (10 s).
    pub timeout_ms: u64,
    /// An endpoint is disabled after this many failed messages in a row (5).
    pub disable_after: u64,
    /// How often the background deliverer looks for due messages, milliseconds (1 s).
    pub every_ms: u64,
    /// Messages sent per pass at most (100).
    pub batch: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            backoff_s: vec![5, 30, 120, 600, 1800],
            timeout_ms: 10_000,
            disable_after: 5,
            every_ms: 1000,
            batch: 100,
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

/// Sends the messages due at `now` (unix seconds).
#[tracing::instrument(name = "webhooks.deliver", level = "debug", skip_all, fields(now = now))]
pub(crate) async fn deliver(
    store: &Store,
    config: &DeliveryConfig,
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
    let due = rows
        .iter()
        .map(|r| {
            Ok(Due {
                msg_id: r.try_get("msg_id")?,
                webhook_id: r.try_get("webhook_id")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
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
        let outcome = send(&d, now, timeout).await;
        let attempts = d.attempts + 1;
        match outcome {
            Ok(()) => {
                sqlx::query(
                    "UPDATE webhook_outbox SET delivered_at = $1, attempts = $2, last_error = NULL \
                     WHERE msg_id = $3 AND webhook_id = $4",
                )
                .bind(db(now))
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
async fn send(d: &Due, now: u64, timeout: Duration) -> Result<(), String> {
    let signature = crate::webhooks::sign(&d.secret, &d.msg_id, now, d.payload.as_bytes())
        .ok_or_else(|| "the endpoint's secret is malformed".to_owned())?;
    let url = d.url.clone();
    let msg_id = d.msg_id.clone();
    let body = d.payload.clone();
    let status = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
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
