//! The verify-only entry of the npm package, `@lifeline/verifier/lite`: `new Verifier(keys,
//! options?)`, `verifier.verify(token, nowMs?)` and `verifier.verifyMany(tokens, nowMs?)`,
//! nothing else. The same core and the same verdicts as the full package
//! (`crates/lifeline-wasm`), without its client, seats, overrides, telemetry and statistics,
//! for pages and workers that only check a license they already hold.
//!
//! Verdicts cross into JS as one JSON text (`JSON.parse` on the JS side): the same objects
//! as the full package's (`state`, `reason`, `detail`, `kid`, `expiresAt`, `graceUntil`,
//! `claims`), fresh and unfrozen on every call. Bad arguments throw an `Error` with a `code`.

// The full build's argument helpers, the very same file: key sets, times and coded errors are
// read and reported alike by both entries.
#[path = "../../lifeline-wasm/src/js_args.rs"]
mod js_args;

use js_args::{error, key_set, now_from_ms};
use lifeline_core::{Policy, UnixTime};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** The outcome of verifying one license: the full package's `Verdict`, never `override`. */
export interface Verdict {
  /** `valid` and `grace` are usable; `invalid` is not. */
  state: "valid" | "grace" | "invalid";
  /** `null` when valid; a stable snake_case code otherwise (e.g. `expired`). */
  reason: string | null;
  /** A sentence explaining the reason, for people. */
  detail: string | null;
  /** The signing key's id, when the signature checked. */
  kid: string | null;
  /** The license's `exp` (unix seconds), when the signature checked. */
  expiresAt: number | null;
  /** `exp + grace_s` (unix seconds), when there is a grace period. */
  graceUntil: number | null;
  /** The claims exactly as signed; present only when the signature checked. */
  claims: Record<string, unknown> | null;
}
"#;

/// Verifies licenses against one key set, remembering the tokens whose signature checked.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Verifier {
    inner: lifeline_core::Verifier,
}

#[wasm_bindgen]
impl Verifier {
    /// `keys`: a JWKS object or its JSON text. `options`: `audience`, `leewaySeconds`,
    /// `cacheSize` (as in the full package). Throws an `Error` whose `code` says why a key set
    /// (`malformed_key_set`, `weak_key`, ...) or the options (`invalid_options`) are refused.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "object | string")] keys: &JsValue,
        #[wasm_bindgen(
            unchecked_param_type = "{ audience?: string; leewaySeconds?: number; cacheSize?: number }"
        )]
        options: Option<js_sys::Object>,
    ) -> Result<Verifier, JsValue> {
        let keys = key_set(keys)?;
        let mut policy = Policy::new();
        let mut entries = lifeline_core::DEFAULT_CACHE_ENTRIES;
        if let Some(options) = options {
            if let Some(audience) = option(&options, "audience")? {
                let audience = audience
                    .as_string()
                    .ok_or_else(|| error("invalid_options", "options.audience must be a string"))?;
                policy = policy.with_audience(audience);
            }
            if let Some(leeway) = option(&options, "leewaySeconds")? {
                policy = policy.with_leeway_secs(u64::from(whole(&leeway, "leewaySeconds")?));
            }
            if let Some(size) = option(&options, "cacheSize")? {
                entries = whole(&size, "cacheSize")? as usize;
            }
        }
        Ok(Self {
            inner: lifeline_core::Verifier::with_cache_entries(keys, policy, entries),
        })
    }

    /// Verifies one token. `nowMs` defaults to `Date.now()`. Never throws for a bad token.
    #[wasm_bindgen(unchecked_return_type = "Verdict")]
    pub fn verify(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] token: &JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_from_ms(now_ms)?;
        let token = text(token, "token")?;
        let verdict = self.inner.verify(token.as_bytes(), now);
        parse(&serde_json::to_string(&JsVerdict::from(&verdict)))
    }

    /// Verifies many tokens in one call; verdicts in order.
    #[wasm_bindgen(js_name = verifyMany, unchecked_return_type = "Verdict[]")]
    pub fn verify_many(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] tokens: &JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_from_ms(now_ms)?;
        let tokens = js_args::token_array(tokens)?;
        let verdicts = tokens
            .iter()
            .map(|token| {
                Ok(self
                    .inner
                    .verify(text(&token, "every token")?.as_bytes(), now))
            })
            .collect::<Result<Vec<_>, JsValue>>()?;
        let js: Vec<JsVerdict<'_>> = verdicts.iter().map(JsVerdict::from).collect();
        parse(&serde_json::to_string(&js))
    }
}

/// A verdict as JS sees it (the full package's `Verdict`, without `override`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsVerdict<'a> {
    state: &'static str,
    reason: Option<&'static str>,
    detail: Option<&'a str>,
    kid: Option<&'a str>,
    expires_at: Option<u64>,
    grace_until: Option<u64>,
    claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl<'a> From<&'a lifeline_core::Verdict> for JsVerdict<'a> {
    fn from(v: &'a lifeline_core::Verdict) -> Self {
        Self {
            state: v.state().as_str(),
            reason: v.reason().map(|r| r.as_str()),
            detail: v.detail(),
            kid: v.kid(),
            expires_at: v.expires_at().map(UnixTime::as_secs),
            grace_until: v.grace_until().map(UnixTime::as_secs),
            claims: v.claims().map(|c| c.as_map()),
        }
    }
}

/// A JS string's text; anything else is an `invalid_argument` error.
fn text(value: &JsValue, what: &str) -> Result<String, JsValue> {
    value
        .as_string()
        .ok_or_else(|| error("invalid_argument", &format!("{what} must be a string")))
}

fn parse(json: &Result<String, serde_json::Error>) -> Result<JsValue, JsValue> {
    let json = json
        .as_ref()
        .map_err(|e| error("internal", &format!("verdict: {e}")))?;
    js_sys::JSON::parse(json)
}

/// `options[name]`, `None` when absent (undefined or null).
fn option(options: &js_sys::Object, name: &str) -> Result<Option<JsValue>, JsValue> {
    let value = js_sys::Reflect::get(options, &JsValue::from_str(name))?;
    Ok((!value.is_undefined() && !value.is_null()).then_some(value))
}

/// A whole number from 0 to 2^32 - 1.
fn whole(value: &JsValue, name: &str) -> Result<u32, JsValue> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| {
            error(
                "invalid_options",
                &format!("options.{name} must be a whole number from 0 to 4294967295"),
            )
        })
}
