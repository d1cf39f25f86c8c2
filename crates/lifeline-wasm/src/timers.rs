//! The host's clock and timers (`Date.now`, `setTimeout`, `clearTimeout`), found on the
//! global object of whichever runtime loads the package.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Milliseconds since the Unix epoch, from the host's clock.
pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Calls `f` after `ms` milliseconds; the timer's handle.
pub(crate) fn set_timeout(f: &Function, ms: u64) -> Result<JsValue, JsValue> {
    let global = js_sys::global();
    let st: Function = Reflect::get(&global, &"setTimeout".into())?.dyn_into()?;
    st.call2(&global, f, &JsValue::from_f64(ms as f64))
}

/// Cancels a timer made by [`set_timeout`].
pub(crate) fn clear_timeout(timer: &JsValue) {
    let global = js_sys::global();
    if let Ok(ct) =
        Reflect::get(&global, &"clearTimeout".into()).and_then(|f| f.dyn_into::<Function>())
    {
        let _ = ct.call1(&global, timer);
    }
}

/// Resolves after `ms` milliseconds.
pub(crate) async fn sleep(ms: u64) -> Result<(), JsValue> {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = set_timeout(&resolve, ms);
    });
    JsFuture::from(promise).await.map(|_| ())
}
