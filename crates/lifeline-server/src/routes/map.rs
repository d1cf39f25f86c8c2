//! `GET /api/v1/map` (viewer): the dependency map. This handler gathers the figures (key
//! ring, node heartbeats, a store probe, publication failures, webhook endpoints, the
//! services this node heard from, license counts by key) and builds the graph; the health
//! rules, owners and the graph analysis are `map.rs` (pure).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use lifeline_api::{ComponentKind, DependencyMap, Health, KeyStatus, MapComponent, MapEdge, Role};
use sqlx::Row;

use crate::AppState;
use crate::auth::Caller;
use crate::map::{self, Graph};
use crate::problem::AppError;
use crate::store::{Backend, StoreError};

/// A probe slower than this makes the store's health a warning.
const SLOW_STORE_MS: u128 = 500;

/// One component before the graph analysis.
struct Part {
    id: String,
    kind: ComponentKind,
    name: String,
    health: (Health, String),
    missing: bool,
}

/// Usable licenses (valid or in grace) by signing key, and their products.
async fn usable_by_key(
    state: &AppState,
    now: u64,
) -> Result<BTreeMap<String, (u64, BTreeSet<String>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT kid, product, COUNT(*) AS n FROM licenses \
         WHERE revoked_at IS NULL AND expires_at + grace_s > $1 GROUP BY kid, product",
    )
    .bind(i64::try_from(now).unwrap_or(i64::MAX))
    .fetch_all(state.store().pool())
    .await?;
    let mut out: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    for row in &rows {
        let kid: String = row.try_get("kid")?;
        let product: String = row.try_get("product")?;
        let n: i64 = row.try_get("n")?;
        let entry = out.entry(kid).or_default();
        entry.0 += u64::try_from(n).unwrap_or(0);
        entry.1.insert(product);
    }
    Ok(out)
}

pub(crate) async fn map(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<DependencyMap>, AppError> {
    caller.require(Role::Viewer)?;
    let now = crate::clock::now();
    let rules = state.rules();
    let config = state.map_config();
    let mut parts: Vec<Part> = Vec::new();

    // Signing keys.
    let ring = state.keys().await?;
    let mut active_key = Vec::new();
    for key in &ring.infos {
        let id = format!("key:{}", key.kid);
        if key.status == KeyStatus::Active {
            active_key.push(id.clone());
        }
        parts.push(Part {
            id,
            kind: ComponentKind::SigningKey,
            name: format!(
                "signing key {} ({})",
                key.kid,
                if key.status == KeyStatus::Active {
                    "active"
                } else {
                    "retired"
                }
            ),
            health: map::key_health(key, now, rules.key_expiry_warning_days),
            missing: false,
        });
    }
    // The emergency override keys: declared, or missing.
    let mut override_keys = Vec::new();
    for key in &config.override_keys {
        let id = format!("override-key:{}", key.kid);
        override_keys.push(id.clone());
        parts.push(Part {
            id,
            kind: ComponentKind::OverrideKey,
            name: format!("emergency override key {}", key.kid),
            health: map::override_key_health(key, now, rules.key_expiry_warning_days),
            missing: false,
        });
    }
    if override_keys.is_empty() {
        parts.push(Part {
            id: "override-key".to_owned(),
            kind: ComponentKind::OverrideKey,
            name: "emergency override key".to_owned(),
            health: (
                Health::Warning,
                "missing: none declared (owners file `override_keys`); with every node down no override can be minted".to_owned(),
            ),
            missing: true,
        });
    }
    // Nodes: the heartbeats, and this node even before its first heartbeat.
    let unreachable_after = rules.node_unreachable_after_s;
    let mut nodes = crate::nodes::list(state.store(), now, unreachable_after).await?;
    if !nodes.iter().any(|n| n.id == state.node_id()) {
        nodes.push(lifeline_api::NodeInfo {
            id: state.node_id().to_owned(),
            url: String::new(),
            started_at: now,
            last_seen: now,
            reachable: true,
        });
    }
    let mut node_ids = Vec::new();
    let mut down = BTreeSet::new();
    for n in &nodes {
        let id = format!("node:{}", n.id);
        let health = if n.id == state.node_id() {
            (Health::Ok, "this node: answering now".to_owned())
        } else {
            map::node_health(n.last_seen, now, unreachable_after)
        };
        if health.0 == Health::Critical {
            down.insert(id.clone());
        }
        node_ids.push(id.clone());
        parts.push(Part {
            id,
            kind: ComponentKind::Node,
            name: if n.url.is_empty() {
                format!("node {}", n.id)
            } else {
                format!("node {} ({})", n.id, n.url)
            },
            health,
            missing: false,
        });
    }
    // The store: a cheap query; its replica when one is declared.
    let backend = match state.store().backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let started = Instant::now();
    let probe = state.store().ping().await;
    let took = started.elapsed().as_millis();
    parts.push(Part {
        id: "store".to_owned(),
        kind: ComponentKind::Store,
        name: format!("{backend} store"),
        health: match probe {
            Err(_) => (Health::Critical, "does not answer".to_owned()),
            Ok(()) if took > SLOW_STORE_MS => {
                (Health::Warning, format!("slow: a probe took {took} ms"))
            }
            Ok(()) => (Health::Ok, format!("answers ({took} ms)")),
        },
        missing: false,
    });
    let mut stores = vec!["store".to_owned()];
    if let Some(url) = &config.store_replica {
        stores.push("store-replica".to_owned());
        parts.push(Part {
            id: "store-replica".to_owned(),
            kind: ComponentKind::Store,
            name: format!("store replica {}", map::redact_url(url)),
            health: (
                Health::Unknown,
                "declared (--store-replica); not probed".to_owned(),
            ),
            missing: false,
        });
    }
    // What the nodes publish, by this node's recent failures.
    let failures = state.metrics().recent_publish_failures(now, rules.window_s);
    for (id, kind, what, name) in [
        (
            "status-list",
            ComponentKind::StatusList,
            "status_list",
            "status list (revocations)",
        ),
        (
            "override-bundle",
            ComponentKind::OverrideBundle,
            "override_bundle",
            "override bundle",
        ),
    ] {
        parts.push(Part {
            id: id.to_owned(),
            kind,
            name: name.to_owned(),
            health: map::publication_health(
                failures.get(what).copied().unwrap_or(0),
                rules.publish_failures,
                rules.window_s,
            ),
            missing: false,
        });
    }
    // Webhook endpoints.
    let mut webhook_ids = Vec::new();
    for w in crate::webhooks::list(state.store()).await? {
        let id = format!("webhook:{}", w.id);
        webhook_ids.push(id.clone());
        parts.push(Part {
            id,
            kind: ComponentKind::Webhook,
            name: format!("webhook {}", map::redact_url(&w.url)),
            health: map::webhook_health(w.disabled_at.is_some(), w.consecutive_failures),
            missing: false,
        });
    }
    // Services embedding a verifier, as this node heard from them.
    let edge = state.metrics().edge();
    let recent = edge.recent(now, rules.window_s);
    let mut service_ids = Vec::new();
    for s in edge.services(now) {
        let id = format!("service:{}", s.service);
        let r = recent.get(&s.service).cloned().unwrap_or_default();
        service_ids.push(id.clone());
        parts.push(Part {
            id,
            kind: ComponentKind::Service,
            name: format!("{} ({} instance(s))", s.service, s.instances),
            health: map::service_health(
                r.count,
                r.invalid,
                r.grace + r.offline,
                rules.failure_ratio,
                rules.degraded_share,
                rules.window_s,
            ),
            missing: false,
        });
    }

    // The graph.
    let mut graph = Graph::default();
    for p in parts.iter().filter(|p| !p.missing) {
        graph.component(&p.id);
    }
    let status_list = vec!["status-list".to_owned()];
    let mut overrides = vec!["override-bundle".to_owned()];
    overrides.extend(override_keys.iter().cloned());
    for n in &node_ids {
        graph.requires(n, "store", &stores);
        graph.requires(n, "signing_key", &active_key);
    }
    for published in ["status-list", "override-bundle"] {
        graph.requires(published, "nodes", &node_ids);
        graph.requires(published, "store", &stores);
        graph.requires(published, "signing_key", &active_key);
    }
    for w in &webhook_ids {
        graph.requires(w, "nodes", &node_ids);
        graph.requires(w, "store", &stores);
    }
    for s in &service_ids {
        graph.requires(s, "nodes", &node_ids);
        graph.requires(s, "status_list", &status_list);
        graph.requires(s, "signing_key", &active_key);
        graph.requires(s, "overrides", &overrides);
    }
    let impacts = graph.analyse(&down);

    // Licenses affected: all usable ones when online validation or the status list stops,
    // else those a key signed.
    let by_key = usable_by_key(&state, now).await?;
    let total: u64 = by_key.values().map(|(n, _)| n).sum();
    let all_products: BTreeSet<&String> = by_key.values().flat_map(|(_, p)| p).collect();
    let stops_validation = |lost: &BTreeSet<String>| {
        lost.contains("status-list")
            || (!node_ids.is_empty() && node_ids.iter().all(|n| lost.contains(n)))
    };

    let mut components: Vec<MapComponent> = parts
        .into_iter()
        .map(|p| {
            let impact = impacts.get(&p.id).cloned().unwrap_or_default();
            let mut lost = impact.breaks.clone();
            lost.insert(p.id.clone());
            let (licenses_affected, products_affected) = if p.missing {
                (None, None)
            } else if stops_validation(&lost) {
                (Some(total), Some(all_products.len() as u64))
            } else if p.kind == ComponentKind::SigningKey {
                let kid = p.id.trim_start_matches("key:");
                let (n, products) = by_key.get(kid).cloned().unwrap_or_default();
                (Some(n), Some(products.len() as u64))
            } else if p.kind == ComponentKind::Service {
                (None, None)
            } else {
                (Some(0), Some(0))
            };
            MapComponent {
                owner: config.owner(&p.id, p.kind),
                single_point_of_failure: impact.single_point_of_failure(),
                breaks: impact.breaks.into_iter().collect(),
                blast_radius: impact.blast_radius.into_iter().collect(),
                id: p.id,
                kind: p.kind,
                name: p.name,
                health: p.health.0,
                reason: p.health.1,
                missing: p.missing,
                licenses_affected,
                products_affected,
            }
        })
        .collect();
    let order = |k: ComponentKind| ComponentKind::ALL.iter().position(|x| *x == k);
    components.sort_by(|a, b| (order(a.kind), &a.id).cmp(&(order(b.kind), &b.id)));
    let single_points_of_failure = components
        .iter()
        .filter(|c| c.single_point_of_failure)
        .map(|c| c.id.clone())
        .collect();
    let edges = graph
        .edges()
        .into_iter()
        .map(|(from, to, requirement)| MapEdge {
            from,
            to,
            requirement,
        })
        .collect();
    Ok(Json(DependencyMap {
        now,
        components,
        edges,
        single_points_of_failure,
    }))
}
