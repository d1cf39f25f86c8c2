//! Shared by every part of the API: the problem document of every error, and roles.

use serde::{Deserialize, Serialize};

/// An RFC 9457 problem document; `code` is stable and machine-readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` or `urn:lifeline:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short, human-readable summary.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable snake_case code, e.g. `unauthorized`, `not_found`, `invalid_body`.
    pub code: String,
    /// With `invalid_field`: the request body's field that is out of bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Roles of API tokens, from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything except secrets.
    Viewer,
    /// Viewer, plus issuing and revoking licenses.
    Operator,
    /// Operator, plus keys, tokens and products.
    Admin,
}

impl Role {
    /// The role's name as in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}
