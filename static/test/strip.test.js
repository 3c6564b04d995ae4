// Tests for static/js/strip.js: run with `node --test static/test/`.
// The fixtures were made with ImageMagick, cwebp and exiftool (see fixtures/README.md); exiftool
// is also used here, as an independent reader, to show the planted details are gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { strip, detect } from '../js/strip.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name) => new Uint8Array(readFileSync(join(here, 'fixtures', name)));
const tmp = mkdtempSync(join(tmpdir(), 'sealdrop-strip-'));

// The values planted by exiftool in the fixtures. None may survive stripping.
const PLANTED = ['CanonSecret', 'EOS-Leak-5D', 'SN123456789', 'Jane Source', 'safehouse',
  'Hiddenville', 'LeakyCam', 'secret place', '2024:03:01'];

function haveTool(path, args) {
  try { execFileSync(path, args, { stdio: 'ignore' }); return true; } catch { return false; }
}
const EXIFTOOL = haveTool('exiftool', ['-ver']);
const MAGICK = existsSync('/usr/bin/convert-im6.q16') ? '/usr/bin/convert-im6.q16' : null;

function exif(bytes, name) {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return JSON.parse(execFileSync('exiftool', ['-j', '-a', '-G1', '-n', p], { encoding: 'utf8' }))[0];
}

function assertClean(out, name) {
  const meta = exif(out, 'out-' + name);
  const text = JSON.stringify(meta);
  for (const v of PLANTED) assert.ok(!text.includes(v), `${name}: "${v}" survived: ${text}`);
  for (const k of Object.keys(meta)) assert.ok(!/GPS/i.test(k), `${name}: ${k} survived`);
  assert.equal(meta['ExifTool:Warning'], undefined, `${name}: exiftool warns: ${meta['ExifTool:Warning']}`);
  return meta;
}

function assertPlanted(input, name) {
  // Control: the fixture really carries the details, so the cleaning test can fail.
  const text = JSON.stringify(exif(input, 'in-' + name));
  for (const v of ['CanonSecret', 'EOS-Leak-5D']) assert.ok(text.includes(v), `${name} fixture lacks ${v}`);
  assert.ok(/GPS/.test(text), `${name} fixture lacks GPS`);
}

function pixels(bytes, name) {
  const p = join(tmp, 'px-' + name);
  writeFileSync(p, bytes);
  return execFileSync(MAGICK, [p, 'rgba:-']);
}

// jpegScan returns the bytes from the first SOS marker to the end of EOI, found by walking the
// segment headers independently of strip.js.
function jpegScan(b) {
  let i = 2;
  while (b[i] === 0xff && b[i + 1] !== 0xda) i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  assert.equal(b[i + 1], 0xda, 'no SOS found');
  let end = b.length;
  while (!(b[end - 2] === 0xff && b[end - 1] === 0xd9)) end--;
  return b.subarray(i, end);
}

function pngChunks(b) {
  const out = [];
  for (let i = 8; i < b.length;) {
    const len = new DataView(b.buffer, b.byteOffset).getUint32(i);
    out.push({ type: String.fromCharCode(...b.subarray(i + 4, i + 8)), raw: b.subarray(i, i + 12 + len) });
    i += 12 + len;
  }
  return out;
}

function webpChunks(b) {
  const dv = new DataView(b.buffer, b.byteOffset);
  const out = [];
  for (let i = 12; i < b.length;) {
    const len = dv.getUint32(i + 4, true);
    out.push({ type: String.fromCharCode(...b.subarray(i, i + 4)), raw: b.subarray(i, i + 8 + len) });
    i += 8 + len + (len & 1);
  }
  return { size: dv.getUint32(4, true), chunks: out };
}

test('JPEG: EXIF with GPS, XMP, IPTC and comment removed; scan data, ICC and JFIF kept', { skip: !EXIFTOOL && 'exiftool missing (apt-get install libimage-exiftool-perl)' }, () => {
  const input = fixture('gps.jpg');
  assertPlanted(input, 'gps.jpg');
  const r = strip(input);
  assert.equal(r.kind, 'jpeg');
  assert.equal(r.cleanable, true);
  assert.equal(r.warning, undefined);
  assert.ok(r.removed.includes('GPS location and camera details (EXIF)'), r.removed.join('; '));
  assert.ok(r.removed.some((s) => s.includes('XMP')));
  assert.ok(r.removed.some((s) => s.includes('IPTC')));
  assert.ok(r.removed.includes('Comment'));
  assert.ok(r.bytes.length < input.length);
  assert.deepEqual(jpegScan(r.bytes), jpegScan(input), 'image data changed');
  const meta = assertClean(r.bytes, 'gps.jpg');
  assert.equal(meta['ICC_Profile:ProfileDescription'], 'Artifex Software sRGB ICC Profile');
  assert.ok(meta['JFIF:JFIFVersion'] !== undefined, 'JFIF header lost');
  if (MAGICK) assert.deepEqual(pixels(r.bytes, 'a.jpg'), pixels(input, 'b.jpg'));
});

test('JPEG: progressive scans kept, orientation kept alone', { skip: !EXIFTOOL && 'exiftool missing' }, () => {
  const input = fixture('prog.jpg');
  assertPlanted(input, 'prog.jpg');
  const r = strip(input);
  assert.ok(r.removed.includes('GPS location and camera details (EXIF)'));
  assert.deepEqual(jpegScan(r.bytes), jpegScan(input));
  const meta = assertClean(r.bytes, 'prog.jpg');
  assert.equal(meta['IFD0:Orientation'], 6);
  if (MAGICK) assert.deepEqual(pixels(r.bytes, 'c.jpg'), pixels(input, 'd.jpg'));
});

test('JPEG: data after the end of the picture (extra images with their own EXIF) dropped', { skip: !EXIFTOOL && 'exiftool missing' }, () => {
  const one = fixture('gps.jpg');
  const input = new Uint8Array(one.length * 2);
  input.set(one, 0);
  input.set(one, one.length);
  const r = strip(input);
  assert.ok(r.removed.includes('Hidden data after the end of the picture'));
  assert.deepEqual(r.bytes, strip(one).bytes);
  const bin = Buffer.from(r.bytes).toString('latin1');
  for (const v of PLANTED) assert.ok(!bin.includes(v), `${v} survived in raw bytes`);
});

test('JPEG: stripping is idempotent and a clean file is returned as is', () => {
  const once = strip(fixture('gps.jpg')).bytes;
  const twice = strip(once);
  assert.deepEqual(twice.removed, []);
  assert.equal(twice.bytes, once);
  assert.equal(twice.cleanable, true);
});

test('JPEG: a broken file is not claimed clean', () => {
  const input = fixture('gps.jpg');
  for (const cut of [3, 20, 100, 3000]) {
    const r = strip(input.subarray(0, cut));
    assert.equal(r.cleanable, false, `cut ${cut}`);
    assert.match(r.warning, /could not be checked/);
    assert.equal(r.bytes.length, cut);
  }
});

test('PNG: tEXt, iTXt (XMP), eXIf and tIME removed; IDAT and other chunks byte-identical', { skip: !EXIFTOOL && 'exiftool missing' }, () => {
  const input = fixture('gps.png');
  assertPlanted(input, 'gps.png');
  const r = strip(input);
  assert.equal(r.kind, 'png');
  assert.ok(r.removed.includes('GPS location and camera details (EXIF)'), r.removed.join('; '));
  assert.ok(r.removed.some((s) => s.includes('tIME')));
  const before = pngChunks(input);
  const after = pngChunks(r.bytes);
  const keep = (c) => !['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME'].includes(c.type);
  assert.deepEqual(after.map((c) => c.type), before.filter(keep).map((c) => c.type));
  assert.deepEqual(after.map((c) => c.raw), before.filter(keep).map((c) => c.raw));
  assert.ok(after.some((c) => c.type === 'IDAT') && after.some((c) => c.type === 'iCCP'));
  for (const c of after) {
    const crc = new DataView(c.raw.buffer, c.raw.byteOffset).getUint32(c.raw.length - 4);
    assert.equal(crc32(c.raw.subarray(4, c.raw.length - 4)), crc, `${c.type} CRC`);
  }
  assertClean(r.bytes, 'gps.png');
  if (MAGICK) assert.deepEqual(pixels(r.bytes, 'a.png'), pixels(input, 'b.png'));
});

test('WebP: EXIF and XMP chunks removed, VP8X flags cleared, RIFF size fixed, image chunk kept', { skip: !EXIFTOOL && 'exiftool missing' }, () => {
  for (const name of ['gps.webp', 'icc.webp']) {
    const input = fixture(name);
    assertPlanted(input, name);
    const r = strip(input);
    assert.equal(r.kind, 'webp');
    assert.ok(r.removed.includes('GPS location and camera details (EXIF)'), r.removed.join('; '));
    assert.ok(r.removed.some((s) => s.includes('XMP')));
    const before = webpChunks(input);
    const after = webpChunks(r.bytes);
    assert.equal(after.size, r.bytes.length - 8);
    assert.deepEqual(after.chunks.map((c) => c.type), before.chunks.filter((c) => c.type !== 'EXIF' && c.type !== 'XMP ').map((c) => c.type));
    const img = (w) => w.chunks.find((c) => c.type === 'VP8 ' || c.type === 'VP8L').raw;
    assert.deepEqual(img(after), img(before));
    const flags = after.chunks.find((c) => c.type === 'VP8X').raw[8];
    assert.equal(flags & 0x0c, 0, 'EXIF/XMP flags still set');
    const hadICC = before.chunks.some((c) => c.type === 'ICCP');
    assert.equal(Boolean(flags & 0x20), hadICC, 'ICC flag changed');
    assertClean(r.bytes, name);
    if (MAGICK) assert.deepEqual(pixels(r.bytes, 'a-' + name), pixels(input, 'b-' + name));
  }
});

test('types that cannot be cleaned are recognised by their bytes and warned about', () => {
  const enc = (s) => new TextEncoder().encode(s);
  const cases = [
    ['pdf', enc('%PDF-1.7\n%\xe2\xe3\n1 0 obj'), /author/],
    ['office', new Uint8Array([0x50, 0x4b, 3, 4, ...enc('\0\0\0\0[Content_Types].xml')]), /author/],
    ['office', new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]), /author/],
    ['zip', new Uint8Array([0x50, 0x4b, 3, 4, ...enc('\0\0\0\0notes.txt')]), /archive/],
    ['heif', new Uint8Array([0, 0, 0, 24, ...enc('ftypheic'), 0, 0, 0, 0]), /HEIC/],
    ['video', new Uint8Array([0, 0, 0, 24, ...enc('ftypisom'), 0, 0, 0, 0]), /Videos/],
    ['video', new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 1, 2]), /Videos/],
    ['tiff', new Uint8Array([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]), /GPS/],
    ['unknown', new Uint8Array([0, 1, 2, 3, 0xfe, 0x80, 0]), /does not know/],
  ];
  for (const [kind, bytes, warn] of cases) {
    const r = strip(bytes);
    assert.equal(r.kind, kind, kind);
    assert.equal(r.cleanable, false, kind);
    assert.match(r.warning, warn, kind);
    assert.equal(r.bytes, bytes, `${kind}: bytes must pass through`);
  }
  // A PDF named like a photo is still a PDF: names are not trusted.
  assert.equal(detect(enc('%PDF-1.4')), 'pdf');
  const t = strip(enc('plain words, ünïcode too\n'));
  assert.equal(t.kind, 'text');
  assert.equal(t.warning, undefined);
  assert.equal(strip(new Uint8Array(0)).kind, 'empty');
});
