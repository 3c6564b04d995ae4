// The price of a new entry, browser side (SECURITY.md, "What a hostile client may cost", is the
// specification; internal/protocol/price.go implements the same and both check
// internal/protocol/testdata/price-vectors.json). Nothing is asked while the server is less
// than half full. Above that, a create carries a nonce whose SHA-256 over the request has
// enough leading zero bits: more for larger, longer-lived entries and a fuller server.
//
// WebCrypto's digest is asynchronous and there is no JIT at Tor Browser's "Safer" level, so the
// search overlaps many digests at once; without that it is several times slower.

import { ProtocolError, b64uDecode as b64uDecodeStrict, b64uEncode as b64uEncodeBytes } from './protocol.js';
import { utf8Encode, putU64 } from './bytes.js';
import { sha256 } from './webcrypto.js';
import { t } from './i18n.js';

export const PRICE_TOKEN_SIZE = 20;
export const PRICE_NONCE_SIZE = 8;
export const PRICE_SCOPE_SIZE = 16;
export const PRICE_FREE = 12;
export const MAX_PRICE_LEVEL = 10;
export const PRICE_NOTE = 1;
export const PRICE_CHAT = 2;
export const PRICE_SUBMISSION = 3;

const LABEL = utf8Encode('sealdrop/v1 price');

/** priceUnits: KiB × hours, each rounded up, at least 1 (ttl in seconds). */
export function priceUnits(length, ttl) {
  const kib = Math.ceil(Math.max(length, 1) / 1024);
  const hours = Math.ceil(Math.max(ttl, 1) / 3600);
  return Math.max(kib * hours, 1);
}

/** priceBits: 0 at level 0, else ceil(log2(units)) + 2 × level − 12, at least 0. */
export function priceBits(level, length, ttl) {
  if (!(level > 0)) return 0;
  const l = Math.min(level, MAX_PRICE_LEVEL);
  let u = priceUnits(length, ttl) - 1;
  let lg = 0; // bit length of units − 1: ceil(log2(units))
  while (u > 0) { lg++; u = Math.floor(u / 2); }
  return Math.max(0, lg + 2 * l - PRICE_FREE);
}

function bytes(v, n, what) {
  if (!(v instanceof Uint8Array) || v.length !== n) throw new ProtocolError('format', `${what} must be ${n} bytes`);
  return v;
}

/**
 * priceMessage: "sealdrop/v1 price" ‖ token (20) ‖ kind (1) ‖ scope (16) ‖ manage hash (32) ‖
 * length (8) ‖ ttl seconds (4), followed by room for the nonce.
 */
export function priceMessage(token, { kind, scope, manage, length, ttl }) {
  const msg = new Uint8Array(LABEL.length + PRICE_TOKEN_SIZE + 1 + PRICE_SCOPE_SIZE + 32 + 8 + 4 + PRICE_NONCE_SIZE);
  let o = 0;
  msg.set(LABEL, o); o += LABEL.length;
  msg.set(bytes(token, PRICE_TOKEN_SIZE, 'token'), o); o += PRICE_TOKEN_SIZE;
  msg[o++] = kind;
  msg.set(scope ? bytes(scope, PRICE_SCOPE_SIZE, 'scope') : new Uint8Array(PRICE_SCOPE_SIZE), o); o += PRICE_SCOPE_SIZE;
  msg.set(bytes(manage, 32, 'manage hash'), o); o += 32;
  putU64(msg, o, length);
  new DataView(msg.buffer).setUint32(o + 8, ttl >>> 0, false);
  return msg;
}

/** leadingZeroBits counts the leading zero bits of h. */
export function leadingZeroBits(h) {
  let n = 0;
  for (const b of h) {
    if (b !== 0) return n + Math.clz32(b) - 24;
    n += 8;
  }
  return n;
}

/** priceHash is SHA-256(priceMessage ‖ nonce). */
export async function priceHash(token, req, nonce) {
  const msg = priceMessage(token, req);
  msg.set(bytes(nonce, PRICE_NONCE_SIZE, 'nonce'), msg.length - PRICE_NONCE_SIZE);
  return sha256(msg);
}

/**
 * solvePrice finds the smallest nonce (an 8-byte big-endian counter from 0) that pays `bits`,
 * as the Go client does. It hashes `batch` candidates at once and yields between batches;
 * onProgress(tried) is called after each batch; an aborted signal stops it with code "aborted".
 * bits 0 needs no search: it returns the zero nonce.
 */
export async function solvePrice(token, req, bits, { signal, onProgress, batch = 256 } = {}) {
  if (!Number.isInteger(bits) || bits < 0 || bits > 52) throw new ProtocolError('format', 'bad price');
  const msg = priceMessage(token, req);
  const at = msg.length - PRICE_NONCE_SIZE;
  for (let base = 0; ; base += batch) {
    if (signal && signal.aborted) throw new ProtocolError('aborted', 'stopped');
    const jobs = [];
    for (let i = 0; i < batch; i++) {
      const m = msg.slice();
      putU64(m, at, base + i);
      jobs.push(sha256(m));
    }
    const hashes = await Promise.all(jobs);
    for (let i = 0; i < batch; i++) {
      if (leadingZeroBits(hashes[i]) >= bits) {
        const nonce = new Uint8Array(PRICE_NONCE_SIZE);
        putU64(nonce, 0, base + i);
        return nonce;
      }
    }
    if (onProgress) onProgress(base + batch);
  }
}

/**
 * MAX_BROWSER_BITS is the most a page pays by itself: 2^22 hashes, a few minutes in Tor
 * Browser at "Safer" (no JIT). A server that asks more is nearly full; the page says so and
 * suggests a shorter lifetime or less data rather than hashing for an hour.
 */
export const MAX_BROWSER_BITS = 22;

/** TooDearError: the price is more than this page pays (MAX_BROWSER_BITS). */
export class TooDearError extends ProtocolError {
  constructor(bits) {
    super('too_dear', t('price.too_dear'));
    this.bits = bits;
  }
}

/**
 * payAndCreate runs create(payment), where payment is {} or {price_token, price_nonce}, paying
 * what the server asks for req ({kind, scope, manage (the manage hash), length, ttl}). hint
 * ({level, token}, from the limits the page already has) predicts the price so that no request
 * is spent on learning it; without a hint, or when the price rose since, the server's 402
 * answer (an error whose .price is {bits, token}) says what to pay, and create runs again, at
 * most twice more. onWork(tried, expected) follows the search; nothing is searched at price 0.
 * bindToken: the payment carries the token even at price 0 (an upload, whose id the server
 * binds to it: SECURITY.md, "One request per note").
 */
export async function payAndCreate(create, req, hint, { onWork, signal, maxBits = MAX_BROWSER_BITS, bindToken = false } = {}) {
  // hint.floor: the least length the server prices this kind at (a drop's price_floor).
  let bits = hint && hint.token ? priceBits(hint.level || 0, Math.max(req.length, hint.floor || 0), req.ttl) : 0;
  let token = hint ? hint.token : null;
  for (let tries = 0; ; tries++) {
    let payment = bindToken && token ? { price_token: token } : {};
    if (bits > 0) {
      if (bits > maxBits) throw new TooDearError(bits);
      const expected = 2 ** bits;
      if (onWork) onWork(0, expected);
      const tok = b64uDecodeStrict(token);
      const nonce = await solvePrice(tok, req, bits, {
        signal, onProgress: (tried) => { if (onWork) onWork(Math.min(tried, 0.95 * expected), expected); },
      });
      if (onWork) onWork(expected, expected);
      payment = { price_token: token, price_nonce: b64uEncodeBytes(nonce) };
    }
    try {
      return await create(payment);
    } catch (e) {
      if (!e || !e.price || tries >= 2) throw e;
      bits = e.price.bits;
      token = e.price.token;
    }
  }
}
