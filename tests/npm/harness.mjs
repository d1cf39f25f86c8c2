// Shared by the npm package tests: install the built package into a fresh project the way a
// user would (npm pack + npm install), and read the shared vector files.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const packageDir = path.join(repo, 'dist/npm');

/** A temp project with @lifeline/verifier installed from the packed tarball. */
export function installPackage() {
  if (!fs.existsSync(path.join(packageDir, 'package.json'))) {
    throw new Error('dist/npm is missing: run `make npm` first');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-npm-'));
  const tarball = execFileSync('npm', ['pack', packageDir, '--pack-destination', dir, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop();
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', path.join(dir, tarball)], { cwd: dir, stdio: 'pipe' });
  return dir;
}

/** Every license vector file: [name, vector]. */
export function licenseVectors() {
  const dir = path.join(repo, 'tests/vectors/licenses');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))]);
}

/** The native verdict (snake_case, as `lifeline verify` prints) in the JS naming. */
export function camel(native) {
  const { expires_at: expiresAt, grace_until: graceUntil, ...rest } = native;
  return { ...rest, expiresAt, graceUntil };
}

// The verdict suite every runtime runs (Node, Chromium, workerd, Deno, Bun): each vector,
// verified, verified again from the cache and in verifyMany, given the package's exports.
export const SUITE = `
export function suite(lib, vectors) {
  const out = {};
  for (const [name, v] of vectors) {
    const verifier = new lib.Verifier(v.keys, v.audience ? { audience: v.audience } : undefined);
    out[name] = {
      first: verifier.verify(v.token, v.now * 1000),
      cached: verifier.verify(v.token, v.now * 1000),
      many: verifier.verifyMany([v.token, v.token], v.now * 1000),
    };
  }
  return out;
}
`;

/** What the suite must give: the native core's verdict for every vector, three times. */
export function expected() {
  return Object.fromEntries(licenseVectors().map(([name, v]) => {
    const verdict = camel(v.verdict);
    return [name, { first: verdict, cached: verdict, many: [verdict, verdict] }];
  }));
}
