// Helpers for the privacy filter's tests: reading what a file really holds (members of a ZIP
// inflated, PDF streams inflated), running the independent tools, a seeded PRNG.
import { execFileSync } from 'node:child_process';
import { inflateRawSync, inflateSync } from 'node:zlib';
import { readFileSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const fixture = (name) => new Uint8Array(readFileSync(join(here, 'fixtures', name)));
export const tmp = mkdtempSync(join(tmpdir(), 'sealdrop-clean-'));

// The values make-fixtures.sh plants. None may survive cleaning.
export const PLANTED = ['Jane Source', 'JSX', 'Acme Leaks', 'CanonSecret', 'EOS-Leak-5D', 'SN123456789', 'LeakyCam',
  'safehouse', 'Hiddenville', 'secret place', 'janesource', '2024:03:01', '2024-03-01', 'A1B2C3', 'D4E5F6', '5AFE4008'];

export function have(cmd, args = ['--version']) {
  try { execFileSync(cmd, args, { stdio: 'ignore', timeout: 60000 }); return true; } catch { return false; }
}

export function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: opts.encoding === undefined ? 'utf8' : opts.encoding, maxBuffer: 256 << 20, timeout: 120000, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export function save(bytes, name) {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

export const latin1 = (b) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

// zipMembers reads a ZIP's central directory and inflates every member (test-side reader,
// independent of static/js/clean/zip.js).
export function zipMembers(b) {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  let e = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 5, 6]));
  if (e < 0) return null;
  const n = buf.readUInt16LE(e + 10);
  let o = buf.readUInt32LE(e + 16);
  const out = new Map();
  for (let k = 0; k < n; k++) {
    if (buf.readUInt32LE(o) !== 0x02014b50) return null;
    const method = buf.readUInt16LE(o + 10);
    const csize = buf.readUInt32LE(o + 20);
    const nl = buf.readUInt16LE(o + 28);
    const xl = buf.readUInt16LE(o + 30);
    const cl = buf.readUInt16LE(o + 32);
    const local = buf.readUInt32LE(o + 42);
    const name = buf.toString('utf8', o + 46, o + 46 + nl);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const c = buf.subarray(data, data + csize);
    try { out.set(name, method === 8 ? inflateRawSync(c) : Buffer.from(c)); } catch { out.set(name, Buffer.from(c)); }
    o += 46 + nl + xl + cl;
  }
  e = 0;
  return out;
}

// deepText is everything a reader could get out of a file: its bytes, ZIP members inflated
// (recursively), PDF Flate streams inflated.
export function deepText(b, depth = 0) {
  let s = latin1(b);
  if (depth < 3 && s.startsWith('PK')) {
    const m = zipMembers(b);
    if (m) for (const [name, data] of m) s += `\n${name}\n${deepText(new Uint8Array(data), depth + 1)}`;
  }
  if (s.startsWith('%PDF')) {
    for (const mm of s.matchAll(/stream\r?\n/g)) {
      const start = mm.index + mm[0].length;
      const end = s.indexOf('endstream', start);
      if (end < 0) continue;
      const data = b.subarray(start, end);
      try { s += latin1(new Uint8Array(inflateSync(data))); } catch { /* not Flate */ }
    }
  }
  return s;
}

export function survivors(text) {
  return PLANTED.filter((v) => text.includes(v));
}

// mulberry32: a small seeded PRNG for the property and fuzz tests (no Math.random).
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const MAGICK = existsSync('/usr/bin/convert-im6.q16') ? '/usr/bin/convert-im6.q16' : (existsSync('/usr/bin/convert') ? '/usr/bin/convert' : null);
