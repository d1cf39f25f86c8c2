//! Plain data into JS values: JSON-compatible objects (never `Map`s), `null` for `None`.

use std::borrow::Cow;

use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::js_args;

pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_args::error("internal", &format!("cannot convert to a JS value: {e}")))
}

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A license's claims as a JS object, through their JSON text and `JSON.parse` (one string
/// crosses into JS instead of one per member: a fifth faster per fresh verify). Integers
/// beyond ±(2^53 − 1) (an `exp` in the far future, an issuer's own numeric claim) become the
/// nearest double, as `JSON.parse` reads the native verdict (serde-wasm-bindgen's
/// JSON-compatible mode refused them, which turned an authentic license into an `internal`
/// error: found by the fuzz differential).
pub(crate) fn claims_to_js(
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(claims)
        .map_err(|e| js_args::error("internal", &format!("cannot convert the claims: {e}")))?;
    js_sys::JSON::parse(&text)
}

/// A JSON object whose integers beyond ±(2^53 − 1) are the nearest double (see
/// [`claims_to_js`]); borrowed unchanged when it has none.
pub(crate) fn js_safe(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Cow<'_, serde_json::Map<String, serde_json::Value>> {
    if map.values().any(has_unsafe_integer) {
        Cow::Owned(
            map.iter()
                .map(|(k, v)| (k.clone(), round_integers(v)))
                .collect(),
        )
    } else {
        Cow::Borrowed(map)
    }
}

fn is_safe(n: &serde_json::Number) -> bool {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u <= MAX_SAFE_INTEGER,
        (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
        (None, None) => true,
    }
}

fn has_unsafe_integer(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => !is_safe(n),
        serde_json::Value::Array(items) => items.iter().any(has_unsafe_integer),
        serde_json::Value::Object(members) => members.values().any(has_unsafe_integer),
        _ => false,
    }
}

fn round_integers(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if !is_safe(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(round_integers).collect()),
        Value::Object(members) => Value::Object(js_safe(members).into_owned()),
        other => other.clone(),
    }
}
