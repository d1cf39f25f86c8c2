// The page's script, a file of its own: the page runs under the strict CSP (no inline script).
import init, { Client } from '/node_modules/@lifeline/verifier/web/lifeline_wasm.js';
const out = document.getElementById('out');
try {
  await init();
  const { token, keys } = await (await fetch('/seat-fixture.json')).json();
  // The page's own origin proxies the API to a lifeline node (same origin, no CORS).
  const client = new Client({ nodes: [location.origin], keys, licenseToken: token, cache: 'localStorage', seat: { name: 'browser tab' } });
  const verdict = await client.check();
  window.lifelineClient = client;
  out.textContent = JSON.stringify({ state: verdict.state, seat: verdict.seat, fingerprint: localStorage.getItem('lifeline.seat.fingerprint') });
} catch (e) {
  out.textContent = JSON.stringify({ error: String(e) });
}
