// PNG and APNG: an allow-list of chunks, each checked against its CRC.
//
// Kept unchanged: IHDR, PLTE, IDAT, IEND, tRNS, the colour chunks (gAMA, cHRM, sRGB, sBIT, cICP,
// mDCv, cLLi), bKGD, hIST and the animation chunks (acTL, fcTL, fdAT), each of exactly the length
// its specification gives (SHAPE), else the file could not be checked: a kept chunk is sent as it
// is, so extra bytes in it would be details passed on. The image data (every IDAT, together)
// must be one zlib stream that ends where the data ends and unpacks to no more than the picture
// needs (checkImageData), and so must each APNG frame's (its fdAT chunks). The iCCP colour profile
// is unpacked, rebuilt by icc.js and packed again. Everything else is removed: text (tEXt, zTXt,
// iTXt, where XMP lives), eXIf, tIME, pHYs (the resolution a scanner or camera wrote), C2PA
// manifests (caBX: signer certificates, earlier versions' thumbnails), previews, private chunks,
// and anything after IEND.

import { fail, latin1, u32be, put32be, crc32, inflate, inflatedSize, deflate, Findings, concat } from './util.js';
import { exifInfo, EXIF_GPS, EXIF_PLAIN } from './exif.js';
import { cleanICC, sameBytes, ICC_LABEL } from './icc.js';

export const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const KEEP = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'sBIT', 'cICP',
  'mDCv', 'cLLi', 'bKGD', 'hIST', 'acTL', 'fcTL', 'fdAT']);

const LABELS = {
  tEXt: 'Text details such as author, software or comments (tEXt)',
  zTXt: 'Text details such as author, software or comments (zTXt)',
  iTXt: 'Text details such as author, software or comments (iTXt/XMP)',
  tIME: 'Date the picture was last changed (tIME)',
  pHYs: 'Resolution set by the scanner, camera or software (pHYs)',
  caBX: 'Content credentials (C2PA: signer, edit history, earlier versions)',
  sPLT: 'Suggested palette with its name (sPLT)',
};

// Channels per colour type (0 grey, 2 RGB, 3 palette, 4 grey and alpha, 6 RGBA) and the bit
// depths each allows.
const COLOUR = { 0: [1, [1, 2, 4, 8, 16]], 2: [3, [8, 16]], 3: [1, [1, 2, 4, 8]], 4: [2, [8, 16]], 6: [4, [8, 16]] };

function readIHDR(d) {
  if (d.length !== 13) fail('the IHDR chunk is damaged (wrong length)');
  const h = { width: u32be(d, 0), height: u32be(d, 4), depth: d[8], colourType: d[9], interlaced: d[12] === 1, palette: 0 };
  const c = COLOUR[h.colourType];
  if (!c || !c[1].includes(h.depth) || h.width === 0 || h.height === 0 || h.width > 0x7fffffff
    || h.height > 0x7fffffff || d[10] !== 0 || d[11] !== 0 || d[12] > 1) fail('the picture header is damaged');
  return h;
}

// The most the image data may unpack to here (1 GiB): a larger picture is not unpacked.
const MAX_IMAGE_DATA = 2 ** 30;

// rawSize is how many bytes the image data unpacks to (filter bytes included), Adam7 passes
// summed; more than MAX_IMAGE_DATA gives MAX_IMAGE_DATA + 1.
function rawSize(h) {
  const bits = COLOUR[h.colourType][0] * h.depth;
  const rows = (w, n) => (w === 0 || n === 0 ? 0 : n * (1 + Math.ceil((w * bits) / 8)));
  let total = 0;
  if (!h.interlaced) {
    total = rows(h.width, h.height);
  } else {
    for (const [x, y, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]) {
      if (h.width > x && h.height > y) total += rows(Math.ceil((h.width - x) / dx), Math.ceil((h.height - y) / dy));
    }
  }
  return Math.min(total, MAX_IMAGE_DATA + 1);
}

// SHAPE: whether a kept chunk's length is the one its specification (PNG 3rd edition, APNG)
// gives for this picture: PLTE only in colour pictures and once, tRNS never with an alpha
// channel, hIST only after PLTE.
const SHAPE = {
  IEND: (n) => n === 0,
  sRGB: (n) => n === 1,
  gAMA: (n) => n === 4,
  cICP: (n) => n === 4,
  cHRM: (n) => n === 32,
  mDCv: (n) => n === 24,
  cLLi: (n) => n === 8,
  acTL: (n) => n === 8,
  fcTL: (n) => n === 26,
  fdAT: (n) => n >= 4,
  IDAT: () => true,
  PLTE: (n, h) => n >= 3 && n <= 768 && n % 3 === 0 && h.palette === 0 && h.colourType !== 0 && h.colourType !== 4,
  tRNS: (n, h) => ({ 3: n >= 1 && n <= 256, 0: n === 2, 2: n === 6 })[h.colourType] || false,
  bKGD: (n, h) => n === ({ 3: 1, 0: 2, 4: 2 })[h.colourType] || (n === 6 && (h.colourType === 2 || h.colourType === 6)),
  sBIT: (n, h) => n === [1, 0, 3, 3, 2, 0, 4][h.colourType],
  hIST: (n, h) => h.palette > 0 && n === 2 * h.palette,
};

// checkImageData unpacks the image data (the IDAT chunks' data, one zlib stream) without keeping
// it: the stream must be whole, unpack to at most raw bytes and end exactly where the data ends
// (bytes after its end would be sent as they are). DecompressionStream does not say where a
// stream ended, so the data is unpacked again without its last byte: a stream that ends at the
// data's end is then cut short (its checksum is incomplete), and one that still unpacks has
// bytes after its end. (A browser that does not report a stream cut short fails every picture
// here: it warns, it never calls such a picture clean.)
async function checkImageData(idat, raw) {
  if (idat.length === 0) fail('the picture has no picture data');
  if (raw > MAX_IMAGE_DATA) fail('the picture is too large to check here');
  const n = await inflatedSize(idat, 'deflate', raw);
  if (n < 0) fail('the picture data is damaged');
  if (n > raw) fail('the picture data is longer than the picture');
  const parts = idat.filter((d) => d.length > 0);
  if (!parts.length) fail('the picture data is damaged');
  parts[parts.length - 1] = parts[parts.length - 1].subarray(0, -1);
  if (await inflatedSize(parts, 'deflate', raw) >= 0) fail('the picture data is damaged');
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  put32be(out, 0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  put32be(out, 8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export async function cleanPNG(b, plan) {
  const f = new Findings();
  plan.copy(0, 8);
  let i = 8;
  let first = true;
  let h = null;
  const idat = [];
  const frames = []; // APNG frames after the first: each fcTL's fdAT data, one zlib stream
  for (;;) {
    if (i + 12 > b.length) fail('the picture ends too early');
    const len = u32be(b, i);
    const type = latin1(b, i + 4, 4);
    const end = i + 12 + len;
    if (len > 0x7fffffff || end > b.length) fail('a chunk is cut short');
    if (!/^[A-Za-z]{4}$/.test(type)) fail('a chunk has a damaged name');
    if (crc32(b.subarray(i + 4, i + 8 + len)) !== u32be(b, i + 8 + len)) fail(`the ${type} chunk is damaged (wrong checksum)`);
    if (first && type !== 'IHDR') fail('the picture header is missing');
    const data = b.subarray(i + 8, i + 8 + len);
    if (first) h = readIHDR(data);
    else if (type === 'IHDR') fail('the picture has two headers');
    else if (KEEP.has(type) && !SHAPE[type](len, h)) fail(`the ${type} chunk is damaged (wrong length)`);
    first = false;
    if (KEEP.has(type)) {
      plan.copy(i, end);
      if (type === 'PLTE') h.palette = len / 3;
      if (type === 'IDAT') idat.push(data);
      if (type === 'fcTL') frames.push({ raw: rawSize({ ...h, width: u32be(data, 4), height: u32be(data, 8) }), data: [] });
      if (type === 'fdAT') {
        if (!frames.length) fail('the picture data is damaged');
        frames[frames.length - 1].data.push(data.subarray(4));
      }
    } else if (type === 'iCCP') {
      const z = data.indexOf(0);
      if (z < 1 || z > 79 || data[z + 1] !== 0) fail('the colour profile chunk is damaged');
      const profile = await inflate(data.subarray(z + 2), 'deflate', 16 * 1024 * 1024);
      const clean = cleanICC(profile);
      const name = 'ICC profile';
      if (!sameBytes(clean, profile) || latin1(data, 0, z) !== name) {
        f.remove(ICC_LABEL);
        const packed = await deflate(clean, 'deflate');
        plan.bytes(chunk('iCCP', concat([new TextEncoder().encode(name), new Uint8Array([0, 0]), packed])));
      } else {
        plan.copy(i, end);
      }
    } else if (type === 'eXIf') {
      f.remove(exifInfo(data).gps ? EXIF_GPS : EXIF_PLAIN);
    } else if (!(b[i + 4] & 0x20)) {
      fail(`the picture needs a part sealdrop does not know (${type})`);
    } else {
      f.remove(LABELS[type] || `Other embedded details (${type})`);
    }
    i = end;
    if (type === 'IEND') break;
  }
  await checkImageData(idat, rawSize(h));
  for (const fr of frames) if (fr.data.length) await checkImageData(fr.data, fr.raw);
  if (i < b.length) f.remove('Hidden data after the end of the picture');
  return f;
}
