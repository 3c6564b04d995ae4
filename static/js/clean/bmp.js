// BMP pictures: nothing but a header and pixels, unless the header links or embeds a colour
// profile (a linked profile is a path on the author's computer). The header is checked; a
// profile, or bytes hidden in a gap or after the pixels, are not passed as clean.

import { fail, u16le, u32le, Findings } from './util.js';

export function cleanBMP(b, plan) {
  const f = new Findings();
  if (b.length < 26 || b[0] !== 0x42 || b[1] !== 0x4d) fail('this is not a BMP picture');
  const dataAt = u32le(b, 10);
  const hdr = u32le(b, 14);
  if (![12, 40, 52, 56, 108, 124].includes(hdr) || 14 + hdr > b.length) fail('the picture header is damaged');
  if (hdr === 12) {
    if (dataAt < 26 || dataAt > b.length) fail('the picture header is damaged');
    plan.copy(0, b.length);
    return f;
  }
  const w = u32le(b, 18) | 0;
  const h = u32le(b, 22) | 0;
  const bpp = u16le(b, 28);
  const comp = u32le(b, 30);
  const imageSize = u32le(b, 34);
  let colours = u32le(b, 46);
  if (hdr === 124) {
    const cs = u32le(b, 70);
    if (cs === 0x4c494e4b || cs === 0x4d424544) { // 'LINK', 'MBED'
      f.remain(cs === 0x4c494e4b ? 'A link to a colour profile file on the author\'s computer' : 'An embedded colour profile');
    }
  }
  if (bpp <= 8 && colours === 0) colours = 1 << bpp;
  const masks = comp === 3 && hdr === 40 ? 12 : comp === 6 && hdr === 40 ? 16 : 0;
  const headers = 14 + hdr + masks + colours * 4;
  if (dataAt < headers || dataAt > b.length || w === 0 || h === 0) fail('the picture header is damaged');
  let pixels;
  if (comp === 0 || comp === 3 || comp === 6) pixels = Math.ceil((Math.abs(w) * bpp) / 32) * 4 * Math.abs(h);
  else pixels = imageSize;
  if (!pixels || dataAt + pixels > b.length) fail('the picture data is cut short');
  if (dataAt > headers + 2) f.remain('Unexplained bytes between the header and the pixels');
  plan.copy(0, dataAt + pixels);
  if (dataAt + pixels < b.length) f.remove('Hidden data after the end of the picture');
  return f;
}
