//! Webhook endpoints and the events they are sent.

use serde::{Deserialize, Serialize};

/// What a webhook endpoint is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum WebhookEventType {
    /// A rule opened an incident.
    #[serde(rename = "incident.opened")]
    IncidentOpened,
    /// An incident's condition cleared.
    #[serde(rename = "incident.resolved")]
    IncidentResolved,
    /// A license was revoked.
    #[serde(rename = "license.revoked")]
    LicenseRevoked,
    /// An override became active (signed at creation or on approval).
    #[serde(rename = "override.issued")]
    OverrideIssued,
    /// A machine took a new seat.
    #[serde(rename = "seat.activated")]
    SeatActivated,
    /// A seat was released (by its machine or an operator).
    #[serde(rename = "seat.released")]
    SeatReleased,
    /// The server took a seat back: its heartbeats stopped for `heartbeat_s` of service time.
    #[serde(rename = "seat.reclaimed")]
    SeatReclaimed,
    /// An activation was refused: every seat is taken.
    #[serde(rename = "seat.denied")]
    SeatDenied,
    /// A signing key was marked compromised (its licenses re-signed, its issued list
    /// published).
    #[serde(rename = "key.compromised")]
    KeyCompromised,
}

impl WebhookEventType {
    /// Every event type.
    pub const ALL: [Self; 9] = [
        Self::IncidentOpened,
        Self::IncidentResolved,
        Self::LicenseRevoked,
        Self::OverrideIssued,
        Self::SeatActivated,
        Self::SeatReleased,
        Self::SeatReclaimed,
        Self::SeatDenied,
        Self::KeyCompromised,
    ];

    /// The name as in JSON and in the message's `type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::IncidentOpened => "incident.opened",
            Self::IncidentResolved => "incident.resolved",
            Self::LicenseRevoked => "license.revoked",
            Self::OverrideIssued => "override.issued",
            Self::SeatActivated => "seat.activated",
            Self::SeatReleased => "seat.released",
            Self::SeatReclaimed => "seat.reclaimed",
            Self::SeatDenied => "seat.denied",
            Self::KeyCompromised => "key.compromised",
        }
    }
}

/// `POST /api/v1/webhooks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where to POST: an `http` or `https` URL.
    #[cfg_attr(feature = "schema", schemars(length(max = 2048)))]
    pub url: String,
    /// The events to send (at least one).
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub events: Vec<WebhookEventType>,
}

/// A webhook endpoint as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Where messages go.
    pub url: String,
    /// What it is sent.
    pub events: Vec<WebhookEventType>,
    /// When it was created.
    pub created_at: u64,
    /// Messages that exhausted their retries in a row (reset by a delivery).
    pub consecutive_failures: u64,
    /// When it was disabled after too many failed messages (nothing more is sent).
    pub disabled_at: Option<u64>,
}

/// A created webhook endpoint: the signing secret is shown once, here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookCreated {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The Standard Webhooks signing secret (`whsec_<base64>`): verify `webhook-signature`
    /// with it. Store it now: it cannot be shown again.
    pub secret: String,
}
