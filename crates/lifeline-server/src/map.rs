//! The dependency map's logic, pure (no I/O, no clock): who owns a component, how healthy a
//! key, node, service or webhook is from given figures, and, over a graph of "depends on"
//! requirements, each component's blast radius and whether it is a single point of failure.
//! `routes/map.rs` gathers the figures and builds the graph.
//!
//! A component's requirements are groups of alternatives: it works while, in every group,
//! at least one member works (a verifier needs *a* node, *the* status list, *the* active
//! signing key). Losing a set of components makes every component with a group left empty
//! fail too, transitively. A component is a single point of failure when losing it alone
//! makes another component fail, given the components already lost (unreachable nodes).

use std::collections::{BTreeMap, BTreeSet};

use lifeline_api::{ComponentKind, Health, KeyStatus, SigningKeyInfo};
use serde::{Deserialize, Serialize};

/// The owner shown when the owners file names nobody.
pub const UNASSIGNED: &str = "unassigned";

/// `lifeline serve --owners FILE.json`: owners of the map's components and what the map
/// cannot learn by itself. Every member is optional.
///
/// ```json
/// {"owners": {"store": "dba", "node": "platform", "service:photo-pro": "desktop-team"},
///  "default_owner": "licensing", "store_replica": "postgres://replica.internal/lifeline",
///  "override_keys": [{"kid": "emergency-2026", "not_after": 1830000000}]}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapConfig {
    /// Owner by component id (`store`, `node:ID`, `key:KID`, `service:NAME`, ...) or by kind
    /// (`signing_key`, `override_key`, `node`, `store`, `status_list`, `override_bundle`,
    /// `webhook`, `service`); an id wins over its kind.
    pub owners: BTreeMap<String, String>,
    /// The owner of everything else ([`UNASSIGNED`] when absent).
    pub default_owner: Option<String>,
    /// A replica of the store the nodes can fail over to (`serve --store-replica URL` wins).
    /// Declared, not probed; its credentials are never shown.
    pub store_replica: Option<String>,
    /// The emergency override keys kept offline (`lifeline keygen --for-overrides`): the
    /// server never holds them, so they are declared here.
    pub override_keys: Vec<DeclaredKey>,
}

/// An emergency override key declared in the owners file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredKey {
    /// Its `kid`.
    pub kid: String,
    /// When it stops being usable (unix seconds), if it does.
    #[serde(default)]
    pub not_after: Option<u64>,
}

impl MapConfig {
    /// Refuses empty owner names and kids, and a replica that is not a URL.
    pub fn check(&self) -> Result<(), String> {
        for (what, owner) in &self.owners {
            if what.trim().is_empty() || owner.trim().is_empty() {
                return Err(format!(
                    "owners: {what:?} → {owner:?}: names must not be empty"
                ));
            }
        }
        if self
            .default_owner
            .as_deref()
            .is_some_and(|o| o.trim().is_empty())
        {
            return Err("default_owner must not be empty".to_owned());
        }
        if let Some(url) = &self.store_replica
            && !url.contains("://")
        {
            return Err("store_replica must be a URL (postgres://…, sqlite://…)".to_owned());
        }
        if self.override_keys.iter().any(|k| k.kid.trim().is_empty()) {
            return Err("override_keys: every key needs a kid".to_owned());
        }
        Ok(())
    }

    /// Who owns component `id` of `kind`.
    pub fn owner(&self, id: &str, kind: ComponentKind) -> String {
        self.owners
            .get(id)
            .or_else(|| self.owners.get(kind.as_str()))
            .cloned()
            .or_else(|| self.default_owner.clone())
            .unwrap_or_else(|| UNASSIGNED.to_owned())
    }
}

/// A URL without its credentials, query or path (`postgres://u:pw@db:5432/x?sslmode=…` →
/// `postgres://db:5432`): what the map may show of a store.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".to_owned();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}")
}

/// A signing key's health as of `now`: the active key by its `rotate_by` (critical once
/// due, warning within `warn_days`), a retired key by its window (it keeps verifying what it
/// signed).
pub(crate) fn key_health(key: &SigningKeyInfo, now: u64, warn_days: u64) -> (Health, String) {
    if key.status == KeyStatus::Retired {
        return (
            Health::Ok,
            "retired: signs nothing new, verifies what it signed".to_owned(),
        );
    }
    if key.status == KeyStatus::Compromised {
        // Recovered: its licenses re-signed, only those on its issued list verify.
        return match key.issued_list_licenses {
            Some(n) => (
                Health::Warning,
                format!(
                    "compromised: signs nothing; {n} tokens it signed verify through its issued list, every other is refused"
                ),
            ),
            None => (
                Health::Critical,
                "compromised with no issued list published: every token it signed is refused"
                    .to_owned(),
            ),
        };
    }
    if let Some(end) = key.not_after
        && end <= now
    {
        return (
            Health::Critical,
            format!("expired {} s ago: it can no longer sign", now - end),
        );
    }
    match key.rotate_by {
        Some(due) if due <= now => (
            Health::Critical,
            format!(
                "expired: rotation overdue by {} day(s)",
                (now - due).div_ceil(86_400)
            ),
        ),
        Some(due) if due - now <= warn_days.saturating_mul(86_400) => (
            Health::Warning,
            format!("rotation due in {} day(s)", (due - now) / 86_400),
        ),
        Some(due) => (
            Health::Ok,
            format!("signs now; rotation due in {} day(s)", (due - now) / 86_400),
        ),
        None => (Health::Ok, "signs now".to_owned()),
    }
}

/// A declared emergency override key's health.
pub(crate) fn override_key_health(key: &DeclaredKey, now: u64, warn_days: u64) -> (Health, String) {
    match key.not_after {
        Some(end) if end <= now => (
            Health::Critical,
            "expired: no override can be minted offline".to_owned(),
        ),
        Some(end) if end - now <= warn_days.saturating_mul(86_400) => (
            Health::Warning,
            format!("expires in {} day(s)", (end - now) / 86_400),
        ),
        _ => (
            Health::Ok,
            "declared (kept offline; the server cannot check it)".to_owned(),
        ),
    }
}

/// A node's health from its heartbeat.
pub(crate) fn node_health(last_seen: u64, now: u64, unreachable_after: u64) -> (Health, String) {
    let silent = now.saturating_sub(last_seen);
    if silent > unreachable_after {
        (
            Health::Critical,
            format!("unreachable: no heartbeat for {silent} s (limit {unreachable_after} s)"),
        )
    } else {
        (Health::Ok, format!("heartbeat {silent} s ago"))
    }
}

/// A verifier service's health from its recent verdicts: critical above `failure_ratio`
/// refused, warning above half of it or when grace + offline verdicts exceed
/// `degraded_share`, unknown without verdicts in the window.
pub(crate) fn service_health(
    count: u64,
    invalid: u64,
    degraded: u64,
    failure_ratio: f64,
    degraded_share: f64,
    window_s: u64,
) -> (Health, String) {
    if count == 0 {
        return (
            Health::Unknown,
            format!("no verdicts reported in the last {window_s} s"),
        );
    }
    let refused = invalid as f64 / count as f64;
    let degraded_ratio = degraded as f64 / count as f64;
    let text = format!(
        "{:.0} % of {count} verdicts refused, {:.0} % grace or offline (last {window_s} s)",
        refused * 100.0,
        degraded_ratio * 100.0
    );
    if refused > failure_ratio {
        (Health::Critical, text)
    } else if refused > failure_ratio / 2.0 || degraded_ratio > degraded_share {
        (Health::Warning, text)
    } else {
        (Health::Ok, text)
    }
}

/// A webhook endpoint's health.
pub(crate) fn webhook_health(disabled: bool, consecutive_failures: u64) -> (Health, String) {
    if disabled {
        (
            Health::Critical,
            format!("disabled after {consecutive_failures} failed message(s) in a row"),
        )
    } else if consecutive_failures > 0 {
        (
            Health::Warning,
            format!("failing: {consecutive_failures} message(s) in a row exhausted their retries"),
        )
    } else {
        (Health::Ok, "enabled, delivering".to_owned())
    }
}

/// A signed publication's health (status list, override bundle) from this node's recent
/// failures to publish it.
pub(crate) fn publication_health(failures: u64, threshold: u64, window_s: u64) -> (Health, String) {
    if failures == 0 {
        (
            Health::Ok,
            format!("published without failure in the last {window_s} s"),
        )
    } else if threshold > 0 && failures >= threshold {
        (
            Health::Critical,
            format!("{failures} publication failure(s) in the last {window_s} s: edges go stale"),
        )
    } else {
        (
            Health::Warning,
            format!("{failures} publication failure(s) in the last {window_s} s"),
        )
    }
}

/// Components and their requirements: `requires[c]` lists `c`'s groups of alternatives.
#[derive(Clone, Debug, Default)]
pub(crate) struct Graph {
    components: BTreeSet<String>,
    requires: BTreeMap<String, Vec<(String, BTreeSet<String>)>>,
}

/// What losing one component does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Impact {
    /// Every component depending on it, transitively.
    pub(crate) blast_radius: BTreeSet<String>,
    /// The components that stop working when it alone is lost (besides those already down).
    pub(crate) breaks: BTreeSet<String>,
}

impl Impact {
    /// Losing it alone stops another component.
    pub(crate) fn single_point_of_failure(&self) -> bool {
        !self.breaks.is_empty()
    }
}

impl Graph {
    /// Adds a component.
    pub(crate) fn component(&mut self, id: &str) {
        self.components.insert(id.to_owned());
    }

    /// `from` needs one of `any_of` (a `requirement` such as `nodes`). An empty group is no
    /// requirement (nothing there to lose); members that are not components are ignored.
    pub(crate) fn requires(&mut self, from: &str, requirement: &str, any_of: &[String]) {
        let group: BTreeSet<String> = any_of
            .iter()
            .filter(|c| self.components.contains(*c))
            .cloned()
            .collect();
        if group.is_empty() || !self.components.contains(from) {
            return;
        }
        self.requires
            .entry(from.to_owned())
            .or_default()
            .push((requirement.to_owned(), group));
    }

    /// Every edge: (from, to, requirement).
    pub(crate) fn edges(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (from, groups) in &self.requires {
            for (requirement, group) in groups {
                for to in group {
                    out.push((from.clone(), to.clone(), requirement.clone()));
                }
            }
        }
        out
    }

    /// The components that fail when `lost` are lost (`lost` included).
    fn failed(&self, lost: &BTreeSet<String>) -> BTreeSet<String> {
        let mut failed = lost.clone();
        loop {
            let more: Vec<String> = self
                .requires
                .iter()
                .filter(|(c, _)| !failed.contains(*c))
                .filter(|(_, groups)| {
                    groups
                        .iter()
                        .any(|(_, group)| group.iter().all(|m| failed.contains(m)))
                })
                .map(|(c, _)| c.clone())
                .collect();
            if more.is_empty() {
                return failed;
            }
            failed.extend(more);
        }
    }

    /// The transitive dependents of `id`.
    fn dependents(&self, id: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut todo = vec![id.to_owned()];
        while let Some(next) = todo.pop() {
            for (c, groups) in &self.requires {
                if groups.iter().any(|(_, g)| g.contains(&next)) && found.insert(c.clone()) {
                    todo.push(c.clone());
                }
            }
        }
        found.remove(id);
        found
    }

    /// Each component's impact, given the components already `down`.
    pub(crate) fn analyse(&self, down: &BTreeSet<String>) -> BTreeMap<String, Impact> {
        let baseline = self.failed(down);
        self.components
            .iter()
            .map(|id| {
                let breaks = if baseline.contains(id) {
                    BTreeSet::new()
                } else {
                    let mut lost = baseline.clone();
                    lost.insert(id.clone());
                    let mut breaks: BTreeSet<String> =
                        self.failed(&lost).difference(&baseline).cloned().collect();
                    breaks.remove(id);
                    breaks
                };
                (
                    id.clone(),
                    Impact {
                        blast_radius: self.dependents(id),
                        breaks,
                    },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The server's shape: a service needs a node, the status list and the key; nodes need
    /// the store (or its replica) and the key; the status list needs a node and the store.
    fn licensing(nodes: &[&str], replica: bool) -> Graph {
        let mut g = Graph::default();
        for c in ["service:app", "status-list", "store", "key:k1"] {
            g.component(c);
        }
        if replica {
            g.component("store-replica");
        }
        for n in nodes {
            g.component(n);
        }
        let stores = ids(&["store", "store-replica"]);
        for n in nodes {
            g.requires(n, "store", &stores);
            g.requires(n, "signing_key", &ids(&["key:k1"]));
        }
        g.requires("status-list", "nodes", &ids(nodes));
        g.requires("status-list", "store", &stores);
        g.requires("service:app", "nodes", &ids(nodes));
        g.requires("service:app", "status_list", &ids(&["status-list"]));
        g.requires("service:app", "signing_key", &ids(&["key:k1"]));
        g
    }

    #[test]
    fn a_single_store_is_a_single_point_of_failure_with_everything_in_its_blast_radius() {
        let map = licensing(&["node:a"], false).analyse(&BTreeSet::new());
        assert!(map["store"].single_point_of_failure());
        assert_eq!(
            map["store"].breaks,
            set(&["node:a", "status-list", "service:app"])
        );
        assert_eq!(
            map["store"].blast_radius,
            set(&["node:a", "status-list", "service:app"])
        );
        assert!(map["node:a"].single_point_of_failure());
        assert!(map["key:k1"].single_point_of_failure());
        // Nothing depends on the service.
        assert!(!map["service:app"].single_point_of_failure());
        assert!(map["service:app"].blast_radius.is_empty());
    }

    #[test]
    fn two_nodes_and_a_replica_remove_the_store_and_node_single_points() {
        let map = licensing(&["node:a", "node:b"], true).analyse(&BTreeSet::new());
        for id in ["store", "store-replica", "node:a", "node:b"] {
            assert!(!map[id].single_point_of_failure(), "{id}: {:?}", map[id]);
        }
        // Still in the blast radius: they are depended on, with alternatives.
        assert!(map["store"].blast_radius.contains("service:app"));
        assert!(map["node:a"].blast_radius.contains("service:app"));
        // The key and the status list have no alternative.
        assert!(map["key:k1"].single_point_of_failure());
        assert_eq!(map["status-list"].breaks, set(&["service:app"]));
    }

    #[test]
    fn two_nodes_without_a_replica_leave_the_store_a_single_point() {
        let map = licensing(&["node:a", "node:b"], false).analyse(&BTreeSet::new());
        assert!(map["store"].single_point_of_failure());
        assert!(!map["node:a"].single_point_of_failure());
    }

    #[test]
    fn a_node_already_down_makes_the_other_one_a_single_point() {
        let map = licensing(&["node:a", "node:b"], true).analyse(&set(&["node:b"]));
        assert!(map["node:a"].single_point_of_failure());
        assert!(map["node:a"].breaks.contains("service:app"));
        // A component already down breaks nothing more.
        assert!(!map["node:b"].single_point_of_failure());
    }

    #[test]
    fn empty_groups_and_unknown_members_are_no_requirement() {
        let mut g = Graph::default();
        g.component("a");
        g.requires("a", "nodes", &[]);
        g.requires("a", "store", &ids(&["nowhere"]));
        assert!(g.edges().is_empty());
        let map = g.analyse(&BTreeSet::new());
        assert_eq!(map["a"], Impact::default());
    }

    #[test]
    fn owners_by_id_then_kind_then_default() {
        let mut c = MapConfig::default();
        assert_eq!(c.owner("store", ComponentKind::Store), UNASSIGNED);
        c.default_owner = Some("licensing".into());
        c.owners.insert("node".into(), "platform".into());
        c.owners.insert("node:a".into(), "alice".into());
        assert_eq!(c.owner("node:a", ComponentKind::Node), "alice");
        assert_eq!(c.owner("node:b", ComponentKind::Node), "platform");
        assert_eq!(c.owner("store", ComponentKind::Store), "licensing");
        assert!(c.check().is_ok());
        c.owners.insert("store".into(), " ".into());
        assert!(c.check().is_err());
        let bad: Result<MapConfig, _> = serde_json::from_str(r#"{"owner": {}}"#);
        assert!(bad.is_err(), "unknown members are refused");
        let replica = MapConfig {
            store_replica: Some("replica".into()),
            ..MapConfig::default()
        };
        assert!(replica.check().is_err());
    }

    #[test]
    fn urls_lose_credentials_path_and_query() {
        assert_eq!(
            redact_url("postgres://u:secret@db.internal:5432/lifeline?password=x"),
            "postgres://db.internal:5432"
        );
        assert_eq!(redact_url("sqlite:///var/lib/x.db"), "sqlite://");
        assert_eq!(redact_url("nope"), "(not a URL)");
    }

    fn key(status: KeyStatus, rotate_by: Option<u64>, not_after: Option<u64>) -> SigningKeyInfo {
        SigningKeyInfo {
            kid: "k".into(),
            status,
            created_at: 0,
            not_before: 0,
            not_after,
            rotate_by,
            public_jwk: serde_json::json!({}),
            compromised_at: None,
            compromise_reason: None,
            compromise_incident: None,
            issued_list_licenses: None,
        }
    }

    #[test]
    fn key_health_follows_rotation_and_windows() {
        let now = 1_000 * 86_400;
        let h = |k| key_health(&k, now, 14).0;
        assert_eq!(
            h(key(KeyStatus::Active, Some(now + 100 * 86_400), None)),
            Health::Ok
        );
        assert_eq!(
            h(key(KeyStatus::Active, Some(now + 3 * 86_400), None)),
            Health::Warning
        );
        assert_eq!(
            h(key(KeyStatus::Active, Some(now - 1), None)),
            Health::Critical
        );
        assert_eq!(h(key(KeyStatus::Active, None, Some(now))), Health::Critical);
        assert_eq!(h(key(KeyStatus::Retired, None, Some(now - 5))), Health::Ok);
        let declared = DeclaredKey {
            kid: "e".into(),
            not_after: Some(now - 1),
        };
        assert_eq!(override_key_health(&declared, now, 14).0, Health::Critical);
    }

    #[test]
    fn node_service_webhook_and_publication_health() {
        assert_eq!(node_health(100, 120, 30).0, Health::Ok);
        assert_eq!(node_health(100, 131, 30).0, Health::Critical);
        assert_eq!(service_health(0, 0, 0, 0.2, 0.3, 300).0, Health::Unknown);
        assert_eq!(service_health(100, 5, 0, 0.2, 0.3, 300).0, Health::Ok);
        assert_eq!(service_health(100, 15, 0, 0.2, 0.3, 300).0, Health::Warning);
        assert_eq!(service_health(100, 0, 40, 0.2, 0.3, 300).0, Health::Warning);
        assert_eq!(
            service_health(100, 50, 0, 0.2, 0.3, 300).0,
            Health::Critical
        );
        assert_eq!(webhook_health(false, 0).0, Health::Ok);
        assert_eq!(webhook_health(false, 2).0, Health::Warning);
        assert_eq!(webhook_health(true, 5).0, Health::Critical);
        assert_eq!(publication_health(0, 1, 300).0, Health::Ok);
        assert_eq!(publication_health(1, 1, 300).0, Health::Critical);
        assert_eq!(publication_health(1, 3, 300).0, Health::Warning);
    }
}
