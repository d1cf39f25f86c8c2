//! Temporary overrides: signed, scoped, short-lived tokens (`typ` `lifeline-override+jwt`)
//! that responders mint during an incident to keep authentic licenses usable — e.g. every
//! license signed by a key that expired by mistake, or one customer's lapsed license while
//! billing is fixed. They verify offline, like licenses.
//!
//! ```text
//! override bytes ──jws::parse(OVERRIDE_TYP)──▶ key by kid ──verify_strict──▶ claims
//!   ──iat in key window, nbf ≤ now + leeway < exp──▶ Override
//! Verdict ──with_overrides(&[Override], now)──▶ state `override` when one applies
//! ```
//!
//! An override never makes an unauthenticated license usable (it needs the license's
//! verified claims), never un-revokes, and only rescues refusals an incident can cause by
//! mistake: `expired` and `key_expired`. Replay is bounded by its own `exp`, which is at
//! most [`MAX_OVERRIDE_LIFETIME_SECS`] (30 days) after its `iat`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::VerifyError;
use crate::members::{missing, string, time, wrong};
use crate::{Claims, KeySet, UnixTime, jws};

/// The `typ` of an override token.
pub const OVERRIDE_TYP: &str = "lifeline-override+jwt";

/// The longest an override may last, `exp - iat` (30 days), whatever key signed it: an
/// emergency key in the wrong hands still cannot mint a lasting license. The server refuses
/// longer ones when they are created; verifiers refuse them as malformed.
pub const MAX_OVERRIDE_LIFETIME_SECS: u64 = 30 * 86_400;

/// Which licenses an override covers (also the API's `OverrideScope`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "OverrideScope")
)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Scope {
    /// One license, by `jti`.
    License(String),
    /// Every license of one licensee (`sub`).
    Licensee(String),
    /// Every license for one product (`aud`).
    Product(String),
    /// Every license.
    All,
}

impl Scope {
    /// Whether the scope covers a license with these claims.
    pub fn covers(&self, claims: &Claims) -> bool {
        match self {
            Self::License(jti) => claims.jti() == jti,
            Self::Licensee(sub) => claims.sub() == sub,
            Self::Product(aud) => claims.aud().iter().any(|a| a == aud),
            Self::All => true,
        }
    }
}

/// What an override does to a covered license while it lasts (also the API's
/// `OverrideEffect`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "OverrideEffect")
)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// Treat the license as valid until the override's `exp`, though it expired or its key's
    /// window closed.
    Valid,
    /// Grant these entitlements in addition to the license's own (usable licenses only).
    Entitlements {
        /// The extra entitlements.
        add: Vec<String>,
    },
    /// Extend the license's grace period by this many seconds.
    ExtendGrace {
        /// Extra seconds after `exp + grace_s`.
        secs: u64,
    },
}

/// An authentic override whose time window includes `now` (only [`Override::verify`]
/// makes one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Override {
    /// `jti`: the override's id.
    pub id: String,
    /// The key that signed it (a server signing key or the emergency override key).
    pub kid: String,
    /// `iss`: who minted it.
    pub issuer: String,
    /// `iat`.
    pub issued_at: UnixTime,
    /// `exp`: the end of its effect.
    pub expires_at: UnixTime,
    /// What it covers.
    pub scope: Scope,
    /// What it does.
    pub effect: Effect,
    /// Why (required).
    pub reason: String,
    /// The incident it belongs to (required).
    pub incident: String,
}

impl Override {
    /// Parses and authenticates an override token and checks its time window (`leeway`
    /// seconds of clock skew allowed at the start). Never panics.
    ///
    /// A license token is refused here with `wrong_type`, as an override is refused as a
    /// license: explicit typing keeps the two apart.
    pub fn verify(
        token: &[u8],
        keys: &KeySet,
        now: UnixTime,
        leeway: u64,
    ) -> Result<Self, VerifyError> {
        let jws::Authenticated {
            kid,
            key,
            payload: raw,
        } = jws::authenticate(token, OVERRIDE_TYP, keys)?;
        let ovr = Self::from_claims(kid.clone(), &raw)?;
        if key.is_revoked() {
            return Err(VerifyError::KeyRevoked { kid });
        }
        key.check_signed_before_compromise(ovr.issued_at)?;
        if !key.may_have_signed_at(ovr.issued_at) {
            return Err(VerifyError::KeyExpired {
                kid,
                signed_at: ovr.issued_at,
                not_before: key.not_before(),
                not_after: key.not_after(),
            });
        }
        let valid_from = time(&raw, "nbf")?
            .unwrap_or(ovr.issued_at)
            .max(ovr.issued_at);
        if valid_from > now.saturating_add(leeway) {
            return Err(VerifyError::NotYetValid { now, valid_from });
        }
        if now >= ovr.expires_at {
            return Err(VerifyError::Expired {
                now,
                expired_at: ovr.expires_at,
                grace_until: ovr.expires_at,
            });
        }
        Ok(ovr)
    }

    /// Reads the claims of an override (checked before signing, too).
    pub(crate) fn from_claims(kid: String, raw: &Map<String, Value>) -> Result<Self, VerifyError> {
        let issued_at = time(raw, "iat")?.ok_or_else(|| missing("iat"))?;
        let expires_at = time(raw, "exp")?.ok_or_else(|| missing("exp"))?;
        if expires_at <= issued_at {
            return Err(wrong("exp", "later than iat"));
        }
        if expires_at.as_secs().saturating_sub(issued_at.as_secs()) > MAX_OVERRIDE_LIFETIME_SECS {
            return Err(wrong(
                "exp",
                "at most 30 days after iat (an override is temporary)",
            ));
        }
        Ok(Self {
            id: string(raw, "jti")?,
            kid,
            issuer: string(raw, "iss")?,
            issued_at,
            expires_at,
            scope: scope(raw)?,
            effect: effect(raw)?,
            reason: string(raw, "reason")?,
            incident: string(raw, "incident")?,
        })
    }
}

fn scope(raw: &Map<String, Value>) -> Result<Scope, VerifyError> {
    const EXPECTED: &str =
        r#"{"type": "license"|"licensee"|"product", "value": "…"} or {"type": "all"}"#;
    let Some(obj) = raw.get("scope") else {
        return Err(missing("scope"));
    };
    let obj = obj.as_object().ok_or_else(|| wrong("scope", EXPECTED))?;
    let value = || match obj.get("value") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(wrong("scope", EXPECTED)),
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("license") => Ok(Scope::License(value()?)),
        Some("licensee") => Ok(Scope::Licensee(value()?)),
        Some("product") => Ok(Scope::Product(value()?)),
        Some("all") if !obj.contains_key("value") => Ok(Scope::All),
        _ => Err(wrong("scope", EXPECTED)),
    }
}

fn effect(raw: &Map<String, Value>) -> Result<Effect, VerifyError> {
    const EXPECTED: &str = r#"{"type": "valid"}, {"type": "entitlements", "add": […]} or {"type": "extend_grace", "secs": n}"#;
    let Some(obj) = raw.get("effect") else {
        return Err(missing("effect"));
    };
    let obj = obj.as_object().ok_or_else(|| wrong("effect", EXPECTED))?;
    match obj.get("type").and_then(Value::as_str) {
        Some("valid") => Ok(Effect::Valid),
        Some("entitlements") => {
            let add = obj
                .get("add")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| wrong("effect", EXPECTED))?
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .ok_or_else(|| wrong("effect", EXPECTED))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Effect::Entitlements { add })
        }
        Some("extend_grace") => obj
            .get("secs")
            .and_then(Value::as_u64)
            .filter(|s| *s > 0)
            .map(|secs| Effect::ExtendGrace { secs })
            .ok_or_else(|| wrong("effect", EXPECTED)),
        _ => Err(wrong("effect", EXPECTED)),
    }
}

/// The `typ` of a signed override bundle (the server's `GET /api/v1/overrides/bundle`).
pub const OVERRIDE_BUNDLE_TYP: &str = "lifeline-override-bundle+jwt";

/// The active overrides a server published, as an edge caches them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideBundle {
    /// When the server signed the bundle.
    pub issued_at: UnixTime,
    /// Until when the bundle is fresh (edges refetch before).
    pub expires_at: UnixTime,
    /// The overrides in it that verify at `now` (each is checked like a lone override).
    pub overrides: Vec<Override>,
    /// Their tokens, in the same order (to keep, re-check or pass on).
    pub tokens: Vec<String>,
    /// How many tokens in it did not verify (expired since, or signed by a key no longer
    /// in the key set): skipped, never trusted.
    pub skipped: usize,
}

impl OverrideBundle {
    /// Authenticates a bundle (`typ` `lifeline-override-bundle+jwt`, payload
    /// `{"iat", "exp", "overrides": [token, ...]}`) and every override in it. A stale
    /// bundle (`now >= exp`) is refused with `expired`: fetch a fresh one.
    pub fn verify(
        token: &[u8],
        keys: &KeySet,
        now: UnixTime,
        leeway: u64,
    ) -> Result<Self, VerifyError> {
        let jws::Authenticated {
            kid,
            key,
            payload: raw,
        } = jws::authenticate(token, OVERRIDE_BUNDLE_TYP, keys)?;
        if key.is_revoked() {
            return Err(VerifyError::KeyRevoked { kid });
        }
        let issued_at = time(&raw, "iat")?.ok_or_else(|| missing("iat"))?;
        key.check_signed_before_compromise(issued_at)?;
        let expires_at = time(&raw, "exp")?.ok_or_else(|| missing("exp"))?;
        let tokens = match raw.get("overrides") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| {
                    t.as_str()
                        .ok_or_else(|| wrong("overrides", "an array of tokens"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(wrong("overrides", "an array of tokens")),
            None => return Err(missing("overrides")),
        };
        if issued_at > now.saturating_add(leeway) {
            return Err(VerifyError::NotYetValid {
                now,
                valid_from: issued_at,
            });
        }
        if now >= expires_at {
            return Err(VerifyError::Expired {
                now,
                expired_at: expires_at,
                grace_until: expires_at,
            });
        }
        let mut overrides = Vec::new();
        let mut kept = Vec::new();
        let mut skipped = 0;
        for t in tokens {
            match Override::verify(t.as_bytes(), keys, now, leeway) {
                Ok(o) => {
                    overrides.push(o);
                    kept.push(t.to_owned());
                }
                Err(_) => skipped += 1,
            }
        }
        Ok(Self {
            issued_at,
            expires_at,
            overrides,
            tokens: kept,
            skipped,
        })
    }
}

#[cfg(test)]
#[path = "overrides_tests.rs"]
mod tests;
