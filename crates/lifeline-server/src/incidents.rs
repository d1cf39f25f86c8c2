//! Incidents: the rules engine's findings (`rules.rs`) kept in the store, with a timeline.
//!
//! [`evaluate`] gathers this node's figures, asks the rules what fires, opens an incident for
//! each new finding and resolves the unresolved incidents whose finding is gone (rules over
//! one node's in-memory figures are judged by that node, or by anyone once it is gone).
//! A partial unique index on `(rule, subject)` over unresolved incidents and `INSERT ... ON
//! CONFLICT DO NOTHING` keep one incident per condition however many nodes evaluate. Every
//! change commits with its audit event (`incident.opened`, `incident.evidence`,
//! `incident.acknowledged`, `incident.noted`, `incident.resolved`) and, for opened and
//! resolved, its webhook messages.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use lifeline_api::{
    Incident, IncidentDetail, IncidentEvent, IncidentStatus, Severity, WebhookEventType,
};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::AppState;
use crate::problem::AppError;
use crate::rules::{Figures, Finding, Judge, RulesConfig};
use crate::store::{Bind, Filter, Store, StoreError, WriteTx};

/// The longest note, in characters.
const MAX_NOTE_CHARS: usize = 4096;

fn secs(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn db(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn status_name(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Open => "open",
        IncidentStatus::Acknowledged => "acknowledged",
        IncidentStatus::Resolved => "resolved",
    }
}

const COLUMNS: &str = "id, rule, subject, title, severity, status, node_id, opened_at, \
                       acknowledged_at, acknowledged_by, resolved_at, affected_json, evidence_json";

fn from_row(row: &AnyRow) -> Result<(Incident, String), StoreError> {
    let json = |col: &str| -> Result<Value, StoreError> {
        let text: String = row.try_get(col)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let severity = match row.try_get::<String, _>("severity")?.as_str() {
        "critical" => Severity::Critical,
        _ => Severity::Warning,
    };
    let status = match row.try_get::<String, _>("status")?.as_str() {
        "open" => IncidentStatus::Open,
        "acknowledged" => IncidentStatus::Acknowledged,
        _ => IncidentStatus::Resolved,
    };
    let incident = Incident {
        id: row.try_get("id")?,
        rule: row.try_get("rule")?,
        subject: row.try_get("subject")?,
        title: row.try_get("title")?,
        severity,
        status,
        opened_at: secs(row.try_get("opened_at")?),
        acknowledged_at: row.try_get::<Option<i64>, _>("acknowledged_at")?.map(secs),
        acknowledged_by: row.try_get("acknowledged_by")?,
        resolved_at: row.try_get::<Option<i64>, _>("resolved_at")?.map(secs),
        affected: json("affected_json")?,
        evidence: json("evidence_json")?,
    };
    Ok((incident, row.try_get("node_id")?))
}

/// What one evaluation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Conditions firing now (rule, subject).
    pub firing: Vec<(String, String)>,
    /// Incidents this evaluation opened.
    pub opened: Vec<String>,
    /// Incidents whose severity changed (a new evidence entry).
    pub escalated: Vec<String>,
    /// Incidents this evaluation resolved.
    pub resolved: Vec<String>,
}

impl AppState {
    /// Evaluates the incident rules on this node's figures as of `now` (unix seconds): opens
    /// an incident per new finding, resolves those whose condition cleared. `serve` does it
    /// every `evaluate_every_s`; tests and drills call it with the `now` they need.
    pub async fn evaluate_rules(&self, now: u64) -> Result<Evaluation, StoreError> {
        evaluate(self, &self.rules(), now).await
    }
}

/// Evaluates the rules on this node's figures as of `now`, and opens and resolves incidents.
#[tracing::instrument(name = "rules.evaluate", level = "debug", skip_all, fields(now = now))]
pub(crate) async fn evaluate(
    state: &AppState,
    config: &RulesConfig,
    now: u64,
) -> Result<Evaluation, StoreError> {
    let store = state.store();
    crate::nodes::forget_before(store, now.saturating_sub(config.node_forget_after_s)).await?;
    let ring = state.keys().await?;
    let nodes = crate::nodes::seen(store).await?;
    let metrics = state.metrics();
    let figures = Figures {
        now,
        node_id: state.node_id().to_owned(),
        server: metrics.series().recent(now, config.window_s),
        edge: metrics.edge().recent(now, config.window_s),
        active_key: ring
            .infos
            .iter()
            .find_map(|k| Some((k.kid.clone(), k.rotate_by?))),
        nodes,
        publish_failures: metrics.recent_publish_failures(now, config.window_s),
        seat_denials: metrics.recent_seat_denials(now, config.window_s),
        seat_activations: metrics.recent_seat_activations(now, config.window_s),
    };
    let findings = crate::rules::evaluate(config, &figures);
    let alive: BTreeSet<&str> = figures
        .nodes
        .iter()
        .filter(|n| now.saturating_sub(n.last_seen) <= config.node_unreachable_after_s)
        .map(|n| n.id.as_str())
        .collect();
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM incidents WHERE status <> 'resolved'"
    ))
    .fetch_all(store.pool())
    .await?;
    let unresolved = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let mut out = Evaluation {
        firing: findings
            .iter()
            .map(|f| (f.rule.to_owned(), f.subject.clone()))
            .collect(),
        ..Evaluation::default()
    };
    for finding in &findings {
        let open = unresolved
            .iter()
            .find(|(i, _)| i.rule == finding.rule && i.subject == finding.subject);
        match open {
            None => {
                if let Some(id) = open_incident(store, state.node_id(), finding, now).await? {
                    out.opened.push(id);
                }
            }
            Some((i, _)) if i.severity != finding.severity => {
                escalate(store, &i.id, finding, now).await?;
                out.escalated.push(i.id.clone());
            }
            Some(_) => {}
        }
    }
    for (incident, opened_by) in &unresolved {
        let still = findings
            .iter()
            .any(|f| f.rule == incident.rule && f.subject == incident.subject);
        let mine = match crate::rules::judge(&incident.rule, opened_by) {
            Judge::Anyone => true,
            Judge::Operator => false,
            Judge::Node(node) => node == state.node_id() || !alive.contains(node.as_str()),
        };
        if !still && mine && resolve(store, &incident.id, now).await? {
            out.resolved.push(incident.id.clone());
        }
    }
    Ok(out)
}

/// Appends a timeline entry in `w`'s transaction.
async fn event(
    w: &mut WriteTx,
    id: &str,
    now: u64,
    kind: &str,
    actor: &str,
    text: &str,
) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query(
        "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM incident_events WHERE incident_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *w.tx)
    .await?
    .try_get("next")?;
    sqlx::query(
        "INSERT INTO incident_events (incident_id, seq, at, kind, actor, text) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(seq)
    .bind(db(now))
    .bind(kind)
    .bind(actor)
    .bind(text)
    .execute(&mut *w.tx)
    .await?;
    Ok(())
}

async fn read_in(w: &mut WriteTx, id: &str) -> Result<Option<Incident>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?;
    row.as_ref()
        .map(|r| from_row(r).map(|(i, _)| i))
        .transpose()
}

/// Opens an incident for `f` unless one is unresolved for its rule and subject (another node
/// may have opened it a moment ago): its id when this call opened it.
pub(crate) async fn open_incident(
    store: &Store,
    node_id: &str,
    f: &Finding,
    now: u64,
) -> Result<Option<String>, StoreError> {
    let id = format!("inc-{}", crate::ids::new_id()?);
    let mut w = store.write().await?;
    let inserted = sqlx::query(
        "INSERT INTO incidents (id, rule, subject, title, severity, status, node_id, opened_at, \
         affected_json, evidence_json) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&id)
    .bind(f.rule)
    .bind(&f.subject)
    .bind(&f.title)
    .bind(severity_name(f.severity))
    .bind(node_id)
    .bind(db(now))
    .bind(f.affected.to_string())
    .bind(f.evidence.to_string())
    .fetch_optional(&mut *w.tx)
    .await?;
    if inserted.is_none() {
        return Ok(None); // dropping `w` rolls back
    }
    event(&mut w, &id, now, "opened", "system", &f.title).await?;
    let after = json!({
        "rule": f.rule, "subject": f.subject, "severity": f.severity, "title": f.title,
        "node": node_id, "evidence": f.evidence,
    });
    w.audit("system", "incident.opened", &id, None, Some(&after))
        .await?;
    if let Some(incident) = read_in(&mut w, &id).await? {
        let data = serde_json::to_value(&incident).unwrap_or(Value::Null);
        crate::webhooks::enqueue(&mut w, WebhookEventType::IncidentOpened, &data, now).await?;
    }
    w.commit().await?;
    Ok(Some(id))
}

/// The finding's severity changed: new figures, title and severity, and an evidence entry.
async fn escalate(store: &Store, id: &str, f: &Finding, now: u64) -> Result<(), StoreError> {
    let mut w = store.write().await?;
    sqlx::query("UPDATE incidents SET severity = $1, title = $2, evidence_json = $3 WHERE id = $4")
        .bind(severity_name(f.severity))
        .bind(&f.title)
        .bind(f.evidence.to_string())
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    let text = format!("{}: {} {}", severity_name(f.severity), f.title, f.evidence);
    event(&mut w, id, now, "evidence", "system", &text).await?;
    let after = json!({ "severity": f.severity, "evidence": f.evidence });
    w.audit("system", "incident.evidence", id, None, Some(&after))
        .await?;
    w.commit().await
}

/// Resolves an unresolved incident (false when another node already did).
async fn resolve(store: &Store, id: &str, now: u64) -> Result<bool, StoreError> {
    resolve_by(store, id, now, "system", "the condition cleared").await
}

/// An operator resolves an incident, saying why (an action's incident, such as a key marked
/// compromised, is resolved only so; a rule's reopens if its condition still holds). 404
/// for no such incident, 409 when it is resolved already, 422 `invalid_note` for the text.
pub(crate) async fn resolve_by_operator(
    store: &Store,
    actor: &str,
    id: &str,
    text: &str,
    now: u64,
) -> Result<(), AppError> {
    let text = note_text(text)?;
    if get(store, id).await?.is_none() {
        return Err(AppError::not_found(format!("no incident {id:?}")));
    }
    if !resolve_by(store, id, now, actor, text).await? {
        return Err(AppError::conflict(format!(
            "incident {id:?} is resolved already"
        )));
    }
    Ok(())
}

async fn resolve_by(
    store: &Store,
    id: &str,
    now: u64,
    actor: &str,
    text: &str,
) -> Result<bool, StoreError> {
    let mut w = store.write().await?;
    let done = sqlx::query(
        "UPDATE incidents SET status = 'resolved', resolved_at = $1 WHERE id = $2 AND status <> 'resolved'",
    )
    .bind(db(now))
    .bind(id)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if done != 1 {
        return Ok(false);
    }
    event(&mut w, id, now, "resolved", actor, text).await?;
    w.audit(
        actor,
        "incident.resolved",
        id,
        None,
        Some(&json!({ "status": "resolved", "resolved_at": now })),
    )
    .await?;
    if let Some(incident) = read_in(&mut w, id).await? {
        let data = serde_json::to_value(&incident).unwrap_or(Value::Null);
        crate::webhooks::enqueue(&mut w, WebhookEventType::IncidentResolved, &data, now).await?;
    }
    w.commit().await?;
    Ok(true)
}

/// Incidents not yet resolved.
pub(crate) async fn count_unresolved(store: &Store) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM incidents WHERE status <> 'resolved'")
        .fetch_one(store.pool())
        .await?
        .try_get("n")?;
    Ok(secs(n))
}

/// Which incidents to list.
#[derive(Debug, Default)]
pub(crate) struct ListFilter {
    /// Only in this status.
    pub(crate) status: Option<IncidentStatus>,
    /// Only of this rule.
    pub(crate) rule: Option<String>,
    /// Only opened at or after this time.
    pub(crate) since: Option<u64>,
}

/// Incidents, newest first.
pub(crate) async fn list(
    store: &Store,
    filter: &ListFilter,
    limit: u32,
) -> Result<Vec<Incident>, StoreError> {
    let mut f = Filter::default();
    if let Some(s) = filter.status {
        f.add("status = ?", Bind::Text(status_name(s).to_owned()));
    }
    if let Some(rule) = &filter.rule {
        f.add("rule = ?", Bind::Text(rule.clone()));
    }
    if let Some(since) = filter.since {
        f.add("opened_at >= ?", Bind::Int(db(since)));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents {} ORDER BY opened_at DESC, id DESC LIMIT {limit}",
        f.where_clause()
    );
    let rows = f
        .bind_all(sqlx::query(&sql))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(|r| from_row(r).map(|(i, _)| i)).collect()
}

/// One incident with its timeline.
pub(crate) async fn get(store: &Store, id: &str) -> Result<Option<IncidentDetail>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (incident, _) = from_row(&row)?;
    let rows = sqlx::query(
        "SELECT at, kind, actor, text FROM incident_events WHERE incident_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?;
    let timeline = rows
        .iter()
        .map(|r| {
            Ok(IncidentEvent {
                at: secs(r.try_get("at")?),
                kind: r.try_get("kind")?,
                actor: r.try_get("actor")?,
                text: r.try_get("text")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(IncidentDetail { incident, timeline }))
}

/// Acknowledges an open incident (409 when it is acknowledged or resolved already).
pub(crate) async fn acknowledge(
    store: &Store,
    actor: &str,
    id: &str,
    now: u64,
) -> Result<(), AppError> {
    let mut w = store.write().await?;
    let incident = read_in(&mut w, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no incident {id:?}")))?;
    if incident.status != IncidentStatus::Open {
        return Err(AppError::conflict(format!(
            "incident {id:?} is {}, not open",
            status_name(incident.status)
        )));
    }
    sqlx::query(
        "UPDATE incidents SET status = 'acknowledged', acknowledged_at = $1, acknowledged_by = $2 WHERE id = $3",
    )
    .bind(db(now))
    .bind(actor)
    .bind(id)
    .execute(&mut *w.tx)
    .await
    .map_err(StoreError::from)?;
    event(&mut w, id, now, "acknowledged", actor, "acknowledged").await?;
    w.audit(
        actor,
        "incident.acknowledged",
        id,
        Some(&json!({ "status": "open" })),
        Some(&json!({ "status": "acknowledged" })),
    )
    .await?;
    w.commit().await?;
    Ok(())
}

/// A note's text, trimmed: 1 to [`MAX_NOTE_CHARS`] characters (else 422 `invalid_note`).
fn note_text(text: &str) -> Result<&str, AppError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_note",
            format!("a note is 1 to {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(text)
}

/// Adds a note to an incident's timeline (any status: post-mortem notes on resolved ones).
pub(crate) async fn note(
    store: &Store,
    actor: &str,
    id: &str,
    text: &str,
    now: u64,
) -> Result<(), AppError> {
    let text = note_text(text)?;
    let mut w = store.write().await?;
    if read_in(&mut w, id).await?.is_none() {
        return Err(AppError::not_found(format!("no incident {id:?}")));
    }
    event(&mut w, id, now, "note", actor, text).await?;
    w.audit(
        actor,
        "incident.noted",
        id,
        None,
        Some(&json!({ "text": text })),
    )
    .await?;
    w.commit().await?;
    Ok(())
}
