//! The one way errors cross into JS: a `js_sys::Error` with a machine-readable `code`.

use wasm_bindgen::JsValue;

/// An `Error` whose `message` is for people and whose `code` (snake_case) is for programs.
pub(crate) fn error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}
