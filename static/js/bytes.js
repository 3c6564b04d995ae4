// Bytes, for every browser module: joining, comparing, UTF-8, base64url and big-endian
// integers. No WebCrypto and nothing of the protocol here (webcrypto.js and protocol.js build
// on it), so that the privacy filter (clean/) can use it too.

export const EMPTY = new Uint8Array(0);

/** concatAll joins byte arrays into a new one. */
export function concatAll(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** concat joins its arguments into a new byte array. */
export function concat(...parts) { return concatAll(parts); }

/**
 * joinChunks is concatAll for the pieces of a download: a single piece is returned itself
 * rather than copied, so that a large answer is not held twice.
 */
export function joinChunks(parts) {
  return parts.length === 1 ? parts[0] : concatAll(parts);
}

/**
 * equal compares two byte arrays in time that depends only on their lengths, not on where
 * they differ: for MACs and anything else a guesser must not learn byte by byte.
 */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const ENCODER = new TextEncoder();
const DECODERS = new Map();

/** utf8Encode gives the UTF-8 bytes of a string (lone surrogates become U+FFFD). */
export const utf8Encode = (s) => ENCODER.encode(s);

/**
 * utf8Decode reads UTF-8: invalid bytes become U+FFFD, or with fatal throw a TypeError; a
 * leading byte order mark is dropped unless keepBOM.
 */
export function utf8Decode(bytes, { fatal = false, keepBOM = false } = {}) {
  const k = `${fatal}/${keepBOM}`;
  let d = DECODERS.get(k);
  if (!d) {
    d = new TextDecoder('utf-8', { fatal, ignoreBOM: keepBOM });
    DECODERS.set(k, d);
  }
  return d.decode(bytes);
}

// ---- base64url ----

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** b64uEncode writes base64url without padding. */
export function b64uEncode(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

/**
 * b64uDecode parses strict base64url without padding: no '=', no other alphabet, no
 * whitespace, canonical trailing bits. Exactly one spelling of every value is accepted; anything
 * else throws a RangeError (protocol.js turns it into its "encoding" error).
 */
export function b64uDecode(s) {
  if (typeof s !== 'string' || s.length % 4 === 1) throw new RangeError('not base64url');
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? DECODE[c] : -1;
    if (v < 0) throw new RangeError('not base64url');
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new RangeError('not canonical base64url');
  return out;
}

// ---- big-endian integers ----

/** u32 is n as 4 big-endian bytes. */
export function u32(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

/** readU32 reads 4 big-endian bytes of b at `at`. */
export const readU32 = (b, at) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, false);

/** putU64 writes n (a safe integer) as 8 big-endian bytes into buf at `at`. */
export function putU64(buf, at, n) {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  v.setUint32(at, Math.floor(n / 2 ** 32), false);
  v.setUint32(at + 4, n >>> 0, false);
}

/** u64 is n (a safe integer) as 8 big-endian bytes. */
export function u64(n) {
  const b = new Uint8Array(8);
  putU64(b, 0, n);
  return b;
}
