// The control of the strict-policy test: what the package must never do (wasm-bindgen's
// js_sys::Function::new_with_args did it) is refused here.
const out = document.getElementById('out');
try {
  out.textContent = JSON.stringify({ value: new Function('return 1')() });
} catch (e) {
  // Let the violation event arrive before the result is read.
  setTimeout(() => { out.textContent = JSON.stringify({ error: String(e) }); }, 50);
}
