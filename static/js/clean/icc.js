// ICC colour profiles: kept, but rebuilt from an allow-list.
//
// Why kept: a phone or camera photo is often in a wide colour space (Display P3, Adobe RGB).
// Without its profile the picture is shown with wrong, washed-out colours: the content would
// change. Why rebuilt: a profile can name the device and its maker (header fields, the 'dmnd',
// 'dmdd' and Apple 'mmod' tags), the software (preferred CMM, creator), a creation or
// calibration date and a description or copyright text. So only the tags that define colours are
// copied unchanged (primaries, tone curves, white point, lookup tables); the header's device,
// platform, creator, date and ID fields are zeroed (an ID of zero means "not computed"), and the
// description becomes the neutral "Colour profile". Colours are rendered exactly as before.

import { fail, latin1, u32be, put32be, enc, sameBytes } from './util.js';

// Tags that define how colours are rendered. Everything else is dropped.
const COLOUR_TAGS = new Set([
  'rXYZ', 'gXYZ', 'bXYZ', 'rTRC', 'gTRC', 'bTRC', 'kTRC', 'wtpt', 'bkpt', 'chad', 'chrm', 'lumi',
  'A2B0', 'A2B1', 'A2B2', 'A2B3', 'B2A0', 'B2A1', 'B2A2', 'B2A3',
  'D2B0', 'D2B1', 'D2B2', 'D2B3', 'B2D0', 'B2D1', 'B2D2', 'B2D3', 'gamt', 'cicp', 'clro',
]);

export const ICC_LABEL = 'Device, software and date details in the colour profile (ICC)';

function descTag(version) {
  const text = 'Colour profile';
  if (version >= 4) {
    // multiLocalizedUnicodeType, one record (en-US), UTF-16BE text
    const out = new Uint8Array(28 + text.length * 2);
    out.set(enc.encode('mluc'), 0);
    put32be(out, 8, 1);
    put32be(out, 12, 12);
    out.set(enc.encode('enUS'), 16);
    put32be(out, 20, text.length * 2);
    put32be(out, 24, 28);
    for (let i = 0; i < text.length; i++) out[29 + 2 * i] = text.charCodeAt(i);
    return out;
  }
  // textDescriptionType: ASCII part, empty Unicode and ScriptCode parts
  const out = new Uint8Array(12 + text.length + 1 + 8 + 3 + 67);
  out.set(enc.encode('desc'), 0);
  put32be(out, 8, text.length + 1);
  out.set(enc.encode(text), 12);
  return out;
}

/**
 * cleanICC returns a profile with only the colour tags, neutral header fields and a neutral
 * description. It throws CleanError when the profile is not a well-formed ICC profile.
 * @param {Uint8Array} p
 * @returns {Uint8Array}
 */
export function cleanICC(p) {
  if (p.length < 132) fail('a colour profile is cut short');
  const size = u32be(p, 0);
  if (size > p.length || size < 132 || latin1(p, 36, 4) !== 'acsp') fail('a colour profile is damaged');
  const version = p[8];
  const count = u32be(p, 128);
  if (count > 1000 || 132 + count * 12 > size) fail('a colour profile is damaged');
  const keep = [];
  for (let i = 0; i < count; i++) {
    const e = 132 + i * 12;
    const sig = latin1(p, e, 4);
    const off = u32be(p, e + 4);
    const len = u32be(p, e + 8);
    if (off < 132 || off + len > size) fail('a colour profile is damaged');
    if (COLOUR_TAGS.has(sig)) keep.push({ sig, off, len });
  }
  if (keep.length === 0) fail('a colour profile holds no colour data');
  const desc = descTag(version);
  const n = keep.length + 1;
  // Layout: header, tag table, data (shared data stays shared), each item 4-byte aligned.
  let pos = 132 + n * 12;
  const placed = new Map(); // "off:len" -> new offset
  const table = [];
  const blocks = [];
  for (const t of keep) {
    const k = `${t.off}:${t.len}`;
    if (!placed.has(k)) {
      placed.set(k, pos);
      blocks.push({ at: pos, bytes: p.subarray(t.off, t.off + t.len) });
      pos += (t.len + 3) & ~3;
    }
    table.push({ sig: t.sig, off: placed.get(k), len: t.len });
  }
  table.push({ sig: 'desc', off: pos, len: desc.length });
  blocks.push({ at: pos, bytes: desc });
  pos += (desc.length + 3) & ~3;
  const out = new Uint8Array(pos);
  out.set(p.subarray(0, 128), 0);
  put32be(out, 0, pos);
  for (const [a, b] of [[4, 8], [24, 36], [40, 44], [48, 64], [80, 128]]) out.fill(0, a, b);
  put32be(out, 128, n);
  table.forEach((t, i) => {
    out.set(enc.encode(t.sig), 132 + i * 12);
    put32be(out, 136 + i * 12, t.off);
    put32be(out, 140 + i * 12, t.len);
  });
  for (const b of blocks) out.set(b.bytes, b.at);
  return out;
}

export { sameBytes };
