// WebP (lossy, lossless, with alpha, animated): an allow-list of RIFF chunks.
//
// Kept: VP8, VP8L, VP8X (its EXIF/XMP flags cleared, its ICC flag set to what remains), ALPH,
// ANIM and ANMF frames (whose inner chunks must themselves be image chunks); the ICCP colour
// profile is rebuilt by icc.js. Removed: EXIF, XMP and every other chunk, and anything after
// the RIFF container.

import { fail, latin1, startsWith, u32le, put32le, Findings } from './util.js';
import { exifInfo, EXIF_GPS, EXIF_PLAIN, XMP } from './exif.js';
import { cleanICC, sameBytes, ICC_LABEL } from './icc.js';

const IMAGE = new Set(['VP8 ', 'VP8L', 'ALPH']);

function riffChunk(type, data) {
  const out = new Uint8Array(8 + data.length + (data.length & 1));
  for (let i = 0; i < 4; i++) out[i] = type.charCodeAt(i);
  put32le(out, 4, data.length);
  out.set(data, 8);
  return out;
}

export function cleanWebP(b, plan) {
  const f = new Findings();
  const riffSize = u32le(b, 4);
  const end = 8 + riffSize;
  if (riffSize < 4 || end > b.length || riffSize % 2) fail('the picture ends too early');
  const parts = []; // {a, b} or Uint8Array
  let vp8x = null;
  let hasICC = false;
  let image = false;
  let i = 12;
  while (i < end) {
    if (i + 8 > end) fail('a chunk is cut short');
    const type = latin1(b, i, 4);
    const len = u32le(b, i + 4);
    const next = i + 8 + len + (len & 1);
    if (next > end) fail('a chunk is cut short');
    const data = b.subarray(i + 8, i + 8 + len);
    if (type === 'VP8X') {
      if (len !== 10 || i !== 12) fail('the extended header is damaged');
      vp8x = data.slice();
      parts.push(vp8x);
    } else if (IMAGE.has(type) || type === 'ANIM') {
      if (type === 'ANIM' && len !== 6) fail('the animation header is damaged');
      if (type !== 'ANIM') image = true;
      parts.push({ type, a: i, b: next });
    } else if (type === 'ANMF') {
      if (len < 16) fail('an animation frame is damaged');
      let k = i + 8 + 16;
      while (k < i + 8 + len) {
        const t = latin1(b, k, 4);
        const l = u32le(b, k + 4);
        const n = k + 8 + l + (l & 1);
        if (k + 8 > i + 8 + len || n > i + 8 + len + (len & 1) || !IMAGE.has(t)) fail('an animation frame is damaged');
        k = n;
      }
      image = true;
      parts.push({ type, a: i, b: next });
    } else if (type === 'ICCP') {
      const clean = cleanICC(data);
      if (!sameBytes(clean, data)) f.remove(ICC_LABEL);
      parts.push(riffChunk('ICCP', clean));
      hasICC = true;
    } else if (type === 'EXIF') {
      const tiff = startsWith(data, 'Exif\0\0') ? data.subarray(6) : data;
      f.remove(exifInfo(tiff).gps ? EXIF_GPS : EXIF_PLAIN);
    } else if (type === 'XMP ') {
      f.remove(XMP);
    } else {
      f.remove(`Other embedded details (${type.trim()})`);
    }
    i = next;
  }
  if (!image) fail('the picture has no image data');
  if (end < b.length) f.remove('Hidden data after the end of the picture');
  if (vp8x) {
    const want = (vp8x[0] & ~(0x08 | 0x04 | 0x20)) | (hasICC ? 0x20 : 0);
    if (want !== vp8x[0]) {
      if ((vp8x[0] & 0x0c) && !f.removed.length) f.remove('Flags announcing removed details');
      vp8x[0] = want;
    }
  }
  let size = 4;
  for (const p of parts) size += p instanceof Uint8Array ? (p === vp8x ? 18 : p.length) : p.b - p.a;
  const head = new Uint8Array(12);
  head.set(b.subarray(0, 12));
  put32le(head, 4, size);
  plan.bytes(head);
  for (const p of parts) {
    if (p === vp8x) plan.bytes(riffChunk('VP8X', vp8x));
    else if (p instanceof Uint8Array) plan.bytes(p);
    else plan.copy(p.a, p.b);
  }
  return f;
}
