//! A leaked signing key, recovered in one operation (`POST /api/v1/keys/{kid}/compromise`,
//! `lifeline keys compromise KID`):
//!
//! ```text
//! check: the key exists, is not marked yet, the reason and incident are given
//! rotate to a fresh key if the leaked one is active      (licenses and leases stop using it)
//! re-sign every license of the key, in batches            (progress; clients pick up the new
//!                                                          token at their next check)
//! wait a second: every node reads the new versions
//! one transaction: the issued list (every token the key signed that the store knows,
//!   signed by the active key) + the key marked compromised since the start + audit
//!   key.compromised + webhook key.compromised
//! open the incident key_compromised
//! ```
//!
//! The key is marked last, with its list in the same transaction: no node ever sees the mark
//! without the list, so a license the vendor issued is never refused; forgeries are refused
//! by every node from its next key reload (at once on this one) and by edge verifiers once
//! they fetch the key set and the list. The mark's time is the operation's start: leases,
//! seat leases and overrides of the key signed from then on are refused. A run that stops
//! (the store failing midway) leaves the key unmarked and some licenses re-signed; running
//! it again carries on.

use std::time::Instant;

use lifeline_api::{CompromiseKey, CompromiseReport, Severity, WebhookEventType};
use lifeline_core::{UnixTime, issued_list_claims};
use serde_json::json;
use sqlx::Row;

use crate::licenses::{ISSUER, count_under_key, re_sign_batch, tokens_signed_by};
use crate::problem::AppError;
use crate::rules::Finding;
use crate::state::AppState;
use crate::store::StoreError;

/// Checks the request: a reason (1–1024 characters) and an incident reference (1–128).
pub(crate) fn check(req: &CompromiseKey) -> Result<(), AppError> {
    use lifeline_api::bounds::check_text;
    check_text("reason", &req.reason, 1024)?;
    check_text("incident", &req.incident, 128)?;
    Ok(())
}

/// Whether key `kid` can be marked compromised: 404 when there is no such key, 409
/// `already_compromised`; whether it is the active key (then it is rotated out first).
pub(crate) async fn preflight(state: &AppState, kid: &str) -> Result<bool, AppError> {
    let row = sqlx::query("SELECT status, compromised_at FROM signing_keys WHERE kid = $1")
        .bind(kid)
        .fetch_optional(state.store().pool())
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::not_found(format!("no signing key {kid:?}")))?;
    if row
        .try_get::<Option<i64>, _>("compromised_at")
        .map_err(StoreError::from)?
        .is_some()
    {
        return Err(AppError::new(
            axum::http::StatusCode::CONFLICT,
            "already_compromised",
            format!("signing key {kid:?} is already marked compromised"),
        ));
    }
    let status: String = row.try_get("status").map_err(StoreError::from)?;
    Ok(status == "active")
}

/// Recovers from the leak of key `kid` (see the module docs); `progress(done, total)` is
/// told after each batch of re-signed licenses.
pub(crate) async fn compromise(
    state: &AppState,
    actor: &str,
    kid: &str,
    req: &CompromiseKey,
    mut progress: impl FnMut(u64, u64),
) -> Result<CompromiseReport, AppError> {
    check(req)?;
    let store = state.store();
    let since = crate::clock::now();
    let rotated = preflight(state, kid).await?;
    if rotated {
        crate::keys::rotate(store, actor).await?;
    }
    let ring = state.reload_keys().await?;
    let total = count_under_key(store, kid).await?;
    let started = Instant::now();
    let mut done = 0u64;
    progress(0, total);
    loop {
        let n = re_sign_batch(store, &ring, actor, kid, crate::clock::now()).await?;
        if n == 0 {
            break;
        }
        done += n as u64;
        progress(done, total.max(done));
        // Clients of this node get their new token from the first batch on.
        state.hot().invalidate_versions();
    }
    let re_sign_seconds = started.elapsed().as_secs_f64();
    if done > 0 {
        // Every node reads re-signed versions within this long: once the mark is out, every
        // node hands a client presenting its old token the new one at once.
        tokio::time::sleep(crate::hot::REVOCATION_REFRESH + std::time::Duration::from_millis(200))
            .await;
    }
    let tokens = tokens_signed_by(store, kid).await?;
    let list = ring.active.sign_issued_list(&issued_list_claims(
        ISSUER,
        kid,
        UnixTime::from_secs(since),
        UnixTime::from_secs(crate::clock::now()),
        tokens.iter().map(String::as_str),
    ));
    let url = crate::keys::issued_list_url(state.public_url(), kid);
    let report = CompromiseReport {
        kid: kid.to_owned(),
        compromised_at: since,
        active_kid: ring.active.kid().to_owned(),
        rotated,
        re_signed: done,
        re_sign_seconds,
        listed_tokens: tokens.len() as u64,
        list_bytes: list.len() as u64,
        issued_list_url: url,
        incident_id: None,
    };
    // Lists of keys compromised earlier that this key signed: signed again by the active key
    // (a list signed by a compromised key is refused, and those keys' licenses with it).
    let mut resigned = Vec::new();
    for earlier in ring.lists.iter().filter(|l| l.list.signed_by() == kid) {
        let tokens = tokens_signed_by(store, &earlier.kid).await?;
        let token = ring.active.sign_issued_list(&issued_list_claims(
            ISSUER,
            &earlier.kid,
            earlier.list.compromised_at(),
            UnixTime::from_secs(crate::clock::now()),
            tokens.iter().map(String::as_str),
        ));
        resigned.push((earlier.kid.clone(), token, tokens.len()));
    }
    mark(state, actor, req, &list, &report, &resigned).await?;
    state.reload_keys().await?;
    state.hot().invalidate_versions();
    state.store_figures_changed();
    let incident_id = open_incident(state, req, &report).await?;
    Ok(CompromiseReport {
        incident_id,
        ..report
    })
}

/// The list, the mark, the audit event and the webhook, in one transaction.
async fn mark(
    state: &AppState,
    actor: &str,
    req: &CompromiseKey,
    list: &str,
    report: &CompromiseReport,
    resigned: &[(String, String, usize)],
) -> Result<(), AppError> {
    let db = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let now = crate::clock::now();
    let mut w = state.store().write().await?;
    let marked = sqlx::query(
        "UPDATE signing_keys SET compromised_at = $1, compromise_reason = $2, \
         compromise_incident = $3 WHERE kid = $4 AND compromised_at IS NULL",
    )
    .bind(db(report.compromised_at))
    .bind(&req.reason)
    .bind(&req.incident)
    .bind(&report.kid)
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?
    .rows_affected();
    if marked != 1 {
        return Err(AppError::new(
            axum::http::StatusCode::CONFLICT,
            "already_compromised",
            format!(
                "signing key {:?} was marked compromised meanwhile",
                report.kid
            ),
        ));
    }
    let lists = std::iter::once((report.kid.as_str(), list, report.listed_tokens)).chain(
        resigned
            .iter()
            .map(|(kid, token, n)| (kid.as_str(), token.as_str(), *n as u64)),
    );
    for (kid, token, n) in lists {
        sqlx::query("DELETE FROM issued_lists WHERE kid = $1")
            .bind(kid)
            .execute(&mut *w.tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO issued_lists (kid, token, licenses, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(kid)
        .bind(token)
        .bind(db(n))
        .bind(db(now))
        .execute(&mut *w.tx)
        .await
        .map_err(StoreError::from)?;
    }
    let after = json!({
        "kid": report.kid,
        "compromised_at": report.compromised_at, "reason": req.reason, "incident": req.incident,
        "active_kid": report.active_kid, "rotated": report.rotated, "re_signed": report.re_signed,
        "listed_tokens": report.listed_tokens, "issued_list": report.issued_list_url,
    });
    w.audit(actor, "key.compromised", &report.kid, None, Some(&after))
        .await?;
    crate::webhooks::enqueue(&mut w, WebhookEventType::KeyCompromised, &after, now).await?;
    w.commit().await?;
    Ok(())
}

async fn open_incident(
    state: &AppState,
    req: &CompromiseKey,
    report: &CompromiseReport,
) -> Result<Option<String>, AppError> {
    let finding = Finding {
        rule: crate::rules::KEY_COMPROMISED,
        subject: format!("key:{}", report.kid),
        severity: Severity::Critical,
        title: format!(
            "Signing key {} leaked ({}): {} licenses re-signed with {}, {} tokens on its issued list",
            report.kid, req.incident, report.re_signed, report.active_kid, report.listed_tokens
        ),
        affected: json!({ "kid": report.kid, "licenses": report.re_signed }),
        evidence: json!({
            "reason": req.reason, "incident": req.incident,
            "compromised_at": report.compromised_at, "active_kid": report.active_kid,
            "rotated": report.rotated, "re_signed": report.re_signed,
            "re_sign_seconds": report.re_sign_seconds, "listed_tokens": report.listed_tokens,
            "issued_list": report.issued_list_url,
        }),
    };
    Ok(crate::incidents::open_incident(
        state.store(),
        state.node_id(),
        &finding,
        crate::clock::now(),
    )
    .await?)
}
