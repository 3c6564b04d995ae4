// Metadata stripping in the sender's browser, before anything is encrypted.
//
// Photos often carry the place they were taken (GPS), the camera or phone and its serial number,
// the owner's name and the date. This module removes those parts at the byte level: Tor Browser
// blocks canvas read-back, and re-encoding would change the picture anyway. The image data itself
// is copied untouched. File types are recognised by their first bytes, never by their names.
//
// What it does not do: clean PDF, Office, HEIC/HEIF, TIFF/RAW, audio or video files. For those it
// says plainly that hidden details may remain.

const utf8 = new TextDecoder('utf-8', { fatal: false });

function ascii(bytes, start, len) {
  if (start < 0 || start + len > bytes.length) return '';
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(bytes[start + i]);
  return s;
}

function startsWith(bytes, sig, at = 0) {
  if (bytes.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[at + i] !== sig[i]) return false;
  return true;
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function unique(list) {
  return [...new Set(list)];
}

class StripError extends Error {}

// ---------- JPEG ----------

const JPEG_EXIF_GPS = 'GPS location and camera details (EXIF)';
const JPEG_EXIF = 'Camera details and date (EXIF)';

// exifInfo reads just enough of a TIFF structure to tell whether it holds a GPS block and which
// way the picture is turned, so the report can say "GPS location" and the photo stays upright.
function exifInfo(tiff) {
  const info = { gps: false, orientation: 1 };
  if (tiff.length < 8) return info;
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  const be = tiff[0] === 0x4d && tiff[1] === 0x4d;
  if (!le && !be) return info;
  const u16 = (o) => (le ? tiff[o] | (tiff[o + 1] << 8) : (tiff[o] << 8) | tiff[o + 1]);
  const u32 = (o) => (le
    ? (tiff[o] | (tiff[o + 1] << 8) | (tiff[o + 2] << 16)) + tiff[o + 3] * 0x1000000
    : tiff[o] * 0x1000000 + ((tiff[o + 1] << 16) | (tiff[o + 2] << 8) | tiff[o + 3]));
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return info;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > tiff.length) break;
    const tag = u16(e);
    if (tag === 0x8825) info.gps = true;
    if (tag === 0x0112 && u16(e + 2) === 3) {
      const v = u16(e + 8);
      if (v >= 1 && v <= 8) info.orientation = v;
    }
  }
  return info;
}

// A minimal EXIF block holding only the orientation, so a phone photo is not shown sideways.
function orientationSegment(orientation) {
  const body = [
    0x45, 0x78, 0x69, 0x66, 0x00, 0x00, // "Exif\0\0"
    0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, // big-endian TIFF header, IFD0 at 8
    0x00, 0x01, // one entry
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, orientation, 0x00, 0x00, // Orientation SHORT
    0x00, 0x00, 0x00, 0x00, // no next IFD
  ];
  const len = body.length + 2;
  return new Uint8Array([0xff, 0xe1, len >> 8, len & 0xff, ...body]);
}

// jpegVerdict decides, for one marker segment, whether it is kept and what to call it if not.
// Kept: JFIF (APP0), ICC colour profile (APP2) and Adobe colour transform (APP14), which decoders
// need to show the right colours, and every non-APP segment (tables, frame and scan headers).
function jpegVerdict(marker, seg) {
  const id = ascii(seg, 0, Math.min(seg.length, 32));
  if (marker === 0xfe) return { keep: false, label: 'Comment' };
  if (marker === 0xe0) {
    if (id.startsWith('JFIF\0')) return { keep: true };
    return { keep: false, label: 'Embedded preview or other data (APP0)' };
  }
  if (marker === 0xe1) {
    if (id.startsWith('Exif\0')) {
      const info = exifInfo(seg.subarray(6));
      return { keep: false, label: info.gps ? JPEG_EXIF_GPS : JPEG_EXIF, orientation: info.orientation };
    }
    if (id.startsWith('http://ns.adobe.com/xap/1.0/') || id.startsWith('http://ns.adobe.com/xmp/extension/')) {
      return { keep: false, label: 'Author, editing history and other details (XMP)' };
    }
    return { keep: false, label: 'Other embedded details (APP1)' };
  }
  if (marker === 0xe2) {
    if (id.startsWith('ICC_PROFILE\0')) return { keep: true };
    if (id.startsWith('MPF\0')) return { keep: false, label: 'Extra embedded pictures (MPF)' };
    return { keep: false, label: 'Other embedded details (APP2)' };
  }
  if (marker === 0xed) return { keep: false, label: 'Author, caption and place names (IPTC/Photoshop)' };
  if (marker === 0xee) {
    if (id.startsWith('Adobe')) return { keep: true };
    return { keep: false, label: 'Other embedded details (APP14)' };
  }
  if (marker >= 0xe3 && marker <= 0xef) {
    return { keep: false, label: `Other embedded details (APP${marker - 0xe0})` };
  }
  return { keep: true };
}

function stripJPEG(b) {
  const parts = [b.subarray(0, 2)];
  const removed = [];
  let orientation = 1;
  let i = 2;
  let sawScan = false;
  let exifAt = -1; // where a replacement orientation block goes
  for (;;) {
    if (i >= b.length) throw new StripError('the picture ends too early');
    if (b[i] !== 0xff) {
      // Entropy-coded data after a scan header: copy up to the next real marker. indexOf is
      // native, so this stays fast when the JavaScript JIT is off (Tor Browser "Safer").
      if (!sawScan) throw new StripError('unexpected bytes between segments');
      let j = i;
      for (;;) {
        j = b.indexOf(0xff, j);
        if (j < 0 || j + 1 >= b.length) throw new StripError('the picture ends too early');
        const m = b[j + 1];
        if (m === 0x00 || (m >= 0xd0 && m <= 0xd7)) { j += 2; continue; }
        if (m === 0xff) { j += 1; continue; }
        break;
      }
      parts.push(b.subarray(i, j));
      i = j;
      continue;
    }
    const marker = b[i + 1];
    if (marker === 0xff) { parts.push(b.subarray(i, i + 1)); i += 1; continue; } // fill byte
    if (marker === 0xd9) { // end of image: anything after it (extra pictures, trailers) is dropped
      parts.push(b.subarray(i, i + 2));
      i += 2;
      if (i < b.length) removed.push('Hidden data after the end of the picture');
      break;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { parts.push(b.subarray(i, i + 2)); i += 2; continue; }
    if (i + 4 > b.length) throw new StripError('the picture ends too early');
    const len = (b[i + 2] << 8) | b[i + 3];
    if (len < 2 || i + 2 + len > b.length) throw new StripError('a segment is cut short');
    const seg = b.subarray(i + 4, i + 2 + len);
    const v = jpegVerdict(marker, seg);
    if (v.keep) {
      parts.push(b.subarray(i, i + 2 + len));
      if (marker === 0xe0 && exifAt < 0) exifAt = parts.length;
    } else {
      removed.push(v.label);
      if (v.orientation && v.orientation !== 1) orientation = v.orientation;
    }
    if (marker === 0xda) sawScan = true;
    i += 2 + len;
  }
  if (removed.length === 0) return { bytes: b, removed };
  if (orientation !== 1) {
    // After JFIF if present (JFIF must come first), else right after the start marker.
    parts.splice(exifAt >= 0 ? exifAt : 1, 0, orientationSegment(orientation));
  }
  return { bytes: concat(parts), removed };
}

// ---------- PNG ----------

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_DROP = {
  tEXt: 'Text details such as author, software or comments (tEXt)',
  zTXt: 'Text details such as author, software or comments (zTXt)',
  iTXt: 'Text details such as author, software or comments (iTXt/XMP)',
  eXIf: 'Camera details, date and possibly GPS location (EXIF)',
  tIME: 'Date the picture was last changed (tIME)',
};

function stripPNG(b) {
  const parts = [b.subarray(0, 8)];
  const removed = [];
  let i = 8;
  for (;;) {
    if (i + 12 > b.length) throw new StripError('the picture ends too early');
    const len = b[i] * 0x1000000 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
    const type = ascii(b, i + 4, 4);
    const end = i + 12 + len;
    if (end > b.length) throw new StripError('a chunk is cut short');
    if (type === 'eXIf') {
      const info = exifInfo(b.subarray(i + 8, i + 8 + len));
      removed.push(info.gps ? JPEG_EXIF_GPS : PNG_DROP.eXIf);
    } else if (PNG_DROP[type]) {
      removed.push(PNG_DROP[type]);
    } else {
      parts.push(b.subarray(i, end)); // copied with its own CRC, untouched
    }
    i = end;
    if (type === 'IEND') {
      if (i < b.length) removed.push('Hidden data after the end of the picture');
      break;
    }
  }
  if (removed.length === 0) return { bytes: b, removed };
  return { bytes: concat(parts), removed };
}

// ---------- WebP ----------

function stripWebP(b) {
  const riffSize = b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] * 0x1000000);
  const end = 8 + riffSize;
  if (end > b.length || riffSize < 4) throw new StripError('the picture ends too early');
  const parts = [];
  const removed = [];
  let vp8x = null;
  let i = 12;
  while (i < end) {
    if (i + 8 > end) throw new StripError('a chunk is cut short');
    const type = ascii(b, i, 4);
    const len = b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] * 0x1000000);
    const next = i + 8 + len + (len & 1);
    if (i + 8 + len > end) throw new StripError('a chunk is cut short');
    if (type === 'EXIF') {
      const data = b.subarray(i + 8, i + 8 + len);
      // Some writers keep the JPEG-style "Exif\0\0" prefix in front of the TIFF header.
      const tiff = startsWith(data, [0x45, 0x78, 0x69, 0x66, 0, 0]) ? data.subarray(6) : data;
      removed.push(exifInfo(tiff).gps ? JPEG_EXIF_GPS : 'Camera details and date (EXIF)');
    } else if (type === 'XMP ') {
      removed.push('Author, editing history and other details (XMP)');
    } else {
      // Only VP8X is changed (its flags), so only it is copied; the image data is shared.
      const chunk = type === 'VP8X' ? b.slice(i, next) : b.subarray(i, Math.min(next, end));
      if (type === 'VP8X' && len >= 10) vp8x = chunk;
      parts.push(chunk);
    }
    i = next;
  }
  if (end < b.length) removed.push('Hidden data after the end of the picture');
  if (removed.length === 0) return { bytes: b, removed };
  if (vp8x) vp8x[8] &= ~(0x08 | 0x04); // clear the "has EXIF" and "has XMP" flags
  const body = concat(parts);
  const out = new Uint8Array(12 + body.length);
  out.set(b.subarray(0, 12), 0);
  const size = 4 + body.length;
  out[4] = size & 0xff; out[5] = (size >>> 8) & 0xff; out[6] = (size >>> 16) & 0xff; out[7] = (size >>> 24) & 0xff;
  out.set(body, 12);
  return { bytes: out, removed };
}

// ---------- recognising files ----------

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis']);

const WARN = {
  heif: 'This photo format (HEIC/HEIF) can hold the GPS location and the phone that took it, '
    + 'and sealdrop cannot remove them. If you can, send a JPEG or PNG copy instead.',
  tiff: 'This picture format (TIFF or camera RAW) can hold the GPS location and camera details, '
    + 'and sealdrop cannot remove them.',
  video: 'Videos can hold the place and time they were recorded and the device used, '
    + 'and sealdrop cannot remove them.',
  audio: 'Audio files can hold names, dates and the device used, and sealdrop cannot remove them.',
  pdf: 'PDF files can hold the author\'s name, the software used and dates, '
    + 'and sealdrop cannot remove them.',
  office: 'Office documents can hold the author\'s name, the organisation, tracked changes and dates, '
    + 'and sealdrop cannot remove them.',
  zip: 'The files inside this archive are not checked: they may hold names, dates or locations.',
  gif: 'GIF pictures can hold comments, and sealdrop cannot remove them.',
  unknown: 'sealdrop does not know this kind of file, so it cannot check it for hidden details '
    + 'such as names, dates or locations.',
};

function isText(b) {
  const n = Math.min(b.length, 4096);
  for (let i = 0; i < n; i++) if (b[i] === 0) return false;
  const s = utf8.decode(b.subarray(0, n));
  // A cut multi-byte character at the end of the sample is fine; anything else is not text.
  const bad = s.indexOf('\uFFFD');
  return bad < 0 || bad >= s.length - 1;
}

/**
 * detect names a file's kind from its first bytes.
 * @param {Uint8Array} b
 * @returns {string} jpeg, png, webp, heif, tiff, video, audio, pdf, office, zip, gif, text, empty or unknown
 */
export function detect(b) {
  if (b.length === 0) return 'empty';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, PNG_SIG)) return 'png';
  if (ascii(b, 0, 4) === 'RIFF') {
    const sub = ascii(b, 8, 4);
    if (sub === 'WEBP') return 'webp';
    if (sub === 'AVI ') return 'video';
    if (sub === 'WAVE') return 'audio';
  }
  if (ascii(b, 4, 4) === 'ftyp') {
    const brand = ascii(b, 8, 4);
    if (HEIF_BRANDS.has(brand)) return 'heif';
    if (brand.startsWith('M4A') || brand === 'M4B ') return 'audio';
    return 'video';
  }
  if (startsWith(b, [0x1a, 0x45, 0xdf, 0xa3])) return 'video'; // Matroska / WebM
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (ascii(b, 0, 5) === '%PDF-') return 'pdf';
  if (startsWith(b, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'office';
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04])) {
    // OOXML names [Content_Types].xml or word/ etc.; OpenDocument starts with a "mimetype" entry.
    const head = ascii(b, 0, Math.min(b.length, 2048));
    if (head.includes('[Content_Types].xml') || head.includes('word/') || head.includes('xl/')
      || head.includes('ppt/') || head.includes('application/vnd.oasis.opendocument')) return 'office';
    return 'zip';
  }
  if (ascii(b, 0, 3) === 'ID3' || startsWith(b, [0xff, 0xfb]) || ascii(b, 0, 4) === 'OggS'
    || ascii(b, 0, 4) === 'fLaC') return 'audio';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (isText(b)) return 'text';
  return 'unknown';
}

/**
 * strip removes hidden details (metadata) from a file's bytes.
 *
 * @param {Uint8Array} bytes the file as read from disk; never modified
 * @returns {{bytes: Uint8Array, kind: string, removed: string[], cleanable: boolean, warning?: string}}
 *   bytes: what to send (the input itself when nothing was removed); removed: plain descriptions
 *   of what was taken out; cleanable: whether this kind of file can be cleaned here; warning: a
 *   plain sentence for the sender when hidden details may remain.
 */
export function strip(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const kind = detect(b);
  const cleaners = { jpeg: stripJPEG, png: stripPNG, webp: stripWebP };
  const clean = cleaners[kind];
  if (clean) {
    try {
      const r = clean(b);
      return { bytes: r.bytes, kind, removed: unique(r.removed), cleanable: true };
    } catch (e) {
      if (!(e instanceof StripError)) throw e;
      return {
        bytes: b, kind, removed: [], cleanable: false,
        warning: `This picture could not be checked (${e.message}), so hidden details such as `
          + 'the GPS location may remain.',
      };
    }
  }
  if (kind === 'text' || kind === 'empty') return { bytes: b, kind, removed: [], cleanable: true };
  return { bytes: b, kind, removed: [], cleanable: false, warning: WARN[kind] || WARN.unknown };
}
