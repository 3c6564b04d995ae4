// FLAC: the metadata blocks are an allow-list; the audio frames are copied untouched.
//
// Kept: STREAMINFO (needed to decode) and SEEKTABLE (offsets of frames, which do not move).
// Removed: Vorbis comments (title, artist, dates, the encoding software), pictures, cue sheets
// (catalogue numbers), application blocks, padding (which can hold old tags), and ID3 or APE tags
// that some programs append or prepend.

import { fail, latin1, startsWith, Findings } from './util.js';

const NAMES = {
  1: 'Unused space that can hold old tags (padding)',
  2: 'Application data',
  4: 'Title, artist, dates and the encoding software (Vorbis comments)',
  5: 'Cue sheet with catalogue numbers',
  6: 'Pictures (cover art)',
};

export async function cleanFLAC(src, plan) {
  const f = new Findings();
  let head = await src.read(0, 10);
  let off = 0;
  if (startsWith(head, 'ID3')) {
    off = 10 + (((head[6] & 0x7f) << 21) | ((head[7] & 0x7f) << 14) | ((head[8] & 0x7f) << 7) | (head[9] & 0x7f));
    f.remove('Title, artist, comments, pictures and dates (ID3v2 tag)');
    head = await src.read(off, 4);
  }
  if (latin1(head, 0, 4) !== 'fLaC') fail('this is not a FLAC file');
  let i = off + 4;
  const kept = [];
  for (let n = 0; ; n++) {
    const h = await src.read(i, 4);
    if (h.length < 4) fail('the file ends too early');
    const last = h[0] & 0x80;
    const type = h[0] & 0x7f;
    const len = (h[1] << 16) | (h[2] << 8) | h[3];
    if (type === 127 || i + 4 + len > src.size) fail('a metadata block is damaged');
    if (n === 0 && (type !== 0 || len !== 34)) fail('the stream information is missing');
    if (type === 0 || type === 3) kept.push({ type, at: i, len });
    else f.remove(NAMES[type] || 'Other embedded details');
    i += 4 + len;
    if (last) break;
  }
  const audio = i;
  const sync = await src.read(audio, 2);
  if (sync.length < 2 || sync[0] !== 0xff || (sync[1] & 0xfe) !== 0xf8) fail('the audio does not start where it should');
  // Tags appended after the audio: ID3v1 (128 bytes "TAG"), APEv2 (footer "APETAGEX").
  let end = src.size;
  for (;;) {
    if (end - audio > 128) {
      const t = await src.read(end - 128, 3);
      if (latin1(t) === 'TAG') { f.remove('Title, artist and comment (ID3v1 tag)'); end -= 128; continue; }
    }
    if (end - audio > 32) {
      const t = await src.read(end - 32, 32);
      if (latin1(t, 0, 8) === 'APETAGEX') {
        const size = t[12] | (t[13] << 8) | (t[14] << 16) | (t[15] << 24);
        const hasHeader = t[23] & 0x80;
        f.remove('Title, artist and other details (APE tag)');
        end -= size + (hasHeader ? 32 : 0);
        if (end < audio) fail('a tag is damaged');
        continue;
      }
    }
    break;
  }
  plan.copy(off, off + 4);
  kept.forEach((k, n) => {
    const h = new Uint8Array(4);
    h[0] = k.type | (n === kept.length - 1 ? 0x80 : 0);
    h[1] = (k.len >> 16) & 0xff; h[2] = (k.len >> 8) & 0xff; h[3] = k.len & 0xff;
    plan.bytes(h);
    plan.copy(k.at + 4, k.at + 4 + k.len);
  });
  if (f.removed.length === 0) return f;
  plan.copy(audio, end);
  return f;
}
