//! Tokens from JS strings into WASM memory with `TextEncoder.encodeInto`: wasm-bindgen's own
//! string argument copies ASCII one character at a time in JS, which for a 500-byte license
//! was half the time of a repeated `verify` (1.2 µs of 2.4; `encodeInto` takes ~0.15 µs).

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::js_args;

// Shipped as a file beside the glue (inline_js), never compiled from a string at run time.
#[wasm_bindgen(inline_js = "
const encoder = new TextEncoder();
export function lifeline_write_utf8(text, memory, at, capacity) {
  return encoder.encodeInto(text, new Uint8Array(memory.buffer, at, capacity)).written;
}
")]
extern "C" {
    /// Writes `text` as UTF-8 into WASM memory at `at` (at most `capacity` bytes); returns
    /// how many bytes it wrote.
    fn lifeline_write_utf8(text: &JsValue, memory: &JsValue, at: u32, capacity: u32) -> u32;
}

/// A reusable buffer that receives one string at a time.
#[derive(Debug, Default)]
pub(crate) struct TextBuffer {
    bytes: Vec<u8>,
    memory: Option<JsValue>,
}

impl TextBuffer {
    /// The UTF-8 bytes of `text`, which must be a JS string (`what` names it in the error).
    pub(crate) fn read(&mut self, text: &JsValue, what: &str) -> Result<&[u8], JsValue> {
        let Some(string) = text.dyn_ref::<js_sys::JsString>() else {
            return Err(js_args::error(
                "invalid_argument",
                &format!("{what} must be a string"),
            ));
        };
        // A UTF-16 code unit takes at most 3 bytes of UTF-8.
        let capacity = (string.length() as usize).saturating_mul(3);
        self.bytes.clear();
        self.bytes.resize(capacity, 0);
        let memory = self.memory.get_or_insert_with(wasm_bindgen::memory);
        // JS writes into the buffer through WASM memory: the address is the buffer's.
        let at = self.bytes.as_mut_ptr() as usize as u32;
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        let written = lifeline_write_utf8(text, memory, at, capacity) as usize;
        Ok(self.bytes.get(..written).unwrap_or_default())
    }
}
