//! Webhook endpoints and their messages, per the Standard Webhooks specification: each
//! message is a JSON `{type, timestamp, data}` POSTed with `webhook-id` (stable across
//! retries), `webhook-timestamp` (the attempt's, unix seconds) and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the bytes of the
//! endpoint's `whsec_<base64>` secret).
//!
//! Events are written to the outbox (`webhook_outbox`, one row per endpoint) by [`enqueue`]
//! in the transaction of the change they announce, so a crash loses none; `deliver.rs` sends
//! them. The secret is stored (it signs) but never listed, logged or audited.

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use lifeline_api::{CreateWebhook, Webhook, WebhookCreated, WebhookEventType};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::problem::AppError;
use crate::store::{Store, StoreError, WriteTx, like_escape};

/// Prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Endpoints at most (deleted ones excluded).
const MAX_WEBHOOKS: i64 = 100;
/// Longest endpoint URL.
const MAX_URL: usize = 2048;

fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A fresh secret: 32 random bytes.
fn new_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

/// `webhook-signature` for one attempt: `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`
/// keyed with the secret's bytes (`whsec_` and base64 removed). `None` for a malformed secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: u64, body: &[u8]) -> Option<String> {
    let key = STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Unix seconds as RFC 3339 UTC (`2021-02-25T15:02:10Z`).
pub(crate) fn rfc3339(t: u64) -> String {
    let days = t / 86_400;
    let rem = t % 86_400;
    // Civil date from days since 1970-01-01 (eras of 400 years, March-based years).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes `event` for every enabled endpoint subscribed to it, in `w`'s transaction: one
/// message id for all of them, delivered from `now` on.
pub(crate) async fn enqueue(
    w: &mut WriteTx,
    event: WebhookEventType,
    data: &Value,
    now: u64,
) -> Result<(), StoreError> {
    let msg_id = format!("msg_{}", crate::ids::new_id()?.replace('-', ""));
    let payload = json!({ "type": event.as_str(), "timestamp": rfc3339(now), "data": data });
    sqlx::query(
        "INSERT INTO webhook_outbox (msg_id, webhook_id, event_type, payload, created_at, next_attempt_at) \
         SELECT $1, id, $2, $3, $4, $4 FROM webhooks \
         WHERE deleted_at IS NULL AND disabled_at IS NULL AND events LIKE $5 ESCAPE '\\'",
    )
    .bind(&msg_id)
    .bind(event.as_str())
    .bind(payload.to_string())
    .bind(db(now))
    .bind(format!("%,{},%", like_escape(event.as_str())))
    .execute(&mut *w.tx)
    .await?;
    Ok(())
}

fn unprocessable(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

/// An `http` or `https` URL with a host and no credentials.
pub fn check_url(url: &str) -> Result<(), AppError> {
    let bad = || {
        unprocessable(
            "invalid_url",
            format!(
                "url must be an http or https URL with a host, at most {MAX_URL} characters, without credentials"
            ),
        )
    };
    if url.len() > MAX_URL {
        return Err(bad());
    }
    let uri: axum::http::Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let authority = uri.authority().ok_or_else(bad)?;
    if !scheme_ok || authority.host().is_empty() || authority.as_str().contains('@') {
        return Err(bad());
    }
    Ok(())
}

const COLUMNS: &str = "id, url, events, created_at, consecutive_failures, disabled_at";

fn from_row(row: &AnyRow) -> Result<Webhook, StoreError> {
    let events: String = row.try_get("events")?;
    Ok(Webhook {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        events: WebhookEventType::ALL
            .into_iter()
            .filter(|e| events.contains(&format!(",{},", e.as_str())))
            .collect(),
        created_at: secs(row.try_get("created_at")?),
        consecutive_failures: secs(row.try_get("consecutive_failures")?),
        disabled_at: row.try_get::<Option<i64>, _>("disabled_at")?.map(secs),
    })
}

/// Creates an endpoint; its secret is returned once.
pub(crate) async fn create(
    store: &Store,
    actor: &str,
    req: &CreateWebhook,
    allow_private: bool,
    now: u64,
) -> Result<WebhookCreated, AppError> {
    check_url(&req.url)?;
    if !allow_private {
        let url = req.url.clone();
        tokio::task::spawn_blocking(move || crate::webhook_target::check_public(&url))
            .await
            .map_err(AppError::internal)?
            .map_err(|why| unprocessable("private_target", why))?;
    }
    let mut events = req.events.clone();
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(unprocessable(
            "invalid_events",
            "name at least one event: incident.opened, incident.resolved, license.revoked, override.issued",
        ));
    }
    let webhook = Webhook {
        id: format!("wh-{}", crate::ids::new_id()?),
        url: req.url.clone(),
        events,
        created_at: now,
        consecutive_failures: 0,
        disabled_at: None,
    };
    let secret = new_secret()?;
    let events_column = format!(
        ",{},",
        webhook
            .events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut w = store.write().await?;
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM webhooks WHERE deleted_at IS NULL")
        .fetch_one(&mut *w.tx)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(StoreError::from)?;
    if count >= MAX_WEBHOOKS {
        return Err(AppError::conflict(format!(
            "at most {MAX_WEBHOOKS} webhook endpoints: delete one first"
        )));
    }
    sqlx::query(
        "INSERT INTO webhooks (id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&webhook.id)
    .bind(&webhook.url)
    .bind(&secret)
    .bind(&events_column)
    .bind(db(now))
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?;
    let after = json!({ "url": webhook.url, "events": webhook.events });
    w.audit(actor, "webhook.created", &webhook.id, None, Some(&after))
        .await?;
    w.commit().await?;
    Ok(WebhookCreated { webhook, secret })
}

/// The endpoints not deleted, oldest first (never their secrets).
pub(crate) async fn list(store: &Store) -> Result<Vec<Webhook>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE deleted_at IS NULL ORDER BY created_at, id"
    ))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes an endpoint: nothing more is sent to it (its undelivered messages are dropped).
pub(crate) async fn delete(store: &Store, actor: &str, id: &str, now: u64) -> Result<(), AppError> {
    let mut w = store.write().await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND deleted_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(&mut *w.tx)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::not_found(format!("no webhook {id:?}")))?;
    let before = from_row(&row)?;
    sqlx::query("UPDATE webhooks SET deleted_at = $1 WHERE id = $2")
        .bind(db(now))
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(StoreError::from)?;
    let before = json!({ "url": before.url, "events": before.events });
    w.audit(actor, "webhook.deleted", id, Some(&before), None)
        .await?;
    w.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_standard_webhooks_reference_vector() {
        // The specification's reference test vector (its libraries' `sign` test).
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("whsec_not base64!", "m", 1, b"{}"), None);
    }

    #[test]
    fn secrets_are_prefixed_base64_of_32_bytes() {
        let s = new_secret().unwrap();
        let raw = STANDARD
            .decode(s.strip_prefix(SECRET_PREFIX).unwrap())
            .unwrap();
        assert_eq!(raw.len(), 32);
        assert_ne!(s, new_secret().unwrap());
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_614_265_330), "2021-02-25T15:02:10Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn urls_are_http_or_https_with_a_host() {
        for ok in [
            "http://127.0.0.1:9000/hook",
            "https://hooks.example.com/x?y=1",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "/relative",
            "http://user:pw@example.com/",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(check_url(bad).unwrap_err().code(), "invalid_url", "{bad}");
        }
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(MAX_URL))).is_err());
    }
}
