// Just enough of EXIF's TIFF structure to say what a block holds (a GPS location or not) and
// which way a photo is turned, so a cleaned phone photo is not shown sideways. EXIF blocks are
// never kept: only the orientation is written again, alone.

import { u16be, u16le, u32be, u32le } from './util.js';

/** exifInfo(tiff) -> {gps: boolean, orientation: 1..8} for a TIFF header and IFD0. */
export function exifInfo(tiff) {
  const info = { gps: false, orientation: 1 };
  if (tiff.length < 8) return info;
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  const be = tiff[0] === 0x4d && tiff[1] === 0x4d;
  if (!le && !be) return info;
  const u16 = le ? u16le : u16be;
  const u32 = le ? u32le : u32be;
  const ifd = u32(tiff, 4);
  if (ifd + 2 > tiff.length) return info;
  const count = u16(tiff, ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > tiff.length) break;
    const tag = u16(tiff, e);
    if (tag === 0x8825) info.gps = true;
    if (tag === 0x0112 && u16(tiff, e + 2) === 3) {
      const v = u16(tiff, e + 8);
      if (v >= 1 && v <= 8) info.orientation = v;
    }
  }
  return info;
}

/** exifLabel names an EXIF block in plain words. */
export function exifLabel(tiff) {
  return exifInfo(tiff).gps ? EXIF_GPS : EXIF_PLAIN;
}

export const EXIF_GPS = 'GPS location and camera details (EXIF)';
export const EXIF_PLAIN = 'Camera details and date (EXIF)';
export const XMP = 'Author, editing history and other details (XMP)';

/** orientationTIFF is a minimal big-endian TIFF block holding only the orientation. */
export function orientationTIFF(orientation) {
  return new Uint8Array([
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, // big-endian TIFF header, IFD0 at 8
    0x00, 0x01, // one entry
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, orientation, 0x00, 0x00, // Orientation SHORT
    0x00, 0x00, 0x00, 0x00, // no next IFD
  ]);
}
