//! Building verdict objects for JS quickly: interned property names and state strings, and
//! one frozen claims object per cached token, so a repeated check allocates almost nothing.

use lifeline_core::{SignedLicense, Verdict};
use wasm_bindgen::JsValue;

use crate::convert;

/// What the cache keeps per token: the authenticated license and its claims as a frozen JS
/// object (shared by every verdict for that token).
pub(crate) struct Entry {
    pub(crate) signed: SignedLicense,
    claims: JsValue,
    kid: JsValue,
}

impl core::fmt::Debug for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entry")
            .field("signed", &self.signed)
            .finish_non_exhaustive()
    }
}

impl Entry {
    pub(crate) fn new(signed: SignedLicense) -> Result<Self, JsValue> {
        let claims = convert::claims_to_js(signed.claims().as_map())?;
        deep_freeze(&claims);
        let kid = JsValue::from_str(signed.kid());
        Ok(Self {
            signed,
            claims,
            kid,
        })
    }

    /// The verdict object for a usable-and-valid check: the hot path.
    pub(crate) fn valid(&self) -> JsValue {
        let claims = self.signed.claims();
        let grace_until = if claims.grace_s() > 0 {
            JsValue::from_f64(claims.grace_until().as_secs() as f64)
        } else {
            JsValue::NULL
        };
        NAMES.with(|n| {
            object(
                n,
                [
                    &n.valid,
                    &JsValue::NULL,
                    &JsValue::NULL,
                    &self.kid,
                    &JsValue::from_f64(claims.exp().as_secs() as f64),
                    &grace_until,
                    &self.claims,
                ],
            )
        })
    }

    /// Any other verdict for this token, with the shared claims object.
    pub(crate) fn with(&self, verdict: &Verdict) -> JsValue {
        from_verdict(verdict, &self.claims)
    }
}

/// A verdict object from a core verdict; `claims` is used when the verdict has claims.
pub(crate) fn from_verdict(verdict: &Verdict, claims: &JsValue) -> JsValue {
    let text = |s: Option<&str>| s.map_or(JsValue::NULL, JsValue::from_str);
    let secs = |t: Option<lifeline_core::UnixTime>| {
        t.map_or(JsValue::NULL, |t| JsValue::from_f64(t.as_secs() as f64))
    };
    let claims = if verdict.claims().is_some() {
        claims.clone()
    } else {
        JsValue::NULL
    };
    NAMES.with(|n| {
        let state = match verdict.state() {
            lifeline_core::State::Valid => n.valid.clone(),
            lifeline_core::State::Grace => n.grace.clone(),
            lifeline_core::State::Invalid => n.invalid.clone(),
            other => JsValue::from_str(other.as_str()),
        };
        let js = object(
            n,
            [
                &state,
                &text(verdict.reason().map(|r| r.as_str())),
                &text(verdict.detail()),
                &text(verdict.kid()),
                &secs(verdict.expires_at()),
                &secs(verdict.grace_until()),
                &claims,
            ],
        );
        if let Some(applied) = verdict.applied_override()
            && let Ok(info) = convert::to_js(&crate::types::OverrideInfo::from(applied))
        {
            let _ = js_sys::Reflect::set(&js, &JsValue::from_str("override"), &info);
        }
        js
    })
}

// Two helpers written in JavaScript and shipped as a module beside the glue (wasm-bindgen's
// inline_js), never compiled from a string at run time: Cloudflare Workers and pages with a
// strict Content-Security-Policy forbid `new Function`/`eval`.
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = "
export function lifeline_verdict(state, reason, detail, kid, expiresAt, graceUntil, claims) {
  return { state, reason, detail, kid, expiresAt, graceUntil, claims };
}
export function lifeline_deep_freeze(o) {
  const f = (v) => { if (v && typeof v === 'object') { Object.values(v).forEach(f); Object.freeze(v); } };
  f(o);
}
")]
extern "C" {
    /// Builds a verdict object in one call into JS (cheaper than one call per property).
    fn lifeline_verdict(
        state: &JsValue,
        reason: &JsValue,
        detail: &JsValue,
        kid: &JsValue,
        expires_at: &JsValue,
        grace_until: &JsValue,
        claims: &JsValue,
    ) -> JsValue;
    fn lifeline_deep_freeze(value: &JsValue);
}

struct Names {
    valid: JsValue,
    grace: JsValue,
    invalid: JsValue,
}

thread_local! {
    static NAMES: Names = Names {
        valid: JsValue::from_str("valid"),
        grace: JsValue::from_str("grace"),
        invalid: JsValue::from_str("invalid"),
    };
}

fn object(
    _names: &Names,
    [state, reason, detail, kid, expires_at, grace_until, claims]: [&JsValue; 7],
) -> JsValue {
    lifeline_verdict(state, reason, detail, kid, expires_at, grace_until, claims)
}

fn deep_freeze(value: &JsValue) {
    lifeline_deep_freeze(value);
}
