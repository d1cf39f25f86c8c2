// Interop with an independent Ed25519/JOSE implementation: Node's crypto (OpenSSL).
// A token `lifeline issue` signs verifies with crypto.verify; a token Node signs
// verifies with `lifeline verify`. Run: LIFELINE_BIN=target/debug/lifeline node --test tests/interop/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const bin = process.env.LIFELINE_BIN;
assert.ok(bin && fs.existsSync(bin), 'set LIFELINE_BIN to the lifeline binary');

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lifeline-interop-'));
const now = () => Math.floor(Date.now() / 1000);

function lifeline(args, input) {
  return spawnSync(bin, args, { input, encoding: 'utf8' });
}

test('a token issued by lifeline verifies with Node crypto.verify', () => {
  const dir = tmp();
  execFileSync(bin, ['keygen', '--kid', 'node-check', '--out', dir], { stdio: 'pipe' });
  const claims = { iss: 'vendor', sub: 'acme', aud: 'photo-pro', exp: now() + 3600, entitlements: ['export'] };
  fs.writeFileSync(path.join(dir, 'claims.json'), JSON.stringify(claims));
  const token = execFileSync(bin, ['issue', '--key', path.join(dir, 'node-check.jwk'), '--claims', path.join(dir, 'claims.json')], { encoding: 'utf8' }).trim();

  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  assert.deepEqual(header, { alg: 'EdDSA', kid: 'node-check', typ: 'lifeline-license+jwt' });
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  assert.equal(payload.sub, 'acme');

  const jwks = JSON.parse(fs.readFileSync(path.join(dir, 'keys.json'), 'utf8'));
  const jwk = jwks.keys.find((k) => k.kid === 'node-check');
  const publicKey = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' });
  const signingInput = Buffer.from(`${h}.${p}`);
  assert.equal(crypto.verify(null, signingInput, publicKey, Buffer.from(s, 'base64url')), true);
  // And OpenSSL refuses the same signature over other bytes.
  assert.equal(crypto.verify(null, Buffer.from(`${h}.${p}x`), publicKey, Buffer.from(s, 'base64url')), false);

  // The private JWK is standard too: OpenSSL derives the same public key from it.
  const priv = JSON.parse(fs.readFileSync(path.join(dir, 'node-check.jwk'), 'utf8'));
  const privateKey = crypto.createPrivateKey({ key: { kty: priv.kty, crv: priv.crv, x: priv.x, d: priv.d }, format: 'jwk' });
  assert.equal(crypto.createPublicKey(privateKey).export({ format: 'jwk' }).x, jwk.x);
});

function nodeSignedLicense(kid, claims) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' };
  const h = b64url(JSON.stringify({ alg: 'EdDSA', typ: 'lifeline-license+jwt', kid }));
  const p = b64url(JSON.stringify(claims));
  const sig = crypto.sign(null, Buffer.from(`${h}.${p}`), privateKey);
  return { token: `${h}.${p}.${b64url(sig)}`, jwks: { keys: [jwk] } };
}

test('a token signed by Node crypto.sign verifies with lifeline verify', () => {
  const dir = tmp();
  const claims = { iss: 'node', sub: 'acme', aud: ['photo-pro', 'video-pro'], jti: 'n-1', iat: now() - 5, exp: now() + 3600, entitlements: [], seats: 3, custom: { a: 1 } };
  const { token, jwks } = nodeSignedLicense('from-node', claims);
  const keys = path.join(dir, 'keys.json');
  fs.writeFileSync(keys, JSON.stringify(jwks));

  const ok = lifeline(['verify', '--keys', keys, '--aud', 'video-pro', '-'], token);
  assert.equal(ok.status, 0, ok.stderr);
  const verdict = JSON.parse(ok.stdout);
  assert.equal(verdict.state, 'valid');
  assert.equal(verdict.reason, null);
  assert.equal(verdict.kid, 'from-node');
  assert.deepEqual(verdict.claims, claims);

  // Flip one signature bit: refused.
  const sigBytes = Buffer.from(token.split('.')[2], 'base64url');
  sigBytes[10] ^= 1;
  const tampered = token.split('.').slice(0, 2).concat(b64url(sigBytes)).join('.');
  const bad = lifeline(['verify', '--keys', keys, '-'], tampered);
  assert.equal(bad.status, 1);
  assert.equal(JSON.parse(bad.stdout).reason, 'bad_signature');
});
