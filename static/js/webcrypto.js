// The WebCrypto calls the protocols share (SECURITY.md, "Notation"): randomness, SHA-256,
// HKDF-SHA-256, HMAC-SHA-256, AES-GCM keys, P-256 ECDH and P-256 ECDSA with SHA-256. Native WebCrypto only, so it runs
// at Tor Browser's "Safer" level and in Node 20.

import { EMPTY, concat, utf8Encode, b64uEncode } from './bytes.js';

const subtle = globalThis.crypto.subtle;

/** P256 is the ECDH algorithm of every key pair: NIST P-256. */
export const P256 = Object.freeze({ name: 'ECDH', namedCurve: 'P-256' });

/** randomBytes gives n bytes from the browser's CSPRNG. */
export function randomBytes(n) {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/** sha256 is SHA-256(bytes). */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

/**
 * hkdf is HKDF-SHA-256(ikm, salt, info, length) of RFC 5869; info is a label (UTF-8) and an
 * absent salt (null or undefined) is the empty string, as SECURITY.md defines it.
 */
export async function hkdf(ikm, salt, info, length) {
  const key = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: salt || EMPTY, info: utf8Encode(info) }, key, length * 8,
  );
  return new Uint8Array(bits);
}

/** hmac is HMAC-SHA-256(key, the parts joined). */
export async function hmac(key, ...parts) {
  const k = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', k, concat(...parts)));
}

/** aesGcmKey imports raw bytes as a non-extractable AES-GCM key for one usage. */
export function aesGcmKey(raw, usage) {
  return subtle.importKey('raw', raw, 'AES-GCM', false, [usage]);
}

/** ecdh is the 32-byte shared secret of a private key and a public CryptoKey. */
export async function ecdh(priv, pub) {
  return new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: pub }, priv, 256));
}

/** importP256Public imports a raw (uncompressed) public key; it throws if it is not a point. */
export function importP256Public(raw, extractable = true) {
  return subtle.importKey('raw', raw, P256, extractable, []);
}

/**
 * importP256Private imports a private scalar d with its public key pub (65 bytes, uncompressed)
 * as a non-extractable key for ECDH; WebCrypto cannot compute the point from d itself.
 */
export function importP256Private(d, pub, alg = P256, usages = ['deriveBits']) {
  const jwk = {
    kty: 'EC', crv: 'P-256', ext: false,
    d: b64uEncode(d), x: b64uEncode(pub.subarray(1, 33)), y: b64uEncode(pub.subarray(33, 65)),
  };
  return subtle.importKey('jwk', jwk, alg, false, usages);
}

/** ECDSA_P256 is the signature algorithm of group rooms: ECDSA on P-256 with SHA-256. */
export const ECDSA_P256 = Object.freeze({ name: 'ECDSA', namedCurve: 'P-256' });
const ECDSA_SHA256 = Object.freeze({ name: 'ECDSA', hash: 'SHA-256' });

/** importEcdsaPublic imports a raw (uncompressed) verifying key; it throws if it is not a point. */
export function importEcdsaPublic(raw) {
  return subtle.importKey('raw', raw, ECDSA_P256, false, ['verify']);
}

/** importEcdsaPrivate imports a signing scalar d with its public key pub, non-extractable. */
export const importEcdsaPrivate = (d, pub) => importP256Private(d, pub, ECDSA_P256, ['sign']);

/** ecdsaSign signs msg: the 64-byte r ‖ s WebCrypto makes. */
export async function ecdsaSign(priv, msg) {
  return new Uint8Array(await subtle.sign(ECDSA_SHA256, priv, msg));
}

/** ecdsaVerify checks a 64-byte r ‖ s signature of msg by a public CryptoKey. */
export function ecdsaVerify(pub, msg, sig) {
  return subtle.verify(ECDSA_SHA256, pub, sig, msg);
}
