// The media privacy filter: every file a page sends (notes, drop submissions, chat files) goes
// through cleanFile before it is encrypted.
//
// Photos, videos, audio and documents carry details their senders rarely see: the GPS location
// and the phone that took a picture, the author and organisation of a document, the names of the
// people who commented on it, dates, editing software, earlier versions. Each format has its own
// module here that keeps only what is needed to show or play the content (an allow-list) and
// drops everything else, at the byte level: Tor Browser's "Safer" level has no canvas read-back,
// no WebAssembly and no JIT, and re-encoding would change the content anyway.
//
// Kinds are recognised by their bytes, never by a file's name or type. A file is called clean
// only when its format was fully understood; otherwise the sender gets a plain warning naming
// what may remain, and the file is sent unchanged (or with what could be removed removed).

import { Source, Plan, CleanError, Findings, latin1, startsWith, fromLatin1 } from './util.js';
import { cleanJPEG } from './jpeg.js';
import { cleanPNG, PNG_SIG } from './png.js';
import { cleanWebP } from './webp.js';
import { cleanGIF } from './gif.js';
import { cleanBMP } from './bmp.js';
import { cleanPNM } from './pnm.js';
import { tiffWarning } from './tiff.js';
import { cleanBMFF, bmffKind } from './bmff.js';
import { cleanZip, zipKind } from './zip.js';
import { cleanPDF } from './pdf.js';
import { cleanMP3, isMP3 } from './mp3.js';
import { cleanFLAC } from './flac.js';
import { cleanOgg } from './ogg.js';
import { cleanWAV } from './wav.js';
import { cleanAIFF } from './aiff.js';
import { cleanMarkup } from './xml.js';
import { cleanRTF } from './rtf.js';
import { textKind, cleanCSS } from './text.js';

/** What each kind is called on the page. */
export const KIND_NAMES = {
  jpeg: 'JPEG photo', png: 'PNG picture', webp: 'WebP picture', gif: 'GIF picture', bmp: 'BMP picture',
  pnm: 'Netpbm picture', tiff: 'TIFF or camera RAW picture', heif: 'HEIC/HEIF/AVIF photo', mp4: 'video',
  m4a: 'audio file (M4A)', video: 'video', pdf: 'PDF document', docx: 'Word document', xlsx: 'Excel spreadsheet',
  pptx: 'PowerPoint presentation', odt: 'OpenDocument text', ods: 'OpenDocument spreadsheet',
  odp: 'OpenDocument presentation', odg: 'OpenDocument drawing', zip: 'ZIP archive', epub: 'e-book (EPUB)',
  ole: 'older Microsoft Office file', mp3: 'MP3 audio', flac: 'FLAC audio', ogg: 'Ogg audio', wav: 'WAV audio',
  aiff: 'AIFF audio', svg: 'SVG picture', html: 'web page (HTML)', xml: 'XML file', rtf: 'RTF document',
  css: 'style sheet (CSS)', text: 'text file', email: 'e-mail message', postscript: 'PostScript file',
  psd: 'Photoshop file', empty: 'empty file', unknown: 'file',
};

/** File-name endings for the neutral names, by kind. */
const EXT = {
  jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', bmp: 'bmp', pnm: 'pnm', tiff: 'tif', heif: 'heic',
  mp4: 'mp4', m4a: 'm4a', pdf: 'pdf', docx: 'docx', xlsx: 'xlsx', pptx: 'pptx', odt: 'odt', ods: 'ods',
  odp: 'odp', odg: 'odg', zip: 'zip', epub: 'epub', mp3: 'mp3', flac: 'flac', ogg: 'ogg', wav: 'wav',
  aiff: 'aiff', svg: 'svg', html: 'html', xml: 'xml', rtf: 'rtf', css: 'css', text: 'txt', email: 'eml',
  postscript: 'ps', psd: 'psd',
};
const GROUP = {
  jpeg: 'photo', png: 'picture', webp: 'picture', gif: 'picture', bmp: 'picture', pnm: 'picture', tiff: 'picture',
  heif: 'photo', svg: 'picture', psd: 'picture', mp4: 'video', video: 'video', m4a: 'audio', mp3: 'audio',
  flac: 'audio', ogg: 'audio', wav: 'audio', aiff: 'audio', pdf: 'document', docx: 'document', odt: 'document',
  rtf: 'document', xlsx: 'spreadsheet', ods: 'spreadsheet', pptx: 'presentation', odp: 'presentation',
  odg: 'drawing', zip: 'archive', epub: 'book', text: 'text', html: 'page',
};

const MIME = {
  jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', bmp: 'image/bmp', tiff: 'image/tiff',
  heif: 'image/heic', mp4: 'video/mp4', m4a: 'audio/mp4', pdf: 'application/pdf', zip: 'application/zip',
  mp3: 'audio/mpeg', flac: 'audio/flac', ogg: 'audio/ogg', wav: 'audio/wav', aiff: 'audio/aiff', svg: 'image/svg+xml',
  html: 'text/html', xml: 'application/xml', rtf: 'application/rtf', css: 'text/css', text: 'text/plain',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text', ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation', odg: 'application/vnd.oasis.opendocument.graphics',
};

/**
 * neutralName gives a name that says nothing about the sender: "photo-1.jpg", "document-2.pdf".
 * @param {string} kind from cleanFile
 * @param {number} n position of the file, from 1
 */
export function neutralName(kind, n) {
  const ext = EXT[kind];
  return `${GROUP[kind] || 'file'}-${n}${ext ? '.' + ext : ''}`;
}

/** mimeType gives the media type for a kind (for a file sent under a neutral name). */
export function mimeType(kind) {
  return MIME[kind] || 'application/octet-stream';
}

// What may remain in a kind sealdrop does not clean, in plain words.
const WARN = {
  tiff: null, // tiff.js words it from the file itself
  video: 'Videos in this format (Matroska, WebM, AVI, ...) can hold the place and time they were recorded and the device used, and sealdrop cannot remove them. If you can, send an MP4 copy instead.',
  ole: 'Older Office files (.doc, .xls, .ppt) can hold the author\'s name, the organisation, comments and earlier versions, and sealdrop cannot remove them. If you can, save the file as .docx, .xlsx or .pptx (or PDF) and send that.',
  email: 'E-mail messages keep their headers: names and addresses, the servers they passed through, your computer\'s address and dates. sealdrop does not change them.',
  postscript: 'PostScript files can hold the author\'s name, the software used and dates, and sealdrop cannot remove them.',
  psd: 'Photoshop files can hold the author, the camera and GPS location, layers and earlier versions, and sealdrop cannot remove them. Export a JPEG or PNG copy instead.',
  epub: 'E-books hold the author, publisher and dates in their package, and sealdrop does not remove them.',
  unknown: 'sealdrop does not know this kind of file, so it cannot check it for hidden details such as names, dates or locations.',
};

const MAX_TEXT = 64 * 1024 * 1024;

function isTextLike(b) {
  const n = Math.min(b.length, 65536);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i];
    if (c === 0) return false;
    if (c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27) bad++;
  }
  return bad * 100 <= n;
}

/**
 * detect names a file's kind from its first bytes (and, for text, its contents).
 * @param {Uint8Array} b the first 64 KiB or more of the file
 * @returns {string}
 */
export function detect(b) {
  if (b.length === 0) return 'empty';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, PNG_SIG)) return 'png';
  if (startsWith(b, 'GIF87a') || startsWith(b, 'GIF89a')) return 'gif';
  if (startsWith(b, 'RIFF') && b.length >= 12) {
    const sub = latin1(b, 8, 4);
    if (sub === 'WEBP') return 'webp';
    if (sub === 'WAVE') return 'wav';
    return 'video'; // AVI and other RIFF forms
  }
  if (startsWith(b, 'RF64') || startsWith(b, 'BW64')) return 'video';
  if (startsWith(b, 'FORM') && (latin1(b, 8, 4) === 'AIFF' || latin1(b, 8, 4) === 'AIFC')) return 'aiff';
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])
    || startsWith(b, [0x49, 0x49, 0x2b, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2b])
    || startsWith(b, 'IIRO') || startsWith(b, 'IIU\0') || startsWith(b, 'FUJIFILMCCD-RAW')) return 'tiff';
  const bm = bmffKind(b);
  if (bm) return bm;
  if (startsWith(b, [0x1a, 0x45, 0xdf, 0xa3]) || startsWith(b, [0x30, 0x26, 0xb2, 0x75]) || startsWith(b, 'FLV')) return 'video';
  if (startsWith(b, '%PDF-')) return 'pdf';
  if (startsWith(b, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'ole';
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04]) || startsWith(b, [0x50, 0x4b, 0x05, 0x06])) return zipKind(b);
  if (startsWith(b, 'fLaC')) return 'flac';
  if (startsWith(b, 'OggS')) return 'ogg';
  if (startsWith(b, 'ID3') || isMP3(b)) return 'mp3';
  if (startsWith(b, '8BPS')) return 'psd';
  if (startsWith(b, 'BM') && b.length >= 26) return 'bmp';
  if (b[0] === 0x50 && b[1] >= 0x31 && b[1] <= 0x37 && (b[2] === 0x0a || b[2] === 0x20 || b[2] === 0x0d || b[2] === 0x09 || b[2] === 0x23)) return 'pnm';
  if (startsWith(b, [0xc5, 0xd0, 0xd3, 0xc6])) return 'postscript';
  if (startsWith(b, [0xff, 0xfe]) || startsWith(b, [0xfe, 0xff])) return 'text16';
  if (isTextLike(b)) return textKind(latin1(b, 0, Math.min(b.length, 65536)));
  return 'unknown';
}

// Cleaners that need the whole file in memory get (bytes, plan); the others get (src, plan).
const WHOLE = { jpeg: cleanJPEG, png: cleanPNG, webp: cleanWebP, gif: cleanGIF, bmp: cleanBMP, pnm: cleanPNM, pdf: cleanPDF };
const STREAMED = { heif: cleanBMFF, mp4: cleanBMFF, m4a: cleanBMFF, mp3: cleanMP3, flac: cleanFLAC, ogg: cleanOgg, wav: cleanWAV, aiff: cleanAIFF };
const TEXT = new Set(['svg', 'html', 'xml', 'rtf', 'css']);
const ZIPS = new Set(['docx', 'xlsx', 'pptx', 'odt', 'ods', 'odp', 'odg', 'zip']);

// nested cleans a file found inside another (a picture in a document, a member of an archive).
// depth bounds archives inside archives.
export async function cleanBytes(bytes, depth = 0) {
  const r = await run(new Source(bytes), depth);
  const out = r.plan ? await r.plan.toBytes() : bytes;
  return { bytes: out, kind: r.kind, findings: r.findings, failed: r.failed };
}

async function run(src, depth) {
  const head = await src.read(0, Math.min(src.size, 65536));
  let kind = detect(head);
  const findings = new Findings();
  if (kind === 'empty' || kind === 'text') return { kind, findings, plan: null };
  if (kind === 'text16') {
    // UTF-16 text: plain text is clean; markup, RTF or CSS in UTF-16 is not rewritten.
    const s = new TextDecoder(head[0] === 0xff ? 'utf-16le' : 'utf-16be').decode(head);
    if (textKind(s.replace(/^\uFEFF/, '')) === 'text') return { kind: 'text', findings, plan: null };
    findings.remain('This text file is in UTF-16 and holds markup, RTF or CSS, whose comments and metadata sealdrop does not remove in UTF-16. Save it as UTF-8 and send that instead.');
    return { kind: 'text', findings, plan: null, unsupported: true };
  }
  const nested = depth < 4 ? (bytes) => cleanBytes(bytes, depth + 1) : null;
  try {
    const plan = new Plan(src);
    if (WHOLE[kind]) {
      findings.merge(await WHOLE[kind](await src.all(), plan, { nested }));
    } else if (STREAMED[kind]) {
      findings.merge(await STREAMED[kind](src, plan, { nested }));
    } else if (ZIPS.has(kind)) {
      const r = await cleanZip(src, plan, { nested: nested || ((b) => cleanBytes(b, 99)), kind });
      kind = r.kind || kind;
      findings.merge(r.findings);
    } else if (TEXT.has(kind)) {
      if (src.size > MAX_TEXT) throw new CleanError('the file is too large to check here');
      const s = latin1(await src.all());
      const r = kind === 'rtf' ? await cleanRTF(s, nested)
        : kind === 'css' ? cleanCSS(s)
          : await cleanMarkup(s, kind === 'html' ? 'html' : 'xml', nested);
      findings.merge(r.findings);
      plan.bytes(fromLatin1(r.text));
    } else {
      findings.remain(kind === 'tiff' ? tiffWarning(head) : (WARN[kind] || WARN.unknown));
      return { kind, findings, plan: null, unsupported: true };
    }
    return { kind, findings, plan: findings.removed.length ? plan : null };
  } catch (e) {
    if (!(e instanceof CleanError)) {
      // A parser bug or a browser error must never let a file pass as clean.
      return { kind, findings: new Findings(), plan: null, failed: 'sealdrop could not read it' };
    }
    return { kind, findings: new Findings(), plan: null, failed: e.message };
  }
}

/**
 * cleanFile removes hidden details (metadata) from a file before it is encrypted.
 *
 * @param {Blob|Uint8Array} file
 * @returns {Promise<{kind: string, what: string, status: 'clean'|'cleaned'|'warn', removed: string[],
 *   remains: string[], warning?: string, blob: Blob}>}
 *   status: clean (understood, nothing to remove), cleaned (understood, details removed), warn
 *   (not fully understood: warning says what may remain). blob: what to send; the original
 *   itself when nothing was removed. Never throws for a file's contents.
 */
export async function cleanFile(file) {
  const blob = file instanceof Uint8Array ? new Blob([file]) : file;
  const src = new Source(blob);
  const r = await run(src, 0);
  const what = KIND_NAMES[r.kind] || KIND_NAMES.unknown;
  const out = { kind: r.kind, what, removed: r.findings.removed, remains: r.findings.remains, blob: r.plan ? r.plan.toBlob() : blob };
  if (r.failed) {
    out.status = 'warn';
    out.warning = `This ${what} could not be checked (${r.failed}), so hidden details such as names, dates or locations may remain. It will be sent unchanged.`;
  } else if (out.remains.length) {
    out.status = 'warn';
    out.warning = r.unsupported ? out.remains.join(' ') : `Could not be removed: ${out.remains.join('; ')}.`;
  } else {
    out.status = out.removed.length ? 'cleaned' : 'clean';
  }
  return out;
}
