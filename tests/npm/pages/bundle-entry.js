// Entry for the bundler test: imports the package by name, as an app would.
import init, { Verifier } from '@lifeline/verifier';

const out = document.getElementById('out');
try {
  await init();
  const { token, keys, now } = await (await fetch('/fixture.json')).json();
  out.textContent = JSON.stringify(new Verifier(keys).verify(token, now * 1000));
} catch (e) {
  out.textContent = JSON.stringify({ error: String(e) });
}
