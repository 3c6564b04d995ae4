// PNG and APNG: an allow-list of chunks, each checked against its CRC.
//
// Kept unchanged: IHDR, PLTE, IDAT, IEND, tRNS, the colour chunks (gAMA, cHRM, sRGB, sBIT, cICP,
// mDCv, cLLi), bKGD, hIST and the animation chunks (acTL, fcTL, fdAT). The iCCP colour profile
// is unpacked, rebuilt by icc.js and packed again. Everything else is removed: text (tEXt, zTXt,
// iTXt, where XMP lives), eXIf, tIME, pHYs (the resolution a scanner or camera wrote), C2PA
// manifests (caBX: signer certificates, earlier versions' thumbnails), previews, private chunks,
// and anything after IEND.

import { fail, latin1, u32be, put32be, crc32, inflate, deflate, Findings, concat } from './util.js';
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
  for (;;) {
    if (i + 12 > b.length) fail('the picture ends too early');
    const len = u32be(b, i);
    const type = latin1(b, i + 4, 4);
    const end = i + 12 + len;
    if (len > 0x7fffffff || end > b.length) fail('a chunk is cut short');
    if (!/^[A-Za-z]{4}$/.test(type)) fail('a chunk has a damaged name');
    if (crc32(b.subarray(i + 4, i + 8 + len)) !== u32be(b, i + 8 + len)) fail(`the ${type} chunk is damaged (wrong checksum)`);
    if (first && type !== 'IHDR') fail('the picture header is missing');
    first = false;
    const data = b.subarray(i + 8, i + 8 + len);
    if (KEEP.has(type)) {
      plan.copy(i, end);
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
  if (i < b.length) f.remove('Hidden data after the end of the picture');
  return f;
}
