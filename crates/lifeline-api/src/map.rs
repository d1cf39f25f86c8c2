//! The dependency map (`GET /api/v1/map`): who owns each licensing part, how healthy it is,
//! what depends on it, and which parts are single points of failure.

use serde::{Deserialize, Serialize};

/// What a component of the dependency map is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// A license signing key of the server's key ring (`key:KID`).
    SigningKey,
    /// The emergency override key, kept offline (`override-key:KID`; `override-key` when
    /// none is configured).
    OverrideKey,
    /// A server node sharing the store (`node:ID`).
    Node,
    /// The license store (`store`), or its declared replica (`store-replica`).
    Store,
    /// The signed status list (`status-list`).
    StatusList,
    /// The signed override bundle (`override-bundle`).
    OverrideBundle,
    /// A webhook endpoint (`webhook:ID`).
    Webhook,
    /// A service embedding a verifier, learned from telemetry (`service:NAME`).
    Service,
}

impl ComponentKind {
    /// Every kind, in the order the map lists them.
    pub const ALL: [Self; 8] = [
        Self::Service,
        Self::Node,
        Self::StatusList,
        Self::OverrideBundle,
        Self::Webhook,
        Self::Store,
        Self::SigningKey,
        Self::OverrideKey,
    ];

    /// The name as in JSON (and as an owners file names a kind).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SigningKey => "signing_key",
            Self::OverrideKey => "override_key",
            Self::Node => "node",
            Self::Store => "store",
            Self::StatusList => "status_list",
            Self::OverrideBundle => "override_bundle",
            Self::Webhook => "webhook",
            Self::Service => "service",
        }
    }
}

/// How a component is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Working.
    Ok,
    /// Working, but someone should look (rotation due soon, failures creeping up, missing).
    Warning,
    /// Not working, or about to stop.
    Critical,
    /// Nothing to judge from (no recent figures, not probed).
    Unknown,
}

impl Health {
    /// The name as in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Critical => "critical",
            Self::Unknown => "unknown",
        }
    }
}

/// One component of the dependency map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MapComponent {
    /// Stable id: `key:KID`, `node:ID`, `store`, `service:NAME`, ...
    pub id: String,
    /// What it is.
    pub kind: ComponentKind,
    /// For people.
    pub name: String,
    /// Who owns it (the owners file; `unassigned` when it names nobody).
    pub owner: String,
    /// How it is doing.
    pub health: Health,
    /// Why, for people.
    pub reason: String,
    /// A part that should exist and does not (no emergency override key configured).
    pub missing: bool,
    /// Losing this component alone stops at least one other component (see `breaks`).
    pub single_point_of_failure: bool,
    /// The components that stop working if this one alone is lost (alternatives
    /// considered; nodes already unreachable count as lost), by id.
    pub breaks: Vec<String>,
    /// Every component depending on this one, directly or transitively, by id.
    pub blast_radius: Vec<String>,
    /// Usable licenses (valid or in grace) affected if it is lost, when cheap to tell:
    /// those a signing key signed; every usable license when losing it stops online
    /// validation or the status list. `None` when not known.
    pub licenses_affected: Option<u64>,
    /// Products of those licenses.
    pub products_affected: Option<u64>,
}

/// "`from` depends on `to`". Edges of one `from` with the same `requirement` are
/// alternatives: `from` works while any one of their `to` works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MapEdge {
    /// The dependent component's id.
    pub from: String,
    /// The component it depends on.
    pub to: String,
    /// What `from` needs (`nodes`, `store`, `signing_key`, `status_list`, `overrides`).
    pub requirement: String,
}

/// `GET /api/v1/map`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DependencyMap {
    /// When it was computed.
    pub now: u64,
    /// Every component, grouped by kind (in [`ComponentKind::ALL`]'s order), then by id.
    pub components: Vec<MapComponent>,
    /// Every "depends on" edge.
    pub edges: Vec<MapEdge>,
    /// The ids of the components flagged `single_point_of_failure`.
    pub single_points_of_failure: Vec<String>,
}
