// sealdrop protocol version 1, browser side (SECURITY.md is the specification).
//
// Native WebCrypto only (HKDF, PBKDF2, AES-GCM, SHA-256), no dependencies, no WebAssembly:
// it runs in Tor Browser at the "Safer" level and in Node 20. The Go package
// internal/protocol implements the same protocol; both check
// internal/protocol/testdata/vectors.json.
//
// Every error this module throws is a ProtocolError with a `code`: "auth", "truncated",
// "format" (envelope and plaintext), "encoding", "fragment", "pin", "length". The messages
// meant for people (the PIN's rules, the size of a note) come from the catalog (i18n.js); the
// others are diagnostics in English, for developers and tests.

import { EMPTY, utf8Encode, utf8Decode, b64uEncode, b64uDecode as decodeB64u } from './bytes.js';
import { hkdf, sha256, randomBytes, aesGcmKey } from './webcrypto.js';
import { t } from './i18n.js';

export { b64uEncode, sha256, randomBytes };

export const VERSION = 1;
export const HEADER_SIZE = 25;
export const CHUNK_SIZE = 65536;
export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const KIND_NOTE = 1;
export const KIND_CHAT_FRAME = 2;
export const KIND_SUBMISSION = 3;
export const FLAG_PIN = 0x01;
export const PBKDF2_ITERATIONS = 300000;
export const MIN_PIN_DIGITS = 6;
export const MANIFEST_VERSION = 1;
// Largest manifest in bytes and most files in one note (SECURITY.md, "Plaintext").
export const MAX_MANIFEST = 64 * 1024 * 1024;
export const MAX_FILES = 1000;

const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;
const PREFIX_SIZE = 7;
const FRAGMENT_LEN = 46;

const LABEL_PIN_SALT = 'sealdrop/v1 pin-salt';
const LABEL_GATE = 'sealdrop/v1 gate';
const LABEL_OPEN = 'sealdrop/v1 open';
const LABEL_DESTRUCT = 'sealdrop/v1 destruct';
const LABEL_PAYLOAD = 'sealdrop/v1 payload';

const subtle = globalThis.crypto.subtle;

export class ProtocolError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

function fail(code, message) {
  throw new ProtocolError(code, message);
}

// ---- encoding ----

// b64uDecode parses strict base64url without padding (bytes.js): anything else is an
// "encoding" error.
export function b64uDecode(s) {
  try {
    return decodeB64u(s);
  } catch (e) {
    return fail('encoding', e.message);
  }
}

function checkKey(k, what) {
  if (!(k instanceof Uint8Array) || k.length !== KEY_SIZE) fail('length', `${what} must be ${KEY_SIZE} bytes`);
}

// ---- fragment ----

// encodeFragment gives the 46 characters that follow '#'.
export function encodeFragment({ version, flags, secret }) {
  checkKey(secret, 'secret');
  const b = new Uint8Array(2 + KEY_SIZE);
  b[0] = version;
  b[1] = flags;
  b.set(secret, 2);
  return b64uEncode(b);
}

// parseFragment accepts the fragment with or without its '#'; it refuses another length,
// version or unknown flag bits.
export function parseFragment(s) {
  if (typeof s !== 'string') fail('fragment', 'this link is incomplete');
  if (s.startsWith('#')) s = s.slice(1);
  if (s.length !== FRAGMENT_LEN) fail('fragment', 'this link is incomplete or damaged');
  let b;
  try {
    b = b64uDecode(s);
  } catch {
    fail('fragment', 'this link is damaged');
  }
  if (b[0] !== VERSION) fail('fragment', 'this link was made by another version of sealdrop');
  if ((b[1] & ~FLAG_PIN) !== 0) fail('fragment', 'this link was made by another version of sealdrop');
  return { version: b[0], flags: b[1], secret: b.slice(2) };
}

// parseManageFragment is parseFragment for a manage link: the flags must be zero. A fragment
// with the PIN flag is a note link pasted in the wrong place, and its K must never be sent
// to the server as a manage secret.
export function parseManageFragment(s) {
  const f = parseFragment(s);
  if (f.flags !== 0) fail('fragment', 'this is a note link, not a manage link');
  return f;
}

// ---- PIN ----

// DIGIT_ZEROS is the frozen table of Unicode decimal digits (category Nd) of Unicode 15.0.0:
// each entry is a zero that starts a run of ten digits, 0 to 9. It is frozen rather than read
// from the browser's Unicode tables (\p{Nd}) because a PIN must normalise the same way in
// every client for the life of a note: a digit added in a later Unicode version would be
// accepted by a newer browser and refused, or stretched unmapped, by an older one or by the Go
// client. internal/protocol holds the same table; the vectors (pin.digit_zeros) check both.
export const DIGIT_ZEROS = Object.freeze([
  0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6,
  0xc66, 0xce6, 0xd66, 0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0,
  0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620,
  0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066,
  0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0,
  0x11950, 0x11c50, 0x11d50, 0x11da0, 0x11f50, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8,
  0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e4f0, 0x1e950, 0x1fbf0,
]);

// digitValue of a decimal digit of the frozen table, or -1.
function digitValue(cp) {
  let lo = 0;
  let hi = DIGIT_ZEROS.length; // find the last zero <= cp
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (DIGIT_ZEROS[mid] <= cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return -1;
  const d = cp - DIGIT_ZEROS[lo - 1];
  return d < 10 ? d : -1;
}

// mapDigits maps every Unicode decimal digit to ASCII and keeps everything else (what the
// PIN stretch applies, so another keyboard's digits give the same key).
function mapDigits(s) {
  let out = '';
  for (const ch of s) {
    const v = digitValue(ch.codePointAt(0));
    out += v >= 0 ? String(v) : ch;
  }
  return out;
}

// normalizePIN maps Unicode decimal digits to ASCII and refuses anything else or fewer than
// six digits; the message is meant for users.
export function normalizePIN(s) {
  if (typeof s !== 'string') fail('pin', t('pin.digits_only'));
  let out = '';
  for (const ch of s) {
    const v = digitValue(ch.codePointAt(0));
    if (v < 0) fail('pin', t('pin.digits_only'));
    out += String(v);
  }
  if (out.length < MIN_PIN_DIGITS) fail('pin', t('pin.too_short', { min: MIN_PIN_DIGITS }));
  return out;
}

// checkPINs applies the sender's rules ('' or null means not set).
export function checkPINs(pin, dpin) {
  const np = pin ? normalizePIN(pin) : '';
  if (!dpin) return;
  if (!pin) fail('pin', t('pin.destruct_needs_pin'));
  let nd;
  try {
    nd = normalizePIN(dpin);
  } catch (e) {
    fail('pin', t('pin.destruct_invalid', { why: e.message }));
  }
  if (nd === np) fail('pin', t('pin.destruct_same'));
}

// ---- keys ----

export async function pinSalt(K) {
  checkKey(K, 'K');
  return hkdf(K, EMPTY, LABEL_PIN_SALT, 16);
}

// stretchPIN is P = PBKDF2-HMAC-SHA-256(PIN, HKDF(K, "", pin-salt, 16), 300000, 32). Slow on
// purpose.
export async function stretchPIN(K, pin) {
  return stretchPINSalt(pin, await pinSalt(K));
}

// stretchPINSalt is PBKDF2-HMAC-SHA-256(PIN with its digits mapped to ASCII, salt, 300000, 32):
// the one stretch of every PIN (a note's, a chat's, a room's); only the salt differs.
export async function stretchPINSalt(pin, salt) {
  const key = await subtle.importKey('raw', utf8Encode(mapDigits(pin)), 'PBKDF2', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ITERATIONS },
    key,
    KEY_SIZE * 8,
  );
  return new Uint8Array(bits);
}

export async function gateToken(K) {
  checkKey(K, 'K');
  return hkdf(K, EMPTY, LABEL_GATE, KEY_SIZE);
}

export async function openToken(K, P) {
  checkKey(K, 'K');
  return hkdf(K, P, LABEL_OPEN, KEY_SIZE);
}

export async function destructToken(K, P) {
  checkKey(K, 'K');
  return hkdf(K, P, LABEL_DESTRUCT, KEY_SIZE);
}

// payloadKey is Kp = HKDF(K, P or empty, payload, 32).
export async function payloadKey(K, P) {
  checkKey(K, 'K');
  return hkdf(K, P || EMPTY, LABEL_PAYLOAD, KEY_SIZE);
}

// ---- Padmé ----

// padme pads n so that at most O(log log n) bits of the length leak (≤ ~12% overhead).
export function padme(n) {
  if (!Number.isSafeInteger(n)) fail('length', 'length must be an integer');
  if (n < 2) return n;
  let e = 0;
  while (2 ** (e + 1) <= n) e++; // floor(log2 n), exact for safe integers
  let s = 0;
  while (2 ** s <= e) s++; // floor(log2 e) + 1
  const unit = 2 ** (e - s);
  return Math.ceil(n / unit) * unit; // exact: unit is a power of two
}

// ---- envelope ----

export function sealedLength(paddedLen) {
  return HEADER_SIZE + paddedLen + Math.ceil(paddedLen / CHUNK_SIZE) * TAG_SIZE;
}

function chunkNonce(header, i, last) {
  const iv = new Uint8Array(12);
  iv.set(header.subarray(HEADER_SIZE - PREFIX_SIZE, HEADER_SIZE), 0);
  new DataView(iv.buffer).setUint32(PREFIX_SIZE, i, false);
  iv[11] = last ? 1 : 0;
  return iv;
}

function aesKey(key, usage) {
  checkKey(key, 'key');
  return aesGcmKey(key, usage);
}

// seal encrypts a padded plaintext as one envelope, chunk by chunk, with a fresh random
// entry nonce and nonce prefix every call.
export async function seal({ key, kind, plaintext, onProgress }) {
  return sealWith({ key, kind, plaintext, onProgress }, randomBytes(16), randomBytes(PREFIX_SIZE));
}

// _sealForVectors is seal with a caller-chosen entry nonce and prefix, for the shared test
// vectors ONLY: reusing a prefix under one key repeats GCM nonces and destroys
// confidentiality. Pages must never import it.
export async function _sealForVectors({ key, kind, plaintext }, { entryNonce, prefix }) {
  if (!(entryNonce instanceof Uint8Array) || entryNonce.length !== 16) fail('length', 'entry nonce must be 16 bytes');
  if (!(prefix instanceof Uint8Array) || prefix.length !== PREFIX_SIZE) fail('length', 'prefix must be 7 bytes');
  return sealWith({ key, kind, plaintext }, entryNonce, prefix);
}

async function sealWith({ key, kind, plaintext, onProgress }, entryNonce, prefix) {
  if (!(plaintext instanceof Uint8Array) || plaintext.length < 1) fail('length', 'nothing to seal');
  const header = new Uint8Array(HEADER_SIZE);
  header[0] = VERSION;
  header[1] = kind;
  header.set(entryNonce, 2);
  header.set(prefix, 18);
  const ck = await aesKey(key, 'encrypt');
  const n = plaintext.length;
  const out = new Uint8Array(sealedLength(n));
  out.set(header, 0);
  let pos = HEADER_SIZE;
  for (let i = 0, off = 0; off < n; i++) {
    const end = Math.min(off + CHUNK_SIZE, n);
    const iv = chunkNonce(header, i, end === n);
    const ct = await subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: header, tagLength: 128 },
      ck,
      plaintext.subarray(off, end),
    );
    out.set(new Uint8Array(ct), pos);
    pos += ct.byteLength;
    off = end;
    if (onProgress) onProgress(off, n);
  }
  return out;
}

async function tryDecrypt(ck, header, i, last, chunk) {
  try {
    return new Uint8Array(
      await subtle.decrypt({ name: 'AES-GCM', iv: chunkNonce(header, i, last), additionalData: header, tagLength: 128 }, ck, chunk),
    );
  } catch {
    return null;
  }
}

// open decrypts an envelope of the expected kind, chunk by chunk, and throws on any
// tampering (cut, swapped, replayed, reordered chunks, truncation, extension, another
// version or kind, trailing bytes).
export async function open({ key, kind, ciphertext, onProgress }) {
  const ct = ciphertext;
  if (!(ct instanceof Uint8Array) || ct.length < HEADER_SIZE) fail('truncated', 'the data is incomplete');
  if (ct[0] !== VERSION) fail('format', 'unknown version');
  if (ct[1] !== kind) fail('format', 'unexpected kind');
  const header = ct.slice(0, HEADER_SIZE);
  const body = ct.length - HEADER_SIZE;
  if (body === 0) fail('truncated', 'the data is incomplete');
  const chunks = Math.ceil(body / SEALED_CHUNK);
  // A last chunk too short to hold a byte is refused when reached, after the chunks before
  // it (so the error is the same as the Go decryptor's); size the output for those.
  const lastLen = body - (chunks - 1) * SEALED_CHUNK;
  const total = lastLen > TAG_SIZE ? body - chunks * TAG_SIZE : (chunks - 1) * CHUNK_SIZE;
  const out = new Uint8Array(total);
  // Chunks are decrypted into out one by one; whatever ends the loop early (tampering, a
  // cut, a failing WebCrypto call) zeroes what was already decrypted before it propagates.
  try {
    const ck = await aesKey(key, 'decrypt');
    let pos = HEADER_SIZE;
    let done = 0;
    for (let i = 0; ; i++) {
      const remaining = ct.length - pos;
      const last = remaining <= SEALED_CHUNK;
      const chunk = ct.subarray(pos, pos + (last ? remaining : SEALED_CHUNK));
      if (chunk.length < TAG_SIZE + 1) fail('truncated', 'the data is incomplete');
      const pt = await tryDecrypt(ck, header, i, last, chunk);
      if (pt === null) {
        // A chunk that authenticates with the other last flag was moved to or from the end.
        const other = await tryDecrypt(ck, header, i, !last, chunk);
        if (other !== null) {
          other.fill(0);
          if (last) fail('truncated', 'the data is incomplete');
          fail('format', 'bytes after the last chunk');
        }
        fail('auth', 'the data was altered or the key is wrong');
      }
      out.set(pt, done);
      done += pt.length;
      pt.fill(0);
      pos += chunk.length;
      if (onProgress) onProgress(done, total);
      if (last) return out;
    }
  } catch (e) {
    out.fill(0);
    throw e;
  }
}

// ---- plaintext ----

function wellFormed(s) {
  s = String(s);
  if (typeof s.toWellFormed === 'function') return s.toWellFormed();
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

// manifestJSON writes the manifest as Go's encoding/json (without HTML escaping) does, so
// both implementations produce the same bytes: U+2028 and U+2029 are escaped.
function manifestJSON(manifest) {
  return JSON.stringify(manifest).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

// fileSize is the length of a file's bytes: a Uint8Array, or a Blob (a cleaned file is a Blob
// made of slices of the original, so that a large video is never held twice).
const fileSize = (f) => (f.bytes instanceof Uint8Array ? f.bytes.length : f.bytes.size);

// layoutPlaintext sizes the plaintext and writes the manifest; the files' bytes follow it.
function layoutPlaintext(text, files) {
  files = files || [];
  if (files.length > MAX_FILES) fail('length', t('note.too_many_files', { max: MAX_FILES }));
  const manifest = {
    v: MANIFEST_VERSION,
    text: wellFormed(text || ''),
    files: files.map((f) => ({ name: wellFormed(f.name || ''), type: wellFormed(f.type || ''), size: fileSize(f) })),
  };
  const mb = utf8Encode(manifestJSON(manifest));
  if (mb.length > MAX_MANIFEST) fail('length', t('note.too_long'));
  let len = 4 + mb.length;
  for (const f of files) len += fileSize(f);
  const bytes = new Uint8Array(padme(len));
  new DataView(bytes.buffer).setUint32(0, mb.length, false);
  bytes.set(mb, 4);
  return { bytes, manifest, pos: 4 + mb.length, files };
}

// buildPlaintext lays out u32 len ‖ manifest ‖ files ‖ zero padding to Padmé (files as bytes).
export function buildPlaintext(text, files) {
  const { bytes, manifest, files: list } = layoutPlaintext(text, files);
  let pos = 4 + new DataView(bytes.buffer).getUint32(0, false);
  for (const f of list) {
    if (!(f.bytes instanceof Uint8Array)) fail('length', 'a file held as a Blob needs buildPlaintextAsync');
    bytes.set(f.bytes, pos);
    pos += f.bytes.length;
  }
  return { bytes, manifest };
}

// buildPlaintextAsync is buildPlaintext for files whose bytes may be Blobs (cleaned files): each
// Blob is read into the plaintext a slice at a time, so no second whole copy is made.
export async function buildPlaintextAsync(text, files) {
  const { bytes, manifest, pos: start, files: list } = layoutPlaintext(text, files);
  let pos = start;
  try {
    for (const f of list) {
      if (f.bytes instanceof Uint8Array) {
        bytes.set(f.bytes, pos);
        pos += f.bytes.length;
        continue;
      }
      const n = f.bytes.size;
      for (let off = 0; off < n; off += READ_SLICE) {
        const part = new Uint8Array(await f.bytes.slice(off, Math.min(n, off + READ_SLICE)).arrayBuffer());
        if (part.length !== Math.min(READ_SLICE, n - off)) fail('length', 'a file changed while it was read');
        bytes.set(part, pos + off);
      }
      pos += n;
    }
  } catch (e) {
    bytes.fill(0);
    throw e;
  }
  return { bytes, manifest };
}

const READ_SLICE = 4 * 1024 * 1024;

function exactKeys(o, keys) {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const have = Object.keys(o);
  return have.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(o, k));
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// wellFormedString: a string without lone surrogates (JSON.parse keeps an escaped "\ud800"
// as one; the Go reader refuses it, and so does this one).
function wellFormedString(s) {
  if (typeof s !== 'string') return false;
  return typeof s.isWellFormed === 'function' ? s.isWellFormed() : !LONE_SURROGATE.test(s);
}

// allZero reports whether p[from:] is all zero bytes: bytewise up to a 4-byte boundary, then
// 32-bit words, then bytewise to the end (a padding of megabytes is checked in
// milliseconds).
function allZero(p, from) {
  const end = p.length;
  let i = from;
  while (i < end && ((p.byteOffset + i) & 3) !== 0) if (p[i++] !== 0) return false;
  const words = (end - i) >>> 2;
  if (words > 0) {
    const w = new Uint32Array(p.buffer, p.byteOffset + i, words);
    for (let k = 0; k < words; k++) if (w[k] !== 0) return false;
    i += words * 4;
  }
  for (; i < end; i++) if (p[i] !== 0) return false;
  return true;
}

// parsePlaintext applies the reader's rules of SECURITY.md ("Plaintext"): a manifest of at
// most MAX_MANIFEST bytes of valid UTF-8 (a byte order mark is kept, so JSON.parse refuses
// it), exact keys and types, no lone surrogates, at most MAX_FILES files, no size overrunning
// the plaintext, zero padding, and a total length of exactly Padmé(unpadded length). Nothing
// is copied before all of it is checked; file bytes are then copies.
export function parsePlaintext(p) {
  const bad = (why) => fail('format', `malformed note: ${why}`);
  if (!(p instanceof Uint8Array) || p.length < 4) bad('too short');
  const ml = new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0, false);
  if (ml > MAX_MANIFEST) bad('manifest too large');
  if (ml > p.length - 4) bad('manifest overruns');
  let m;
  try {
    m = JSON.parse(utf8Decode(p.subarray(4, 4 + ml), { fatal: true, keepBOM: true }));
  } catch {
    bad('manifest is not UTF-8 JSON');
  }
  if (!exactKeys(m, ['v', 'text', 'files'])) bad('manifest fields');
  if (m.v !== MANIFEST_VERSION) bad('manifest version');
  if (!wellFormedString(m.text) || !Array.isArray(m.files)) bad('manifest fields');
  if (m.files.length > MAX_FILES) bad('too many files');
  let pos = 4 + ml;
  const spans = [];
  for (const f of m.files) {
    if (!exactKeys(f, ['name', 'type', 'size'])) bad('file fields');
    if (!wellFormedString(f.name) || !wellFormedString(f.type)) bad('file fields');
    if (!Number.isSafeInteger(f.size) || f.size < 0) bad('file size');
    if (f.size > p.length - pos) bad('file overruns');
    spans.push([pos, f]);
    pos += f.size;
  }
  if (!allZero(p, pos)) bad('padding not zero');
  if (p.length !== padme(pos)) bad('padded length is not Padmé');
  const files = spans.map(([at, f]) => ({ name: f.name, type: f.type, bytes: p.slice(at, at + f.size) }));
  return { text: m.text, files };
}

// ---- notes ----

// newNote makes K and M, encrypts the note and returns the ciphertext, both fragments and the
// hashes for the create request (base64url strings). Without a destruct PIN the destruct
// hash is the hash of random bytes, so the server cannot tell which notes have one.
export async function newNote({ text, files, pin, destructPin, onProgress }) {
  checkPINs(pin || '', destructPin || '');
  const np = pin ? normalizePIN(pin) : '';
  const nd = destructPin ? normalizePIN(destructPin) : '';
  const K = randomBytes(KEY_SIZE);
  const M = randomBytes(KEY_SIZE);
  const P = np ? await stretchPIN(K, np) : null;
  const create = {
    gate_hash: b64uEncode(await sha256(await gateToken(K))),
  };
  if (P) create.open_hash = b64uEncode(await sha256(await openToken(K, P)));
  const destruct = nd ? await destructToken(K, await stretchPIN(K, nd)) : randomBytes(KEY_SIZE);
  create.destruct_hash = b64uEncode(await sha256(destruct));
  create.manage_hash = b64uEncode(await sha256(M));
  const kp = await payloadKey(K, P);
  const { bytes } = await buildPlaintextAsync(text || '', files || []);
  let ciphertext;
  try {
    ciphertext = await seal({ key: kp, kind: KIND_NOTE, plaintext: bytes, onProgress });
  } finally {
    bytes.fill(0);
    kp.fill(0);
  }
  return {
    ciphertext,
    fragment: encodeFragment({ version: VERSION, flags: np ? FLAG_PIN : 0, secret: K }),
    manageFragment: encodeFragment({ version: VERSION, flags: 0, secret: M }),
    create,
  };
}

// readerTokens gives what the reader sends: the gate token, and the open and destruct tokens
// of the typed PIN. `stretched` (P of the typed PIN) can be passed to openNote to avoid a
// second slow stretch.
export async function readerTokens(K, typedPIN) {
  const out = { gate: await gateToken(K) };
  if (typedPIN) {
    const P = await stretchPIN(K, typedPIN);
    out.open = await openToken(K, P);
    out.destruct = await destructToken(K, P);
    out.stretched = P;
  }
  return out;
}

// openNote decrypts and parses a note: {text, files: [{name, type, bytes}]}.
export async function openNote({ fragmentSecret, pin, stretched, ciphertext, onProgress }) {
  const K = fragmentSecret;
  const P = stretched || (pin ? await stretchPIN(K, pin) : null);
  const kp = await payloadKey(K, P);
  let pt;
  try {
    pt = await open({ key: kp, kind: KIND_NOTE, ciphertext, onProgress });
    return parsePlaintext(pt);
  } finally {
    kp.fill(0);
    if (pt) pt.fill(0);
  }
}

// newClaim makes a fresh claim nonce C and SHA-256(C).
export async function newClaim() {
  const nonce = randomBytes(32);
  return { nonce, hash: await sha256(nonce) };
}
