//! Incident rules, pure: [`evaluate`] turns a snapshot of figures ([`Figures`]) into the
//! conditions firing now ([`Finding`]), each naming its rule and subject. No I/O, no clock:
//! `incidents.rs` gathers the figures, opens an incident per new finding and resolves those
//! whose finding is gone.
//!
//! | rule | subject | fires when (defaults) |
//! |---|---|---|
//! | `validation_failure_ratio` | `node:ID` | this node's `invalid` verdicts > 20 % of ≥ 20 over 5 min |
//! | `edge_failure_ratio` | `service:NAME` | the same over a service's telemetry |
//! | `validation_latency_p99` | `node:ID` | p99 of this node's `validate` > 250 ms, ≥ 20 over 5 min |
//! | `node_unreachable` | `node:ID` | a node's heartbeat is older than 30 s |
//! | `signing_key_expiry` | `key:KID` | the active key's `rotate_by` is within 14 days (warning) or past (critical) |
//! | `publication_failures` | `node:ID` | this node failed to publish a status list, override bundle or lease ≥ 1 time in 5 min |
//! | `reason_surge` | `service:NAME reason:R` (or `node:ID reason:R`) | one watched reason > 50 % of the refusals and ≥ 20 in 5 min |
//! | `degraded_verdicts` | `service:NAME` | `grace` + `offline` verdicts > 30 % of ≥ 20 over 5 min |
//! | `seat_exhaustion` | `license:ID` | this node refused ≥ 5 activations of the license for want of a seat in 5 min |
//! | `activation_surge` | `licensee:SUB` | ≥ 20 new seats of one licensee on this node in 5 min, over 5 × its average 5 min of the hour before |

use std::collections::BTreeMap;

use lifeline_api::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::series::{Recent, VALIDATE_LATENCY_BOUNDS_SECS, percentile_ms};
use crate::telemetry::EdgeRecent;

/// Every rule's id.
pub const RULES: [&str; 10] = lifeline_api::INCIDENT_RULES;

/// The rules' thresholds and the engine's timing (`lifeline serve --rules FILE.json`; every
/// member is optional and defaults as documented).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// How often each node evaluates the rules, seconds (10).
    pub evaluate_every_s: u64,
    /// How often each node sweeps the seats (reclaims floating seats whose heartbeats
    /// stopped), seconds (5). Keep it under a tenth of the shortest `heartbeat_s`.
    pub seat_sweep_every_s: u64,
    /// The span the traffic rules look at, seconds (300).
    pub window_s: u64,
    /// `validation_failure_ratio`, `edge_failure_ratio`: fire above this share of `invalid`
    /// verdicts (0.2).
    pub failure_ratio: f64,
    /// Traffic rules need at least this many verdicts in the window (20).
    pub min_requests: u64,
    /// `validation_latency_p99`: fire above this p99, milliseconds (250).
    pub p99_latency_ms: f64,
    /// How often each node refreshes its heartbeat row, seconds (10).
    pub heartbeat_every_s: u64,
    /// `node_unreachable`: a heartbeat older than this, seconds (30).
    pub node_unreachable_after_s: u64,
    /// A node silent this long is forgotten (its row deleted; its incident resolves), seconds
    /// (86,400). A node that stops cleanly removes its own row at once.
    pub node_forget_after_s: u64,
    /// `signing_key_expiry`: warn this many days before the active key's `rotate_by` (14).
    pub key_expiry_warning_days: u64,
    /// `publication_failures`: fire at this many failures in the window (1).
    pub publish_failures: u64,
    /// `reason_surge`: fire above this share of the refusals (0.5) ...
    pub surge_share: f64,
    /// ... with at least this many of that reason in the window (20) ...
    pub surge_min: u64,
    /// ... for these reasons (the ones a normal day does not produce in bulk).
    pub surge_reasons: Vec<String>,
    /// `degraded_verdicts`: fire above this share of `grace` + `offline` verdicts (0.3) ...
    pub degraded_share: f64,
    /// ... out of at least this many verdicts in the window (20).
    pub degraded_min: u64,
    /// `seat_exhaustion`: fire at this many activations of one license refused for want of a
    /// seat in the window (5).
    pub seat_denials_min: u64,
    /// `activation_surge`: fire at this many new seats of one licensee in the window (20) ...
    pub activation_surge_min: u64,
    /// ... when that is over this many times its average per window over the rest of the
    /// hour (5).
    pub activation_surge_factor: f64,
    /// Rules that never fire (their open incidents resolve at the next evaluation).
    pub disabled: Vec<String>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            evaluate_every_s: 10,
            seat_sweep_every_s: 5,
            window_s: 300,
            failure_ratio: 0.2,
            min_requests: 20,
            p99_latency_ms: 250.0,
            heartbeat_every_s: 10,
            node_unreachable_after_s: 30,
            node_forget_after_s: 86_400,
            key_expiry_warning_days: 14,
            publish_failures: 1,
            surge_share: 0.5,
            surge_min: 20,
            surge_reasons: [
                "bad_signature",
                "unknown_key",
                "malformed",
                "unsupported_alg",
                "wrong_type",
                "key_revoked",
                "clock_rollback",
            ]
            .map(str::to_owned)
            .to_vec(),
            degraded_share: 0.3,
            degraded_min: 20,
            seat_denials_min: 5,
            activation_surge_min: 20,
            activation_surge_factor: 5.0,
            disabled: Vec::new(),
        }
    }
}

impl RulesConfig {
    /// Refuses settings that make no sense (a zero interval, a ratio outside 0..=1, an
    /// unknown rule in `disabled`).
    pub fn check(&self) -> Result<(), String> {
        let ratios = [
            ("failure_ratio", self.failure_ratio),
            ("surge_share", self.surge_share),
            ("degraded_share", self.degraded_share),
        ];
        if let Some((name, _)) = ratios.iter().find(|(_, r)| !(0.0..=1.0).contains(r)) {
            return Err(format!("{name} must be between 0 and 1"));
        }
        if self.evaluate_every_s == 0
            || self.heartbeat_every_s == 0
            || self.window_s == 0
            || self.seat_sweep_every_s == 0
        {
            return Err(
                "evaluate_every_s, heartbeat_every_s, seat_sweep_every_s and window_s must be > 0"
                    .into(),
            );
        }
        if self.node_unreachable_after_s <= self.heartbeat_every_s {
            return Err("node_unreachable_after_s must exceed heartbeat_every_s".into());
        }
        if !self.p99_latency_ms.is_finite() || self.p99_latency_ms <= 0.0 {
            return Err("p99_latency_ms must be > 0".into());
        }
        if let Some(unknown) = self.disabled.iter().find(|r| !RULES.contains(&r.as_str())) {
            return Err(format!(
                "unknown rule {unknown:?} in disabled: one of {}",
                RULES.join(", ")
            ));
        }
        Ok(())
    }

    fn enabled(&self, rule: &str) -> bool {
        !self.disabled.iter().any(|d| d == rule)
    }
}

/// A node as the store lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NodeSeen {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) last_seen: u64,
}

/// Everything the rules look at, as of `now`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Figures {
    pub(crate) now: u64,
    /// The evaluating node.
    pub(crate) node_id: String,
    /// This node's `validate` over the window.
    pub(crate) server: Recent,
    /// Telemetry received by this node over the window, by service.
    pub(crate) edge: BTreeMap<String, EdgeRecent>,
    /// Every registered node.
    pub(crate) nodes: Vec<NodeSeen>,
    /// The active signing key: kid and when it should be rotated by.
    pub(crate) active_key: Option<(String, u64)>,
    /// This node's publication failures over the window, by what failed.
    pub(crate) publish_failures: BTreeMap<String, u64>,
    /// Activations this node refused for want of a seat, by license: (in the window, in the
    /// rest of the hour).
    pub(crate) seat_denials: BTreeMap<String, (u64, u64)>,
    /// New seats on this node, by licensee: (in the window, in the rest of the hour).
    pub(crate) seat_activations: BTreeMap<String, (u64, u64)>,
}

/// The incidents of a signing key marked compromised (opened by the action, not a rule).
pub(crate) const KEY_COMPROMISED: &str = "key_compromised";

/// Who can tell whether a finding still holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Judge {
    /// The node whose in-memory figures it comes from (or any node once that one is gone).
    Node(String),
    /// Any node: it comes from the store.
    Anyone,
    /// An operator: an incident an action opened (a key marked compromised), resolved by
    /// `POST /api/v1/incidents/{id}/resolve`, never by the rules.
    Operator,
}

/// A condition firing now.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    pub(crate) rule: &'static str,
    pub(crate) subject: String,
    pub(crate) severity: Severity,
    pub(crate) title: String,
    pub(crate) affected: Value,
    pub(crate) evidence: Value,
}

/// Which node judges a rule's incidents (see [`Judge`]).
pub(crate) fn judge(rule: &str, opened_by: &str) -> Judge {
    match rule {
        "node_unreachable" | "signing_key_expiry" => Judge::Anyone,
        KEY_COMPROMISED => Judge::Operator,
        _ if RULES.contains(&rule) => Judge::Node(opened_by.to_owned()),
        // A rule this version does not know: any node lets it resolve.
        _ => Judge::Anyone,
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Rounded to 4 decimals for evidence (0.2857142857 → 0.2857).
fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The conditions firing, given the figures.
pub(crate) fn evaluate(c: &RulesConfig, f: &Figures) -> Vec<Finding> {
    let mut out = Vec::new();
    let node = format!("node:{}", f.node_id);
    let nodes = json!({ "nodes": [f.node_id] });
    let s = &f.server;
    // Failure ratios: this node's validate, then each service's telemetry.
    if s.verdicts >= c.min_requests && ratio(s.failures, s.verdicts) > c.failure_ratio {
        out.push(Finding {
            rule: "validation_failure_ratio",
            subject: node.clone(),
            severity: Severity::Critical,
            title: format!(
                "{:.0} % of validations on node {} were refused in the last {} s",
                ratio(s.failures, s.verdicts) * 100.0,
                f.node_id,
                c.window_s
            ),
            affected: nodes.clone(),
            evidence: json!({
                "window_s": c.window_s, "verdicts": s.verdicts, "invalid": s.failures,
                "ratio": r4(ratio(s.failures, s.verdicts)), "threshold": c.failure_ratio,
                "by_reason": s.reasons,
            }),
        });
    }
    let p99 = percentile_ms(&s.latency, &VALIDATE_LATENCY_BOUNDS_SECS, 0.99);
    if let Some(p99) = p99
        && s.verdicts >= c.min_requests
        && p99 > c.p99_latency_ms
    {
        out.push(Finding {
            rule: "validation_latency_p99",
            subject: node.clone(),
            severity: Severity::Warning,
            title: format!(
                "p99 validation latency on node {} is over {} ms",
                f.node_id, c.p99_latency_ms
            ),
            affected: nodes.clone(),
            evidence: json!({
                "window_s": c.window_s, "verdicts": s.verdicts, "p99_ms": p99,
                "threshold_ms": c.p99_latency_ms,
            }),
        });
    }
    let published: u64 = f.publish_failures.values().sum();
    if c.publish_failures > 0 && published >= c.publish_failures {
        out.push(Finding {
            rule: "publication_failures",
            subject: node.clone(),
            severity: Severity::Critical,
            title: format!(
                "node {} failed to publish signed state {published} time(s): edges' status lists, bundles or leases go stale",
                f.node_id
            ),
            affected: nodes.clone(),
            evidence: json!({
                "window_s": c.window_s, "failures": f.publish_failures,
                "threshold": c.publish_failures,
            }),
        });
    }
    surges(c, &node, &s.reasons, s.failures, &nodes, &mut out);
    for (service, e) in &f.edge {
        let subject = format!("service:{service}");
        let services = json!({ "services": [service], "reported_to": [f.node_id] });
        if e.count >= c.min_requests && ratio(e.invalid, e.count) > c.failure_ratio {
            out.push(Finding {
                rule: "edge_failure_ratio",
                subject: subject.clone(),
                severity: Severity::Critical,
                title: format!(
                    "{:.0} % of {service}'s verdicts were refused in the last {} s",
                    ratio(e.invalid, e.count) * 100.0,
                    c.window_s
                ),
                affected: services.clone(),
                evidence: json!({
                    "window_s": c.window_s, "verdicts": e.count, "invalid": e.invalid,
                    "ratio": r4(ratio(e.invalid, e.count)), "threshold": c.failure_ratio,
                    "by_reason": e.reasons,
                }),
            });
        }
        let degraded = e.grace + e.offline;
        if e.count >= c.degraded_min && ratio(degraded, e.count) > c.degraded_share {
            out.push(Finding {
                rule: "degraded_verdicts",
                subject: subject.clone(),
                severity: Severity::Warning,
                title: format!(
                    "{:.0} % of {service}'s verdicts are grace or offline",
                    ratio(degraded, e.count) * 100.0
                ),
                affected: services.clone(),
                evidence: json!({
                    "window_s": c.window_s, "verdicts": e.count, "grace": e.grace,
                    "offline": e.offline, "ratio": r4(ratio(degraded, e.count)),
                    "threshold": c.degraded_share,
                }),
            });
        }
        let refusals = e
            .reasons
            .iter()
            .filter(|(r, _)| !matches!(r.as_str(), "grace_period" | "offline"))
            .map(|(_, n)| n)
            .sum();
        surges(c, &subject, &e.reasons, refusals, &services, &mut out);
    }
    for n in &f.nodes {
        let silent = f.now.saturating_sub(n.last_seen);
        if n.id != f.node_id && silent > c.node_unreachable_after_s {
            out.push(Finding {
                rule: "node_unreachable",
                subject: format!("node:{}", n.id),
                severity: Severity::Critical,
                title: format!("node {} ({}) has not been seen for {silent} s", n.id, n.url),
                affected: json!({ "nodes": [n.id] }),
                evidence: json!({
                    "url": n.url, "last_seen": n.last_seen,
                    "threshold_s": c.node_unreachable_after_s,
                }),
            });
        }
    }
    if let Some((kid, rotate_by)) = &f.active_key {
        let warn_from = rotate_by.saturating_sub(c.key_expiry_warning_days * 86_400);
        if f.now >= warn_from {
            let expired = f.now >= *rotate_by;
            out.push(Finding {
                rule: "signing_key_expiry",
                subject: format!("key:{kid}"),
                severity: if expired {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                title: if expired {
                    format!("signing key {kid} is past its rotation date: rotate it now")
                } else {
                    format!(
                        "signing key {kid} must be rotated within {} day(s)",
                        rotate_by.saturating_sub(f.now).div_ceil(86_400)
                    )
                },
                affected: json!({ "keys": [kid] }),
                evidence: json!({
                    "rotate_by": rotate_by, "warning_days": c.key_expiry_warning_days,
                    "expired": expired,
                }),
            });
        }
    }
    seat_findings(c, f, &f.node_id, &mut out);
    out.retain(|finding| c.enabled(finding.rule));
    out
}

/// `seat_exhaustion` and `activation_surge`.
fn seat_findings(c: &RulesConfig, f: &Figures, node: &str, out: &mut Vec<Finding>) {
    for (license, (refused, _)) in &f.seat_denials {
        if *refused >= c.seat_denials_min {
            out.push(Finding {
                rule: "seat_exhaustion",
                subject: format!("license:{license}"),
                severity: Severity::Warning,
                title: format!(
                    "license {license}: {refused} activations refused in {} s, every seat taken",
                    c.window_s
                ),
                affected: json!({ "licenses": [license], "nodes": [node] }),
                evidence: json!({
                    "window_s": c.window_s, "refused": refused, "threshold": c.seat_denials_min,
                }),
            });
        }
    }
    // The windows of the hour outside the current one.
    let windows_before = (3600 / c.window_s.max(1)).saturating_sub(1).max(1);
    for (licensee, (new, before)) in &f.seat_activations {
        #[allow(clippy::cast_precision_loss)]
        let usual = *before as f64 / windows_before as f64;
        #[allow(clippy::cast_precision_loss)]
        let surging = *new as f64 > c.activation_surge_factor * usual;
        if *new >= c.activation_surge_min && surging {
            out.push(Finding {
                rule: "activation_surge",
                subject: format!("licensee:{licensee}"),
                severity: Severity::Warning,
                title: format!(
                    "licensee {licensee} took {new} new seats in {} s (usually {usual:.1}): abuse, or a fleet that leaks seats?",
                    c.window_s
                ),
                affected: json!({ "licensees": [licensee], "nodes": [node] }),
                evidence: json!({
                    "window_s": c.window_s, "new_seats": new, "usual_per_window": r4(usual),
                    "min": c.activation_surge_min, "factor": c.activation_surge_factor,
                }),
            });
        }
    }
}

/// `reason_surge` for one source: a watched reason over `surge_share` of the refusals.
fn surges(
    c: &RulesConfig,
    subject: &str,
    reasons: &BTreeMap<String, u64>,
    refusals: u64,
    affected: &Value,
    out: &mut Vec<Finding>,
) {
    for (reason, n) in reasons {
        if c.surge_reasons.contains(reason)
            && *n >= c.surge_min
            && ratio(*n, refusals) > c.surge_share
        {
            out.push(Finding {
                rule: "reason_surge",
                subject: format!("{subject} reason:{reason}"),
                severity: Severity::Critical,
                title: format!(
                    "surge of {reason} from {subject}: {n} of {refusals} refusals in {} s",
                    c.window_s
                ),
                affected: affected.clone(),
                evidence: json!({
                    "window_s": c.window_s, "reason": reason, "count": n, "refusals": refusals,
                    "share": r4(ratio(*n, refusals)), "threshold": c.surge_share,
                    "min": c.surge_min,
                }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn figures() -> Figures {
        Figures {
            now: NOW,
            node_id: "a".into(),
            ..Figures::default()
        }
    }

    fn fired(f: &Figures) -> Vec<(&'static str, String)> {
        evaluate(&RulesConfig::default(), f)
            .into_iter()
            .map(|x| (x.rule, x.subject))
            .collect()
    }

    fn server(verdicts: u64, failures: u64, reasons: &[(&str, u64)]) -> Recent {
        let mut r = Recent {
            verdicts,
            failures,
            ..Recent::default()
        };
        r.latency[0] = verdicts;
        r.reasons = reasons.iter().map(|(k, n)| ((*k).into(), *n)).collect();
        r
    }

    fn edge(
        count: u64,
        invalid: u64,
        grace: u64,
        offline: u64,
        reasons: &[(&str, u64)],
    ) -> EdgeRecent {
        EdgeRecent {
            count,
            invalid,
            grace,
            offline,
            reasons: reasons.iter().map(|(k, n)| ((*k).into(), *n)).collect(),
        }
    }

    #[test]
    fn nothing_fires_on_a_quiet_day() {
        let mut f = figures();
        f.server = server(1000, 100, &[("expired", 100)]);
        f.edge
            .insert("shop".into(), edge(1000, 50, 20, 10, &[("expired", 50)]));
        f.nodes = vec![NodeSeen {
            id: "b".into(),
            url: "http://b".into(),
            last_seen: NOW - 30,
        }];
        f.active_key = Some(("k1".into(), NOW + 15 * 86_400));
        assert_eq!(fired(&f), vec![]);
    }

    #[test]
    fn failure_ratios_need_enough_traffic_and_more_than_the_threshold() {
        let mut f = figures();
        f.server = server(19, 19, &[("expired", 19)]);
        assert_eq!(fired(&f), vec![], "19 verdicts are too few");
        f.server = server(20, 4, &[("expired", 4)]);
        assert_eq!(fired(&f), vec![], "exactly 20 % does not fire");
        f.server = server(20, 5, &[("expired", 5)]);
        assert_eq!(
            fired(&f),
            vec![("validation_failure_ratio", "node:a".into())]
        );
        let mut f = figures();
        f.edge
            .insert("shop".into(), edge(40, 9, 0, 0, &[("expired", 9)]));
        assert_eq!(
            fired(&f),
            vec![("edge_failure_ratio", "service:shop".into())]
        );
        let finding = &evaluate(&RulesConfig::default(), &f)[0];
        assert_eq!(finding.evidence["ratio"], 0.225);
        assert_eq!(finding.affected["services"][0], "shop");
    }

    #[test]
    fn p99_latency_fires_above_250_ms() {
        let mut f = figures();
        f.server = server(100, 0, &[]);
        f.server.latency = [0; crate::series::SLOTS];
        f.server.latency[0] = 99;
        f.server.latency[12] = 1; // ≤ 250 ms: at the threshold
        assert_eq!(fired(&f), vec![]);
        f.server.latency[12] = 0;
        f.server.latency[13] = 1; // ≤ 500 ms
        assert_eq!(fired(&f), vec![]);
        f.server.latency[0] = 98;
        f.server.latency[13] = 2; // 2 % above: p99 is 500 ms
        assert_eq!(fired(&f), vec![("validation_latency_p99", "node:a".into())]);
    }

    #[test]
    fn a_node_is_unreachable_after_30_s_but_never_the_evaluator() {
        let mut f = figures();
        let node = |id: &str, last_seen| NodeSeen {
            id: id.into(),
            url: format!("http://{id}"),
            last_seen,
        };
        f.nodes = vec![
            node("a", NOW - 100),
            node("b", NOW - 30),
            node("c", NOW - 31),
        ];
        assert_eq!(fired(&f), vec![("node_unreachable", "node:c".into())]);
    }

    #[test]
    fn the_key_warns_14_days_ahead_and_is_critical_once_due() {
        let mut f = figures();
        f.active_key = Some(("k1".into(), NOW + 14 * 86_400 + 1));
        assert_eq!(fired(&f), vec![]);
        f.active_key = Some(("k1".into(), NOW + 14 * 86_400));
        let found = evaluate(&RulesConfig::default(), &f);
        assert_eq!(
            (found[0].rule, found[0].severity),
            ("signing_key_expiry", Severity::Warning)
        );
        assert!(found[0].title.contains("14 day"), "{}", found[0].title);
        f.active_key = Some(("k1".into(), NOW));
        let found = evaluate(&RulesConfig::default(), &f);
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(found[0].subject, "key:k1");
    }

    #[test]
    fn one_publication_failure_fires() {
        let mut f = figures();
        f.publish_failures.insert("status_list".into(), 1);
        assert_eq!(fired(&f), vec![("publication_failures", "node:a".into())]);
    }

    #[test]
    fn a_license_refusing_seats_is_exhausted_from_five_refusals() {
        let mut f = figures();
        f.seat_denials.insert("lic-1".into(), (4, 50));
        assert!(
            fired(&f).is_empty(),
            "refusals before the window do not count"
        );
        f.seat_denials.insert("lic-1".into(), (5, 0));
        assert_eq!(fired(&f), vec![("seat_exhaustion", "license:lic-1".into())]);
    }

    #[test]
    fn activations_surge_only_far_above_a_licensees_usual_rate() {
        let mut f = figures();
        // 20 new seats with no history: far above nothing.
        f.seat_activations.insert("acme".into(), (20, 0));
        assert_eq!(
            fired(&f),
            vec![("activation_surge", "licensee:acme".into())]
        );
        // 19: under the minimum.
        f.seat_activations.insert("acme".into(), (19, 0));
        assert!(fired(&f).is_empty());
        // 40 when it usually takes 10 per 5 min (110 over the 11 windows before): 4x, not 5x.
        f.seat_activations.insert("acme".into(), (40, 110));
        assert!(fired(&f).is_empty());
        // 51: over 5x.
        f.seat_activations.insert("acme".into(), (51, 110));
        assert_eq!(
            fired(&f),
            vec![("activation_surge", "licensee:acme".into())]
        );
    }

    #[test]
    fn a_watched_reason_surges_from_one_service() {
        let mut f = figures();
        // 20 bad signatures of 39 refusals: over half, and enough.
        f.edge.insert(
            "shop".into(),
            edge(1000, 39, 0, 0, &[("bad_signature", 20), ("expired", 19)]),
        );
        assert_eq!(
            fired(&f),
            vec![("reason_surge", "service:shop reason:bad_signature".into())]
        );
        // Half is not over half; 19 is not enough; `expired` is not watched.
        f.edge.insert(
            "shop".into(),
            edge(1000, 40, 0, 0, &[("bad_signature", 20), ("expired", 20)]),
        );
        f.edge
            .insert("cli".into(), edge(1000, 19, 0, 0, &[("bad_signature", 19)]));
        f.edge
            .insert("web".into(), edge(1000, 40, 0, 0, &[("expired", 40)]));
        assert_eq!(fired(&f), vec![]);
        // The server's own refusals too; grace_period is no refusal.
        let mut f = figures();
        f.server = server(1000, 25, &[("unknown_key", 25)]);
        assert_eq!(
            fired(&f),
            vec![("reason_surge", "node:a reason:unknown_key".into())]
        );
    }

    #[test]
    fn grace_and_offline_verdicts_rising() {
        let mut f = figures();
        f.edge.insert(
            "kiosk".into(),
            edge(20, 0, 3, 4, &[("grace_period", 3), ("offline", 4)]),
        );
        assert_eq!(
            fired(&f),
            vec![("degraded_verdicts", "service:kiosk".into())]
        );
        f.edge.insert("kiosk".into(), edge(20, 0, 3, 3, &[]));
        assert_eq!(fired(&f), vec![], "30 % exactly");
    }

    #[test]
    fn disabled_rules_never_fire_and_configs_are_checked() {
        let mut f = figures();
        f.publish_failures.insert("lease".into(), 3);
        let c = RulesConfig {
            disabled: vec!["publication_failures".into()],
            ..RulesConfig::default()
        };
        assert!(evaluate(&c, &f).is_empty());
        assert!(c.check().is_ok());
        assert!(RulesConfig::default().check().is_ok());
        for bad in [
            RulesConfig {
                failure_ratio: 1.5,
                ..RulesConfig::default()
            },
            RulesConfig {
                evaluate_every_s: 0,
                ..RulesConfig::default()
            },
            RulesConfig {
                node_unreachable_after_s: 10,
                ..RulesConfig::default()
            },
            RulesConfig {
                disabled: vec!["nope".into()],
                ..RulesConfig::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let parsed: RulesConfig = serde_json::from_str(r#"{"failure_ratio": 0.5}"#).unwrap();
        assert_eq!(
            parsed,
            RulesConfig {
                failure_ratio: 0.5,
                ..RulesConfig::default()
            }
        );
        assert!(serde_json::from_str::<RulesConfig>(r#"{"typo": 1}"#).is_err());
    }

    #[test]
    fn node_local_rules_are_judged_by_their_node() {
        assert_eq!(
            judge("validation_failure_ratio", "a"),
            Judge::Node("a".into())
        );
        assert_eq!(judge("edge_failure_ratio", "b"), Judge::Node("b".into()));
        assert_eq!(judge("node_unreachable", "a"), Judge::Anyone);
        assert_eq!(judge("signing_key_expiry", "a"), Judge::Anyone);
        assert_eq!(judge("retired_rule", "a"), Judge::Anyone);
        assert_eq!(judge("key_compromised", "a"), Judge::Operator);
    }
}
