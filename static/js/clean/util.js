// Shared pieces of the media privacy filter (static/js/clean/): reading a file piece by piece,
// building the cleaned file as a plan of untouched slices plus small rewritten pieces, CRC-32,
// and inflate/deflate through the browser's native (De)CompressionStream.
//
// Nothing here uses WebAssembly, canvas or anything Tor Browser's "Safer" level turns off.

import { concatAll, equal } from '../bytes.js';

// concat joins byte arrays; sameBytes compares two (bytes.js, shared with the protocols).
export { concatAll as concat, equal as sameBytes };

/** CleanError: the file is not understood well enough to be cleaned. Its message is plain words. */
export class CleanError extends Error {}

export function fail(why) {
  throw new CleanError(why);
}

export const latin1 = (b, start = 0, len = b.length - start) => {
  let s = '';
  const end = Math.min(b.length, start + len);
  for (let i = Math.max(0, start); i < end; i++) s += String.fromCharCode(b[i]);
  return s;
};

export function startsWith(b, sig, at = 0) {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) {
    const c = typeof sig === 'string' ? sig.charCodeAt(i) : sig[i];
    if (b[at + i] !== c) return false;
  }
  return true;
}

/** fromLatin1 turns a Latin-1 string (one character per byte) back into bytes. */
export function fromLatin1(s) {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export const enc = new TextEncoder();
export const utf8 = new TextDecoder('utf-8', { fatal: false });
export const utf8strict = new TextDecoder('utf-8', { fatal: true });

export const u16be = (b, o) => (b[o] << 8) | b[o + 1];
export const u16le = (b, o) => b[o] | (b[o + 1] << 8);
export const u32be = (b, o) => b[o] * 0x1000000 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
export const u32le = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
export const u64be = (b, o) => u32be(b, o) * 0x100000000 + u32be(b, o + 4);
export const u64le = (b, o) => u32le(b, o) + u32le(b, o + 4) * 0x100000000;

export function put16be(b, o, v) { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; }
export function put16le(b, o, v) { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; }
export function put32be(b, o, v) { b[o] = (v >>> 24) & 0xff; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff; }
export function put32le(b, o, v) { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff; }
export function put64be(b, o, v) {
  if (!Number.isSafeInteger(v) || v < 0) fail('an offset is out of range');
  put32be(b, o, Math.floor(v / 0x100000000));
  put32be(b, o + 4, v >>> 0);
}

// ---------- reading ----------

/**
 * Source reads a file (a Blob, or bytes already in memory) by ranges, so that a large video is
 * never read whole: cleaners ask only for the parts they parse.
 */
export class Source {
  constructor(data) {
    this.bytes = data instanceof Uint8Array ? data : null;
    this.blob = this.bytes ? null : data;
    this.size = this.bytes ? this.bytes.length : data.size;
    this.bytesRead = 0; // how much was read, for the streaming tests
  }

  /** read returns bytes [off, off+len) (fewer at the end of the file). */
  async read(off, len) {
    const end = Math.min(this.size, off + len);
    if (off < 0 || off > end) fail('a part points outside the file');
    this.bytesRead += end - off;
    if (this.bytes) return this.bytes.subarray(off, end);
    return new Uint8Array(await this.blob.slice(off, end).arrayBuffer());
  }

  /** all returns the whole file in memory (one copy), refusing beyond max bytes. */
  async all(max = MAX_IN_MEMORY) {
    if (this.size > max) fail('the file is too large to check here');
    return this.read(0, this.size);
  }

  /** slice is a part of the original for the output: a Blob slice (no copy) or a subarray. */
  slice(a, b) {
    return this.bytes ? this.bytes.subarray(a, b) : this.blob.slice(a, b);
  }
}

// Formats that must be parsed whole (JPEG scans, PDF objects) are read into memory once, up to
// this size: the page then holds one copy of the file while it is checked, never two.
export const MAX_IN_MEMORY = 256 * 1024 * 1024;

// ---------- writing ----------

/**
 * Plan is the cleaned file: slices of the original (kept by reference) and new bytes, in order.
 * It never copies the original's bytes, so a 60 MiB video costs only its rewritten headers.
 */
export class Plan {
  constructor(src) {
    this.src = src;
    this.parts = []; // Uint8Array or {a, b} ranges of src
    this.size = 0;
    this.anchors = new Set();
  }

  bytes(u8) {
    if (u8.length) { this.parts.push(u8); this.size += u8.length; }
    return this;
  }

  copy(a, b) {
    if (b < a || a < 0 || b > this.src.size) fail('a part points outside the file');
    if (b > a) {
      const last = this.parts[this.parts.length - 1];
      if (last && !(last instanceof Uint8Array) && last.b === a && !this.anchors.has(this.parts.length)) last.b = b;
      else this.parts.push({ a, b });
      this.size += b - a;
    }
    return this;
  }

  /** anchor returns the current position for a later insert, and keeps it from being merged. */
  anchor() {
    this.anchors.add(this.parts.length);
    return this.parts.length;
  }

  /** insert puts new bytes at a position returned by anchor (later anchors move by one each). */
  insert(at, u8s) {
    this.parts.splice(at, 0, ...u8s);
    for (const u of u8s) this.size += u.length;
  }

  /** newBytes is how many bytes of the plan are not slices of the original. */
  get newBytes() {
    let n = 0;
    for (const p of this.parts) if (p instanceof Uint8Array) n += p.length;
    return n;
  }

  toBlob() {
    return new Blob(this.parts.map((p) => (p instanceof Uint8Array ? p : this.src.slice(p.a, p.b))));
  }

  /** toBytes joins the plan in memory; used for files inside files (zip members). */
  async toBytes() {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      const u = p instanceof Uint8Array ? p : await this.src.read(p.a, p.b - p.a);
      out.set(u, o);
      o += u.length;
    }
    return out;
  }
}

// ---------- CRC-32 (zip, PNG, Ogg uses its own polynomial) ----------

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(bytes, crc = 0) {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------- inflate / deflate ----------

async function pump(stream, max) {
  const reader = stream.getReader();
  const chunks = [];
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > max) fail('a compressed part unpacks to more than sealdrop checks');
      chunks.push(value);
    }
  } catch (e) {
    try { await reader.cancel(); } catch { /* already failed */ }
    if (e instanceof CleanError) throw e;
    fail('a compressed part is damaged');
  }
  return concatAll(chunks);
}

/** inflate unpacks 'deflate-raw' or 'deflate' (zlib) data, refusing more than max bytes. */
export async function inflate(bytes, format = 'deflate-raw', max = 128 * 1024 * 1024) {
  const s = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
  return pump(s, max);
}

/**
 * inflatedSize unpacks the zlib or deflate data in parts (Uint8Arrays, one stream) and returns
 * how many bytes it unpacks to, discarding them; it stops past max (returning more than max),
 * and returns -1 if the stream is damaged or cut short.
 */
export async function inflatedSize(parts, format, max) {
  const reader = new Blob(parts).stream().pipeThrough(new DecompressionStream(format)).getReader();
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return n;
      n += value.length;
      if (n > max) {
        try { await reader.cancel(); } catch { /* already done */ }
        return n;
      }
    }
  } catch {
    try { await reader.cancel(); } catch { /* already failed */ }
    return -1;
  }
}

/** deflate packs bytes as 'deflate-raw' or 'deflate' (zlib). */
export async function deflate(bytes, format = 'deflate-raw') {
  const s = new Blob([bytes]).stream().pipeThrough(new CompressionStream(format));
  return pump(s, Infinity);
}

// ---------- reports ----------

/** Findings collects what was removed and what could not be, in plain words, without repeats. */
export class Findings {
  constructor() {
    this.removed = [];
    this.remains = [];
  }

  remove(what) { if (!this.removed.includes(what)) this.removed.push(what); }

  remain(what) { if (!this.remains.includes(what)) this.remains.push(what); }

  merge(other, prefix = '') {
    for (const r of other.removed) this.remove(prefix + r);
    for (const r of other.remains) this.remain(prefix + r);
  }
}
