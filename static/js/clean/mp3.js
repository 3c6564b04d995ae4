// MP3: the audio frames are walked from the first to the last, and only they are kept.
//
// Removed: ID3v2 tags (at the start, or appended), ID3v1 and Enhanced ID3v1, APEv2 and Lyrics3
// tags (title, artist, comments, pictures, recording dates, the encoding person or software's
// notes). The first frame may be a Xing/Info/VBRI header: it is audio-format data (seeking,
// gapless playback) and is kept. Anything else between frames makes the file "not understood".

import { fail, latin1, startsWith, Findings } from './util.js';

const BITRATES = {
  // [version 1 | 2 (and 2.5)][layer 1..3]
  '1,1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1,2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1,3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2,1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2,2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2,3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** frameLength of the MPEG audio frame header at b[i], or 0 if there is none. */
export function frameLength(b, i) {
  if (i + 4 > b.length || b[i] !== 0xff || (b[i + 1] & 0xe0) !== 0xe0) return 0;
  const ver = (b[i + 1] >> 3) & 3; // 3: MPEG1, 2: MPEG2, 0: MPEG2.5
  const layerBits = (b[i + 1] >> 1) & 3;
  const br = b[i + 2] >> 4;
  const sr = (b[i + 2] >> 2) & 3;
  if (ver === 1 || layerBits === 0 || br === 0 || br === 15 || sr === 3) return 0;
  const layer = 4 - layerBits;
  const kbps = BITRATES[`${ver === 3 ? 1 : 2},${layer}`][br];
  const rate = RATES[ver][sr];
  const pad = (b[i + 2] >> 1) & 1;
  if (layer === 1) return Math.floor((12 * kbps * 1000) / rate + pad) * 4;
  const k = layer === 3 && ver !== 3 ? 72 : 144;
  return Math.floor((k * kbps * 1000) / rate) + pad;
}

/** isMP3 tells whether bytes start with two consecutive MPEG audio frames. */
export function isMP3(b) {
  const n = frameLength(b, 0);
  return n > 0 && frameLength(b, n) > 0;
}

const syncsafe = (b, o) => ((b[o] & 0x7f) << 21) | ((b[o + 1] & 0x7f) << 14) | ((b[o + 2] & 0x7f) << 7) | (b[o + 3] & 0x7f);

export async function cleanMP3(src, plan) {
  const f = new Findings();
  const b = await src.all();
  let i = 0;
  while (startsWith(b, 'ID3', i)) {
    if (i + 10 > b.length) fail('a tag is cut short');
    const size = syncsafe(b, i + 6) + 10 + (b[i + 5] & 0x10 ? 10 : 0);
    f.remove('Title, artist, comments, pictures and dates (ID3v2 tag)');
    i += size;
  }
  // Some files pad with zeros after the tag.
  while (i < b.length && b[i] === 0) i++;
  const start = i;
  let frames = 0;
  let end = b.length;
  for (;;) {
    if (i >= end) break;
    const n = frameLength(b, i);
    if (n > 0 && i + n <= end) { i += n; frames++; continue; }
    // Tags at the end: ID3v1 (and its enhanced block), APEv2, Lyrics3, an appended ID3v2.
    const rest = b.length - i;
    if (startsWith(b, 'TAG', i) && rest === 128) { f.remove('Title, artist and comment (ID3v1 tag)'); end = i; break; }
    if (startsWith(b, 'TAG+', i)) { f.remove('Title, artist and comment (ID3v1 tag)'); end = i; break; }
    if (startsWith(b, 'APETAGEX', i)) { f.remove('Title, artist and other details (APE tag)'); end = i; break; }
    if (startsWith(b, 'LYRICSBEGIN', i)) { f.remove('Lyrics and details (Lyrics3 tag)'); end = i; break; }
    if (startsWith(b, 'ID3', i)) { f.remove('Title, artist, comments, pictures and dates (ID3v2 tag)'); end = i; break; }
    if (b.subarray(i).every((x) => x === 0)) { end = i; break; }
    if (n > 0) fail('the last audio frame is cut short');
    fail('unknown data between audio frames');
  }
  if (frames < 1) fail('no audio frames');
  // A trailing ID3v1 tag is checked after the frames: the walk above stops at it.
  if (end === b.length && b.length - start >= 128 && latin1(b, b.length - 128, 3) === 'TAG') end = b.length - 128;
  plan.copy(start, end);
  return f;
}
