// GIF: an allow-list of blocks.
//
// Kept: the header and screen descriptor with its colour table, images (descriptor, local
// colour table, compressed data), graphic-control extensions (timing, transparency) and the
// NETSCAPE2.0/ANIMEXTS1.0 loop extension. Removed: comments, plain-text extensions, every other
// application extension (XMP, ICC, editors' private data) and anything after the trailer.

import { fail, latin1, Findings } from './util.js';

// subBlocksEnd returns the index after a chain of data sub-blocks starting at i.
function subBlocksEnd(b, i) {
  for (;;) {
    if (i >= b.length) fail('the picture ends too early');
    const n = b[i];
    i += 1 + n;
    if (n === 0) return i;
  }
}

export function cleanGIF(b, plan) {
  const f = new Findings();
  if (b.length < 13) fail('the picture ends too early');
  let i = 13;
  if (b[10] & 0x80) i += 3 * (2 << (b[10] & 7));
  if (i > b.length) fail('the picture ends too early');
  plan.copy(0, i);
  let images = 0;
  for (;;) {
    if (i >= b.length) fail('the picture ends too early');
    const t = b[i];
    if (t === 0x3b) { plan.copy(i, i + 1); i += 1; break; }
    if (t === 0x2c) {
      if (i + 10 > b.length) fail('the picture ends too early');
      let j = i + 10;
      if (b[i + 9] & 0x80) j += 3 * (2 << (b[i + 9] & 7));
      if (j >= b.length || b[j] < 1 || b[j] > 12) fail('an image is damaged');
      const end = subBlocksEnd(b, j + 1);
      plan.copy(i, end);
      images++;
      i = end;
    } else if (t === 0x21) {
      if (i + 2 > b.length) fail('the picture ends too early');
      const label = b[i + 1];
      const end = subBlocksEnd(b, i + 2);
      if (label === 0xf9) {
        if (b[i + 2] !== 4 || end !== i + 8) fail('a frame timing block is damaged');
        plan.copy(i, end);
      } else if (label === 0xff) {
        const id = b[i + 2] === 11 ? latin1(b, i + 3, 11) : '';
        if ((id === 'NETSCAPE2.0' || id === 'ANIMEXTS1.0') && b[i + 14] === 3 && b[i + 15] === 1 && end === i + 19) {
          plan.copy(i, end);
        } else if (id.startsWith('XMP Data')) {
          f.remove('Author, editing history and other details (XMP)');
        } else if (id.startsWith('ICCRGBG1')) {
          f.remove('Colour profile (rarely used in GIF)');
        } else {
          f.remove(`Editor or application data (${id.replace(/[^\x20-\x7e]/g, '').trim() || 'unnamed'})`);
        }
      } else if (label === 0xfe) {
        f.remove('Comment');
      } else if (label === 0x01) {
        f.remove('Text block shown only by very old viewers');
      } else {
        f.remove('Unknown extension block');
      }
      i = end;
    } else {
      fail('a block of an unknown kind');
    }
  }
  if (!images) fail('the picture has no image');
  if (i < b.length) f.remove('Hidden data after the end of the picture');
  return f;
}
