use serde::Serialize;

use crate::overrides::{Effect, Override};
use crate::{Claims, DEFAULT_LEEWAY_SECS, Reason, UnixTime, VerifyError};

/// Whether a license may be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum State {
    /// Usable: authentic, for this product, inside its validity period.
    Valid,
    /// Usable, but past `exp` and inside the grace period: warn the user.
    Grace,
    /// Not usable; the verdict's reason says why.
    Invalid,
    /// Usable with no validation node reachable: the license and the last signed lease
    /// verified offline, inside the offline grace (`offline_until` says how long).
    Offline,
    /// Usable because a temporary override applies; the verdict names it (`override`), and
    /// `reason` keeps what the license alone would have been refused or warned for.
    Override,
}

impl State {
    /// The snake_case name, e.g. `grace`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Grace => "grace",
            Self::Invalid => "invalid",
            Self::Override => "override",
            Self::Offline => "offline",
        }
    }

    /// Whether the product may run (`valid`, `grace`, `override` or `offline`).
    pub const fn is_usable(self) -> bool {
        matches!(
            self,
            Self::Valid | Self::Grace | Self::Override | Self::Offline
        )
    }
}

/// The outcome of verifying one license at one moment.
///
/// Serializes to the object `lifeline verify` prints:
/// `{"state", "reason", "detail", "kid", "expires_at", "grace_until", "claims"}`, plus
/// `override` when one applies. `claims` is present only when the signature checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    state: State,
    reason: Option<Reason>,
    detail: Option<String>,
    kid: Option<String>,
    expires_at: Option<UnixTime>,
    grace_until: Option<UnixTime>,
    claims: Option<Claims>,
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    applied: Option<Box<Override>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offline_until: Option<UnixTime>,
    #[serde(skip)]
    error: Option<VerifyError>,
}

impl Verdict {
    /// A usable verdict for authentic claims.
    pub(crate) fn usable(state: State, kid: &str, claims: &Claims) -> Self {
        Self::usable_owned(state, kid.to_owned(), claims.clone())
    }

    /// A refusal after the signature checked.
    pub(crate) fn refused_owned(error: VerifyError, kid: String, claims: Claims) -> Self {
        Self {
            state: State::Invalid,
            reason: Some(error.reason()),
            detail: Some(error.to_string()),
            error: Some(error),
            ..Self::with_owned_claims(kid, claims)
        }
    }

    /// A usable verdict, taking ownership of the claims.
    pub(crate) fn usable_owned(state: State, kid: String, claims: Claims) -> Self {
        let (reason, detail) = match state {
            State::Grace => (
                Some(Reason::GracePeriod),
                Some(format!(
                    "license expired at {}; usable in its grace period until {}",
                    claims.exp(),
                    claims.grace_until()
                )),
            ),
            _ => (None, None),
        };
        Self {
            state,
            reason,
            detail,
            ..Self::with_owned_claims(kid, claims)
        }
    }

    /// A refusal. `signed` carries the kid and claims when the signature checked.
    pub(crate) fn refused(error: VerifyError, signed: Option<(&str, &Claims)>) -> Self {
        let base = match signed {
            Some((kid, claims)) => Self::with_claims(kid, claims),
            None => Self::bare(),
        };
        Self {
            state: State::Invalid,
            reason: Some(error.reason()),
            detail: Some(error.to_string()),
            error: Some(error),
            ..base
        }
    }

    /// The verdict for an error found before the signature checked (no claims shown).
    pub fn from_error(error: VerifyError) -> Self {
        Self::refused(error, None)
    }

    fn with_claims(kid: &str, claims: &Claims) -> Self {
        Self::with_owned_claims(kid.to_owned(), claims.clone())
    }

    fn with_owned_claims(kid: String, claims: Claims) -> Self {
        let grace_until = (claims.grace_s() > 0).then(|| claims.grace_until());
        Self {
            kid: Some(kid),
            expires_at: Some(claims.exp()),
            grace_until,
            claims: Some(claims),
            ..Self::bare()
        }
    }

    fn bare() -> Self {
        Self {
            state: State::Invalid,
            reason: None,
            detail: None,
            kid: None,
            expires_at: None,
            grace_until: None,
            claims: None,
            applied: None,
            offline_until: None,
            error: None,
        }
    }

    /// `valid`, `grace` or `invalid`.
    pub fn state(&self) -> State {
        self.state
    }

    /// `None` when valid; the code otherwise (`grace_period` for `grace`).
    pub fn reason(&self) -> Option<Reason> {
        self.reason
    }

    /// A sentence for people explaining the reason, when there is one to explain.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The signing key's id, when the signature checked.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `exp`, when the signature checked.
    pub fn expires_at(&self) -> Option<UnixTime> {
        self.expires_at
    }

    /// `exp + grace_s`, when the license has a grace period and the signature checked.
    pub fn grace_until(&self) -> Option<UnixTime> {
        self.grace_until
    }

    /// The claims, only when the signature checked.
    pub fn claims(&self) -> Option<&Claims> {
        self.claims.as_ref()
    }

    /// The typed error behind an `invalid` verdict.
    pub fn error(&self) -> Option<&VerifyError> {
        self.error.as_ref()
    }

    /// Whether the product may run.
    pub fn is_usable(&self) -> bool {
        self.state.is_usable()
    }

    /// In state `offline`: when the offline grace runs out.
    pub fn offline_until(&self) -> Option<UnixTime> {
        self.offline_until
    }

    /// The same license refused for a reason found outside the token (a server's signed
    /// answer, the offline rules); the claims stay.
    pub(crate) fn refused_for(mut self, reason: Reason, detail: String) -> Self {
        self.state = State::Invalid;
        self.reason = Some(reason);
        self.detail = Some(detail);
        self.applied = None;
        self.offline_until = None;
        self
    }

    /// The same license, usable offline until `until`.
    pub(crate) fn offline(mut self, until: UnixTime, detail: String) -> Self {
        self.state = State::Offline;
        self.reason = Some(Reason::Offline);
        self.detail = Some(detail);
        self.offline_until = Some(until);
        self
    }

    /// The override that made this verdict usable, if one did.
    pub fn applied_override(&self) -> Option<&Override> {
        self.applied.as_deref()
    }

    /// The license's entitlements plus any an applied override grants.
    pub fn entitlements(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .claims
            .iter()
            .flat_map(|c| c.entitlements().iter().map(String::as_str))
            .collect();
        if let Some(Effect::Entitlements { add }) = self.applied.as_deref().map(|o| &o.effect) {
            all.extend(
                add.iter()
                    .map(String::as_str)
                    .filter(|e| !all.contains(e))
                    .collect::<Vec<_>>(),
            );
        }
        all
    }

    /// Applies the first override that covers this license and changes its outcome at `now`.
    ///
    /// Only authentic licenses (claims present) can be overridden, and only:
    /// - `valid`: an `expired` or `key_expired` refusal, or a license in grace;
    /// - `entitlements`: a usable license (it gains the extra entitlements);
    /// - `extend_grace`: an `expired` refusal still inside the extended grace.
    ///
    /// Other refusals (bad signature, revoked key, wrong audience, revoked license, …) stay:
    /// an override is for mistakes an incident makes, not for making a refused license work.
    #[must_use]
    pub fn with_overrides<'o>(
        mut self,
        overrides: impl IntoIterator<Item = &'o Override>,
        now: UnixTime,
    ) -> Self {
        let Some(claims) = &self.claims else {
            return self;
        };
        let found = overrides.into_iter().find(|o| {
            now < o.expires_at
                && o.issued_at <= now.saturating_add(DEFAULT_LEEWAY_SECS)
                && o.scope.covers(claims)
                && match (&o.effect, self.state, self.reason) {
                    (Effect::Valid, State::Invalid, Some(Reason::Expired | Reason::KeyExpired)) => {
                        true
                    }
                    (Effect::Valid, State::Grace, _) => true,
                    (Effect::Entitlements { .. }, State::Valid | State::Grace, _) => true,
                    (Effect::ExtendGrace { secs }, State::Invalid, Some(Reason::Expired)) => {
                        now < claims.grace_until().saturating_add(*secs)
                    }
                    _ => false,
                }
        });
        if let Some(o) = found {
            let before = self.detail.take();
            self.detail = Some(format!(
                "override {} (incident {}) until {}: {}{}",
                o.id,
                o.incident,
                o.expires_at,
                o.reason,
                before
                    .map(|d| format!("; without it: {d}"))
                    .unwrap_or_default()
            ));
            self.state = State::Override;
            self.applied = Some(Box::new(o.clone()));
        }
        self
    }
}
