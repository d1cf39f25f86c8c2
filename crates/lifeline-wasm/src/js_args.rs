//! JS arguments into core values, and the one way errors cross into JS: a `js_sys::Error`
//! with a machine-readable `code`. Self-contained: the verify-only crate
//! (`crates/lifeline-wasm-lite`) compiles this very file too (`#[path]`), so both builds read
//! key sets and times and report bad arguments the same way.

use lifeline_core::{KeySet, UnixTime};
use wasm_bindgen::JsValue;

/// An `Error` whose `message` is for people and whose `code` (snake_case) is for programs.
pub(crate) fn error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

/// `tokens`, which must be an array (of strings: each is checked where it is read).
pub(crate) fn token_array(tokens: &JsValue) -> Result<&js_sys::Array, JsValue> {
    use wasm_bindgen::JsCast;
    tokens
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| error("invalid_argument", "tokens must be an array of strings"))
}

/// `keys`: a JWKS object or its JSON text.
pub(crate) fn key_set(keys: &JsValue) -> Result<KeySet, JsValue> {
    let text = match keys.as_string() {
        Some(text) => text,
        None if keys.is_object() => js_sys::JSON::stringify(keys)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| {
                error(
                    "malformed_key_set",
                    "keys: cannot serialize the object as JSON",
                )
            })?,
        None => {
            return Err(error(
                "malformed_key_set",
                "keys must be a JWKS object ({ keys: [...] }) or its JSON text",
            ));
        }
    };
    KeySet::from_jwks_json(text.as_bytes()).map_err(|e| error(e.code(), &e.to_string()))
}

/// `nowMs` (milliseconds, like `Date.now()`) to whole seconds; absent means `Date.now()`.
pub(crate) fn now_from_ms(now_ms: Option<f64>) -> Result<UnixTime, JsValue> {
    let ms = now_ms.unwrap_or_else(js_sys::Date::now);
    if !ms.is_finite() || ms < 0.0 {
        return Err(error(
            "invalid_time",
            "nowMs must be a finite, non-negative number of milliseconds",
        ));
    }
    // Saturating float-to-int conversion: huge values become the far future.
    Ok(UnixTime::from_secs((ms / 1000.0).floor() as u64))
}
