// The page's script, a file of its own: the page runs under the strict CSP (no inline script).
const out = document.getElementById('out');
const worker = new Worker('/pages/worker.js', { type: 'module' });
worker.onmessage = (e) => { out.textContent = JSON.stringify(e.data); };
worker.onerror = (e) => { out.textContent = JSON.stringify({ error: e.message }); };
