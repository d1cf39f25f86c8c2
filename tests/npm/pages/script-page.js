// The page's script, a file of its own: the page runs under the strict CSP (no inline script).
import init, { Verifier } from '/node_modules/@lifeline/verifier/web/lifeline_wasm.js';
const out = document.getElementById('out');
try {
  await init();
  const { token, keys, now } = await (await fetch('/fixture.json')).json();
  out.textContent = JSON.stringify(new Verifier(keys).verify(token, now * 1000));
} catch (e) {
  out.textContent = JSON.stringify({ error: String(e) });
}
