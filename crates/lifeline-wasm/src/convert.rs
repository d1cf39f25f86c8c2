//! Plain data into JS values: JSON-compatible objects (never `Map`s), `null` for `None`.

use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::js_error;

pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error::error("internal", &format!("cannot convert to a JS value: {e}")))
}
