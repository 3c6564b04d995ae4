// JPEG (baseline, progressive, arithmetic, restart markers): an allow-list of marker segments.
//
// Kept: the tables and headers a decoder needs (DQT, DHT, DAC, SOFn, DRI, SOS, DNL, RSTn), each
// checked to be exactly as long as its contents; the scans' entropy-coded data, byte for byte;
// JFIF (without its thumbnail); Adobe's colour-transform segment; the ICC colour profile,
// rebuilt by icc.js; and the EXIF orientation alone, written anew, so photos stay upright.
// Removed: EXIF (camera, dates, GPS), XMP, IPTC/Photoshop, comments, MPF and every other APPn,
// JFIF/JFXX thumbnails, and anything after the end-of-image marker (extra pictures, motion-photo
// videos, trailers). The reserved JPG (FFC8), DHP (FFDE) and EXP (FFDF) segments, which no camera
// writes and no viewer needs, make the file one that could not be checked: they are not removed,
// since a hierarchical JPEG needs them, and not kept, since nothing checks what they hold.

import { fail, startsWith, u16be, Findings } from './util.js';
import { exifInfo, orientationTIFF, EXIF_GPS, EXIF_PLAIN, XMP } from './exif.js';
import { cleanICC, sameBytes, ICC_LABEL } from './icc.js';

const ICC_SIG = 'ICC_PROFILE\0';

function orientationSegment(orientation) {
  const tiff = orientationTIFF(orientation);
  const len = tiff.length + 8;
  const seg = new Uint8Array(2 + len);
  seg.set([0xff, 0xe1, len >> 8, len & 0xff, 0x45, 0x78, 0x69, 0x66, 0, 0], 0);
  seg.set(tiff, 10);
  return seg;
}

function segment(marker, payload) {
  const len = payload.length + 2;
  if (len > 0xffff) fail('a segment is too long');
  const seg = new Uint8Array(len + 2);
  seg[0] = 0xff; seg[1] = marker; seg[2] = len >> 8; seg[3] = len & 0xff;
  seg.set(payload, 4);
  return seg;
}

// Exact sizes of the kept table and header segments (payload = segment without marker/length).
function checkDQT(p) {
  let i = 0;
  while (i < p.length) {
    const pq = p[i] >> 4;
    if (pq > 1 || (p[i] & 15) > 3) fail('a quantisation table is damaged');
    i += 1 + (pq ? 128 : 64);
  }
  if (i !== p.length || p.length === 0) fail('a quantisation table is damaged');
}

function checkDHT(p) {
  let i = 0;
  while (i < p.length) {
    if (i + 17 > p.length || (p[i] >> 4) > 1 || (p[i] & 15) > 3) fail('a Huffman table is damaged');
    let n = 0;
    for (let k = 1; k <= 16; k++) n += p[i + k];
    i += 17 + n;
  }
  if (i !== p.length || p.length === 0) fail('a Huffman table is damaged');
}

// checkDAC checks arithmetic-coding conditioning (ITU T.81 B.2.4.3): pairs of a class and table
// byte (class 0 DC or 1 AC, table 0 to 3, each at most once) and a value: for DC, L <= U (low and
// high nibble); for AC, Kx from 1 to 63.
function checkDAC(p) {
  if (p.length === 0 || p.length % 2 || p.length > 16) fail('an arithmetic-coding table is damaged');
  let seen = 0;
  for (let i = 0; i < p.length; i += 2) {
    const tc = p[i] >> 4, tb = p[i] & 15, v = p[i + 1];
    const bit = 1 << (tc * 4 + (tb & 3));
    if (tc > 1 || tb > 3 || (seen & bit) || (tc === 0 && (v & 15) > (v >> 4)) || (tc === 1 && (v < 1 || v > 63))) {
      fail('an arithmetic-coding table is damaged');
    }
    seen |= bit;
  }
}

function checkKept(marker, p) {
  if (marker === 0xdb) checkDQT(p);
  else if (marker === 0xc4) checkDHT(p);
  else if (marker === 0xcc) checkDAC(p);
  else if (marker === 0xc8 || marker === 0xde || marker === 0xdf) fail(`the picture needs a part sealdrop does not know (marker ${marker.toString(16).toUpperCase()})`);
  else if (marker === 0xdd || marker === 0xdc) { if (p.length !== 2) fail('a segment has the wrong length'); }
  // T.81 B.2.3: a scan has 1 to 4 components. A frame may have 255 (4 when progressive); what
  // cameras, phones and editors write has 1, 3 or 4, and each more would be 3 bytes kept unchecked.
  else if (marker === 0xda) { if (p.length < 6 || p[0] > 4 || p.length !== 4 + 2 * p[0]) fail('a scan header is damaged'); }
  else if (isSOF(marker)) { if (p.length < 9 || p[5] > 4 || p.length !== 6 + 3 * p[5]) fail('the frame header is damaged'); }
}

const isSOF = (m) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function dropLabel(marker, p) {
  if (marker === 0xfe) return 'Comment';
  if (marker === 0xe1) {
    if (startsWith(p, 'Exif\0')) return exifInfo(p.subarray(6)).gps ? EXIF_GPS : EXIF_PLAIN;
    if (startsWith(p, 'http://ns.adobe.com/')) return XMP;
    return 'Other embedded details (APP1)';
  }
  if (marker === 0xe0) return 'Small preview picture or other data (APP0)';
  if (marker === 0xe2 && startsWith(p, 'MPF\0')) return 'Extra embedded pictures (MPF)';
  if (marker === 0xed) return 'Author, caption and place names (IPTC/Photoshop)';
  if (marker >= 0xe0 && marker <= 0xef) return `Other embedded details (APP${marker - 0xe0})`;
  return `Unknown embedded data (marker ${marker.toString(16).toUpperCase()})`;
}

/**
 * cleanJPEG(b, plan) writes the cleaned JPEG into plan (slices of b are kept by reference).
 * @param {Uint8Array} b whole file
 * @param {import('./util.js').Plan} plan
 * @returns {Findings}
 */
// scanEnd returns where entropy-coded data searched from j on ends: at the next FF that is not a
// stuffed FF 00, a restart marker or a fill byte. indexOf is native, so this stays fast without
// a JIT.
function scanEnd(b, j) {
  for (;;) {
    j = b.indexOf(0xff, j);
    if (j < 0 || j + 1 >= b.length) fail('the picture ends too early');
    const m = b[j + 1];
    if (m === 0x00 || (m >= 0xd0 && m <= 0xd7)) { j += 2; continue; }
    if (m === 0xff) { j += 1; continue; }
    return j;
  }
}

export function cleanJPEG(b, plan) {
  const f = new Findings();
  if (!(b[0] === 0xff && b[1] === 0xd8)) fail('this is not a JPEG picture');
  plan.copy(0, 2);
  const afterSOI = plan.anchor();
  let i = 2;
  let orientation = 1;
  let orientationAt = -1; // index in plan.parts where the orientation block goes
  let iccAt = -1;
  const icc = []; // [{seq, count, data}]
  let sawFrame = false;
  let inScan = false;
  let seenEOI = false;
  const minimalExif = (p) => {
    for (let o = 2; o <= 8; o++) {
      const s = orientationSegment(o);
      if (sameBytes(p, s.subarray(4))) return o;
    }
    return 0;
  };
  while (i < b.length) {
    if (inScan && b[i] !== 0xff) {
      // Entropy-coded data: copied up to the marker that ends it.
      const j = scanEnd(b, i);
      plan.copy(i, j);
      i = j;
      continue;
    }
    if (b[i] !== 0xff) fail('unexpected bytes between segments');
    if (i + 1 >= b.length) fail('the picture ends too early');
    const marker = b[i + 1];
    if (marker === 0xff) { i += 1; continue; } // fill byte, dropped
    if (inScan && (marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7))) {
      // A scan whose data starts with a stuffed FF 00 or a restart marker: still scan data.
      const j = scanEnd(b, i + 2);
      plan.copy(i, j);
      i = j;
      continue;
    }
    if (marker === 0xd9) {
      if (!sawFrame) fail('the picture has no frame');
      plan.copy(i, i + 2);
      i += 2;
      seenEOI = true;
      break;
    }
    if (marker === 0xd8 || marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      fail('a marker is out of place');
    }
    inScan = false;
    if (i + 4 > b.length) fail('the picture ends too early');
    const len = u16be(b, i + 2);
    if (len < 2 || i + 2 + len > b.length) fail('a segment is cut short');
    const p = b.subarray(i + 4, i + 2 + len);
    const next = i + 2 + len;
    if (marker === 0xe0 && startsWith(p, 'JFIF\0')) {
      if (p.length < 14) fail('the JFIF header is damaged');
      if (p.length > 14 || p[12] !== 0 || p[13] !== 0) {
        f.remove('Small preview picture (JFIF thumbnail)');
        const q = p.slice(0, 14);
        q[12] = 0; q[13] = 0;
        plan.bytes(segment(0xe0, q));
      } else {
        plan.copy(i, next);
      }
      if (orientationAt < 0) orientationAt = plan.anchor();
    } else if (marker === 0xe2 && startsWith(p, ICC_SIG)) {
      if (p.length < 15) fail('a colour profile segment is damaged');
      icc.push({ seq: p[12], count: p[13], data: p.subarray(14) });
      if (iccAt < 0) iccAt = plan.anchor();
    } else if (marker === 0xee && startsWith(p, 'Adobe')) {
      if (p.length !== 12) fail('the Adobe segment is damaged');
      plan.copy(i, next);
    } else if (marker >= 0xc0 && marker <= 0xdf) {
      checkKept(marker, p);
      if (isSOF(marker)) {
        if (sawFrame) fail('the picture has two frames');
        sawFrame = true;
      }
      if (marker === 0xda && !sawFrame) fail('a scan comes before the frame header');
      plan.copy(i, next);
      if (marker === 0xda) inScan = true;
    } else {
      const o = marker === 0xe1 && startsWith(p, 'Exif\0\0') ? exifInfo(p.subarray(6)).orientation : 1;
      const mine = marker === 0xe1 ? minimalExif(p) : 0;
      if (!mine) f.remove(dropLabel(marker, p));
      if (o !== 1) orientation = o;
      if (mine) orientation = mine;
    }
    i = next;
  }
  if (!seenEOI) fail('the picture ends too early');
  if (i < b.length) f.remove('Hidden data after the end of the picture');
  if (icc.length) {
    icc.sort((x, y) => x.seq - y.seq);
    const n = icc[0].count;
    if (icc.length !== n || icc.some((c, k) => c.seq !== k + 1 || c.count !== n)) fail('the colour profile is split wrongly');
    let total = 0;
    for (const c of icc) total += c.data.length;
    const whole = new Uint8Array(total);
    let o = 0;
    for (const c of icc) { whole.set(c.data, o); o += c.data.length; }
    const clean = cleanICC(whole);
    if (!sameBytes(clean, whole)) f.remove(ICC_LABEL);
    const per = 65519 - 14;
    const segs = [];
    const count = Math.ceil(clean.length / per);
    if (count > 255) fail('the colour profile is too large');
    for (let k = 0; k < count; k++) {
      const part = clean.subarray(k * per, Math.min(clean.length, (k + 1) * per));
      const payload = new Uint8Array(14 + part.length);
      payload.set([...ICC_SIG].map((c) => c.charCodeAt(0)), 0);
      payload[12] = k + 1;
      payload[13] = count;
      payload.set(part, 14);
      segs.push(segment(0xe2, payload));
    }
    plan.insert(iccAt, segs);
    if (orientationAt > iccAt) orientationAt += segs.length;
  }
  if (orientation !== 1) plan.insert(orientationAt >= 0 ? orientationAt : afterSOI, [orientationSegment(orientation)]);
  return f;
}
