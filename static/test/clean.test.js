// The media privacy filter (static/js/clean/) against real files made by real tools
// (fixtures/make-fixtures.sh): every planted value is gone according to independent readers
// (exiftool, mat2 --show, and the file's own bytes with ZIP members and PDF streams inflated),
// and the content is unchanged (decoded pixels, ffmpeg framemd5, qpdf --check, LibreOffice
// converting the result to the same text, OOXML relationships and overrides all present).
// Run with `node --test static/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { cleanFile, detect } from '../js/clean/index.js';
import { fixture, save, run, have, deepText, survivors, zipMembers, latin1, MAGICK, tmp } from './clean-helpers.js';

const EXIFTOOL = have('exiftool', ['-ver']);
const MAT2 = have('mat2', ['--version']);
const FFMPEG = have('ffmpeg', ['-version']);
const QPDF = have('qpdf', ['--version']);
const SOFFICE = have('soffice', ['--version']);
const HEIF = have('heif-convert', ['--version']) || have('heif-convert', ['-h']);
const need = (ok, what) => (ok ? false : `${what} missing (see the Debian packages in fixtures/README.md)`);

// name, kind, status, mat2 reads it, how content is compared
const FIXTURES = [
  ['gps.jpg', 'jpeg', 'cleaned', true, 'pixels'], ['prog.jpg', 'jpeg', 'cleaned', true, 'pixels'],
  ['prog-ff00.jpg', 'jpeg', 'cleaned', true, 'pixels'], ['gps.png', 'png', 'cleaned', true, 'pixels'],
  ['gps.webp', 'webp', 'cleaned', false, 'pixels'], ['icc.webp', 'webp', 'cleaned', false, 'pixels'],
  ['anim.gif', 'gif', 'cleaned', true, 'pixels'], ['comment.ppm', 'pnm', 'cleaned', false, 'pixels'],
  ['gps.heic', 'heif', 'cleaned', true, 'heif'], ['gps.tif', 'tiff', 'warn', false, 'same'],
  ['inkscape.svg', 'svg', 'cleaned', true, 'xml'], ['saved.html', 'html', 'cleaned', true, 'text'],
  ['data.xml', 'xml', 'cleaned', false, 'xml'], ['style.css', 'css', 'cleaned', true, 'text'],
  ['report.rtf', 'rtf', 'cleaned', false, 'office-text'],
  ['report.docx', 'docx', 'cleaned', true, 'office-text'], ['report.odt', 'odt', 'cleaned', true, 'office-text'],
  ['figures.xlsx', 'xlsx', 'cleaned', true, 'office-csv'], ['figures.ods', 'ods', 'cleaned', true, 'office-csv'],
  ['slides.pptx', 'pptx', 'cleaned', true, 'office-pdf'], ['slides.odp', 'odp', 'cleaned', true, 'office-pdf'],
  ['drawing.odg', 'odg', 'cleaned', true, 'office-pdf'], ['photos.zip', 'zip', 'cleaned', true, 'zip'],
  ['report.pdf', 'pdf', 'cleaned', true, 'pdf'], ['objstm.pdf', 'pdf', 'cleaned', true, 'pdf'],
  ['gps.mp4', 'mp4', 'cleaned', true, 'av'], ['timecode.mov', 'mp4', 'cleaned', false, 'av'],
  ['song.m4a', 'm4a', 'cleaned', false, 'av'], ['song.mp3', 'mp3', 'cleaned', true, 'av'],
  ['song.flac', 'flac', 'cleaned', true, 'av'], ['song.ogg', 'ogg', 'cleaned', true, 'av'],
  ['song.opus', 'ogg', 'cleaned', true, 'av'], ['song.wav', 'wav', 'cleaned', true, 'av'],
  ['song.aiff', 'aiff', 'cleaned', true, 'av'],
];

async function bytesOf(blob) { return new Uint8Array(await blob.arrayBuffer()); }

function exifText(path) {
  return run('exiftool', ['-j', '-a', '-G1', '-ee', '-u', path]);
}

function pixels(path) {
  return run(MAGICK, [path, '-coalesce', 'rgba:-'], { encoding: 'buffer' });
}

function framemd5(path) {
  // Only the decoded pictures and sounds: a removed timecode track or cover picture (0:V
  // leaves out attached pictures) is not content.
  return run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-i', path, '-map', '0:V?', '-map', '0:a?', '-f', 'framemd5', '-'])
    .split('\n').filter((l) => l && !l.startsWith('#')).join('\n');
}

function officeConvert(path, to) {
  const dir = join(tmp, `lo-${Math.abs(hash(path))}-${to}`);
  run('soffice', ['--headless', '--norestore', `-env:UserInstallation=file://${tmp}/lo-profile`, '--convert-to', to, '--outdir', dir, path], { timeout: 180000 });
  const base = path.split('/').pop().replace(/\.[^.]+$/, '');
  return new Uint8Array(run('cat', [join(dir, `${base}.${to.split(':')[0]}`)], { encoding: 'buffer' }));
}

function hash(s) { let h = 0; for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0; return h; }

// relationshipsIntact: every internal relationship target and every content-type override of
// an OOXML package names a part that exists.
function relationshipsIntact(b) {
  const m = zipMembers(b);
  const names = new Set(m.keys());
  const problems = [];
  for (const [name, data] of m) {
    if (!name.endsWith('.rels')) continue;
    const base = name.replace(/_rels\/[^/]*\.rels$/, '');
    for (const r of data.toString('latin1').matchAll(/<Relationship\b[^>]*>/g)) {
      if (/TargetMode="External"/.test(r[0])) continue;
      const t = /Target="([^"]*)"/.exec(r[0])[1];
      const parts = (t.startsWith('/') ? t.slice(1) : base + t).split('/');
      const out = [];
      for (const p of parts) { if (p === '..') out.pop(); else if (p && p !== '.') out.push(p); }
      if (!names.has(out.join('/'))) problems.push(`${name} -> ${t}`);
    }
  }
  for (const o of m.get('[Content_Types].xml').toString('latin1').matchAll(/PartName="\/([^"]*)"/g)) {
    if (!names.has(o[1])) problems.push(`override ${o[1]}`);
  }
  return problems;
}

for (const [name, kind, status, mat2, content] of FIXTURES) {
  test(`${name}: planted details gone, content unchanged`, { skip: need(EXIFTOOL, 'exiftool') }, async () => {
    const input = fixture(name);
    const ext = name.split('.').pop();
    const inPath = save(input, `in-${name}`);
    // Control: the fixture really carries planted values, so this test can fail.
    const before = survivors(deepText(input) + exifText(inPath));
    assert.ok(before.length >= 2, `${name}: fixture carries too few planted values: ${before}`);
    const r = await cleanFile(new Blob([input]));
    assert.equal(r.kind, kind, `${name}: kind`);
    assert.equal(r.status, status, `${name}: ${r.warning || r.removed.join('; ')}`);
    const out = await bytesOf(r.blob);
    const outPath = save(out, `out-${name.replace(/\.[^.]+$/, '')}.${ext}`);
    if (status === 'warn') {
      assert.ok(r.warning && r.warning.length > 20, 'a warning in plain words');
      assert.deepEqual(out, input, 'a file that is not cleaned is sent unchanged');
      return;
    }
    assert.ok(r.removed.length > 0);
    // Independent readers find nothing planted.
    const meta = exifText(outPath);
    assert.deepEqual(survivors(meta), [], `${name}: exiftool still finds: ${survivors(meta)}`);
    const gpsKeys = Object.keys(JSON.parse(meta)[0]).filter((k) => /GPS/i.test(k));
    assert.deepEqual(gpsKeys, [], `${name}: exiftool finds GPS tags`);
    assert.deepEqual(survivors(deepText(out)), [], `${name}: planted values in the bytes (members and streams unpacked)`);
    if (mat2 && MAT2) {
      const shown = run('mat2', ['--show', outPath]);
      assert.deepEqual(survivors(shown), [], `${name}: mat2 --show still finds: ${shown}`);
    }
    // Content unchanged.
    if (content === 'pixels' && MAGICK) assert.ok(pixels(outPath).equals(pixels(inPath)), `${name}: decoded pixels differ`);
    if (content === 'heif' && HEIF) {
      run('heif-convert', [inPath, `${inPath}.png`]);
      run('heif-convert', [outPath, `${outPath}.png`]);
      assert.ok(pixels(`${outPath}.png`).equals(pixels(`${inPath}.png`)), `${name}: decoded pixels differ`);
    }
    if (content === 'av' && FFMPEG) {
      const a = framemd5(inPath);
      assert.ok(a.length > 0);
      assert.equal(framemd5(outPath), a, `${name}: decoded frames differ`);
    }
    if (content === 'pdf' && QPDF) {
      run('qpdf', ['--check', outPath]);
      assert.equal(run('qpdf', ['--show-npages', outPath]), run('qpdf', ['--show-npages', inPath]));
      // The page content streams are the same, byte for byte, once unpacked.
      const pages = (p) => run('qpdf', ['--qdf', '--object-streams=disable', p, '-'], { encoding: 'latin1' })
        .match(/%% Contents for page \d+[\s\S]*?endstream/g).map((s) => s.slice(s.indexOf('stream\n')));
      assert.deepEqual(pages(outPath), pages(inPath));
    }
    if (content.startsWith('office') && SOFFICE) {
      if (['docx', 'xlsx', 'pptx'].includes(ext)) assert.deepEqual(relationshipsIntact(out), [], `${name}: dangling relationships`);
      const to = content === 'office-text' ? 'txt:Text (encoded):UTF8' : content === 'office-csv' ? 'csv' : 'pdf';
      const a = officeConvert(inPath, to);
      const b = officeConvert(outPath, to);
      assert.ok(b.length > 0, `${name}: LibreOffice could not convert the cleaned file`);
      if (to !== 'pdf') assert.equal(latin1(b), latin1(a), `${name}: LibreOffice reads other text`);
    }
    if (content === 'zip') {
      const a = zipMembers(input);
      const b = zipMembers(out);
      assert.deepEqual([...b.keys()], [...a.keys()]);
      assert.ok(b.get('notes.txt').equals(a.get('notes.txt')));
      if (MAGICK) assert.ok(pixels(save(b.get('IMG_4032.jpg'), 'zb.jpg')).equals(pixels(save(a.get('IMG_4032.jpg'), 'za.jpg'))));
    }
    if (content === 'xml') run('python3', ['-c', 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])', outPath]);
    if (content === 'xml' || content === 'text') {
      const text = latin1(out);
      for (const keep of ['<rect', '<image', 'The memo text stays.', 'The report content stays.', '.box { color: #123456; }', 'not a comment']) {
        if (latin1(input).includes(keep)) assert.ok(text.includes(keep), `${name}: "${keep}" lost`);
      }
    }
    // A second pass finds nothing more.
    const again = await cleanFile(new Blob([out]));
    assert.equal(again.status, 'clean', `${name}: second pass removed ${again.removed.join('; ')}`);
  });
}

test('a progressive JPEG whose scan starts with a stuffed FF 00 is cleaned, not refused', async () => {
  const b = fixture('prog-ff00.jpg');
  // The fixture really has the case: a scan header followed by FF 00.
  let found = false;
  for (let i = 2; i < b.length - 1;) {
    if (b[i] !== 0xff) break;
    const len = (b[i + 2] << 8) | b[i + 3];
    if (b[i + 1] === 0xda) {
      const s = i + 2 + len;
      if (b[s] === 0xff && b[s + 1] === 0) found = true;
      break;
    }
    i += 2 + len;
  }
  const all = latin1(b);
  assert.ok(found || /\xff\xda[\s\S]{8,20}?\xff\x00/.test(all), 'fixture lacks the FF 00 case');
  const r = await cleanFile(new Blob([b]));
  assert.equal(r.status, 'cleaned', r.warning);
});

test('text-like files are not reported clean unless they are plain text', async () => {
  const enc = (s) => new TextEncoder().encode(s);
  const cases = [
    ['<svg xmlns="http://www.w3.org/2000/svg"><!-- by Jane Source --><rect/></svg>', 'svg', 'cleaned'],
    ['<!DOCTYPE html><html><head><meta name="author" content="Jane Source"></head><body>x</body></html>', 'html', 'cleaned'],
    ['{\\rtf1\\ansi{\\info{\\author Jane Source}{\\company Acme Leaks Ltd}}Hello}', 'rtf', 'cleaned'],
    ['/* Jane Source */ body { color: red; }', 'css', 'cleaned'],
    ['P3\n# by Jane Source\n1 1\n255\n1 2 3\n', 'pnm', 'cleaned'],
    ['%!PS-Adobe-3.0\n%%Creator: Jane Source\n', 'postscript', 'warn'],
    ['Received: from [10.1.2.3]\nFrom: Jane Source <j@x>\nMessage-ID: <1@x>\n\nhello', 'email', 'warn'],
    ['plain words, ünïcode too\nsecond line\n', 'text', 'clean'],
    ['function f() { return 1; } // by Jane Source\n', 'text', 'clean'],
  ];
  const utf16 = (s) => { const b = new Uint8Array(2 + 2 * s.length); b[0] = 0xff; b[1] = 0xfe; for (let i = 0; i < s.length; i++) { b[2 + 2 * i] = s.charCodeAt(i) & 255; b[3 + 2 * i] = s.charCodeAt(i) >> 8; } return b; };
  assert.equal((await cleanFile(new Blob([utf16('plain words\n')]))).status, 'clean');
  const u = await cleanFile(new Blob([utf16('<html><head><meta name="author" content="Jane Source"></head></html>')]));
  assert.equal(u.status, 'warn');
  assert.match(u.warning, /UTF-16/);
  for (const [s, kind, status] of cases) {
    const r = await cleanFile(new Blob([enc(s)]));
    assert.equal(r.kind, kind, s);
    assert.equal(r.status, status, `${s}: ${r.warning || ''}`);
    if (status === 'cleaned') assert.deepEqual(survivors(latin1(await bytesOf(r.blob))), [], s);
  }
});

test('kinds are recognised by their bytes, never by name or type', async () => {
  const enc = (s) => new TextEncoder().encode(s);
  assert.equal(detect(enc('%PDF-1.4\n')), 'pdf');
  assert.equal(detect(new Uint8Array([0, 0, 0, 24, ...enc('ftypheic'), 0, 0, 0, 0])), 'heif');
  assert.equal(detect(new Uint8Array([0, 0, 0, 24, ...enc('ftypisom'), 0, 0, 0, 0])), 'mp4');
  assert.equal(detect(new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 1, 2])), 'video');
  assert.equal(detect(new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0])), 'ole');
  const pdfAsPhoto = new File([fixture('report.pdf')], 'IMG_4032.jpg', { type: 'image/jpeg' });
  assert.equal((await cleanFile(pdfAsPhoto)).kind, 'pdf');
  for (const [bytes, kind] of [[new Uint8Array([0, 1, 2, 3, 0xfe, 0x80, 0]), 'unknown'], [new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]), 'ole'], [new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 1, 2]), 'video']]) {
    const r = await cleanFile(new Blob([bytes]));
    assert.equal(r.kind, kind);
    assert.equal(r.status, 'warn');
    assert.ok(r.warning.length > 30);
    assert.deepEqual(await bytesOf(r.blob), bytes, 'sent unchanged');
  }
  assert.equal((await cleanFile(new Blob([]))).status, 'clean');
});

test('a damaged file is warned about and sent unchanged, never called clean', async () => {
  const input = fixture('gps.jpg');
  for (const cut of [3, 20, 100, 3000]) {
    const r = await cleanFile(new Blob([input.subarray(0, cut)]));
    assert.equal(r.status, 'warn', `cut ${cut}`);
    assert.match(r.warning, /could not be checked/);
    assert.equal(r.blob.size, cut);
  }
});

// Review 3: kept PNG chunks and JPEG segments of any but their specified shape make the file one
// that could not be checked, in the words of the Go filter (internal/clean TestKeptPartsShape has
// the same cases). gps.png is 48x32 RGB, 16 bits.
test('kept parts of the wrong shape: could not be checked, never clean (as in Go)', async () => {
  const png = fixture('gps.png');
  const ihdr = png.subarray(16, 29);
  let idat = null;
  for (let i = 8; i < png.length;) {
    const n = Buffer.from(png.subarray(i, i + 4)).readUInt32BE(0);
    if (latin1(png.subarray(i + 4, i + 8)) === 'IDAT') idat = png.subarray(i + 8, i + 8 + n);
    i += 12 + n;
  }
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const c = (type, n) => chunk(type, Buffer.alloc(n));
  const sig = png.subarray(0, 8);
  const mk = (extra, ...data) => Buffer.concat([sig, chunk('IHDR', ihdr), ...extra, ...data.map((d) => chunk('IDAT', d)), c('IEND', 0)]);
  const z = (n) => deflateSync(Buffer.alloc(n));
  const all = [c('sRGB', 1), c('gAMA', 4), c('cHRM', 32), c('bKGD', 6), c('sBIT', 3), c('tRNS', 6), c('cICP', 4),
    c('cLLi', 8), c('mDCv', 24), c('acTL', 8), c('fcTL', 26), c('PLTE', 6), c('hIST', 4)];
  const badIHDR = Buffer.concat([ihdr.subarray(0, 8), Buffer.from([3, 2, 0, 0, 0])]);
  const fctl = chunk('fcTL', Buffer.concat([Buffer.alloc(4), ihdr.subarray(0, 8), Buffer.alloc(14)]));
  const apng = (withFcTL, frame) => {
    const b = withFcTL ? mk([c('acTL', 8), fctl], idat) : mk([], idat);
    return Buffer.concat([b.subarray(0, -12), ...(withFcTL ? [fctl] : []), chunk('fdAT', Buffer.concat([Buffer.alloc(4), frame])), c('IEND', 0)]);
  };
  const jpg = fixture('prog.jpg');
  const seg = (m, p) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, m, 0, 2 + p.length, ...p]), jpg.subarray(2)]);
  const dac = (...p) => seg(0xcc, p);
  const DAC = 'an arithmetic-coding table is damaged';
  const cases = [
    ['every kept chunk, right', mk(all, idat), ''],
    ['IDAT in two', mk([], idat.subarray(0, 50), idat.subarray(50)), ''],
    ['bKGD 2', mk([c('bKGD', 2)], idat), 'the bKGD chunk is damaged (wrong length)'],
    ['sBIT 4', mk([c('sBIT', 4)], idat), 'the sBIT chunk is damaged (wrong length)'],
    ['tRNS 2', mk([c('tRNS', 2)], idat), 'the tRNS chunk is damaged (wrong length)'],
    ['PLTE 4', mk([c('PLTE', 4)], idat), 'the PLTE chunk is damaged (wrong length)'],
    ['hIST, no PLTE', mk([c('hIST', 4)], idat), 'the hIST chunk is damaged (wrong length)'],
    ['IEND 1', Buffer.concat([mk([], idat).subarray(0, -12), c('IEND', 1)]), 'the IEND chunk is damaged (wrong length)'],
    ['two IHDR', mk([chunk('IHDR', ihdr)], idat), 'the picture has two headers'],
    ['IHDR depth 3', Buffer.concat([sig, chunk('IHDR', badIHDR), mk([], idat).subarray(33)]), 'the picture header is damaged'],
    ['no IDAT', mk([]), 'the picture has no picture data'],
    ['IDAT too long', mk([], z(32 * 289 + 1)), 'the picture data is longer than the picture'],
    ['IDAT just right', mk([], z(32 * 289)), ''],
    ['IDAT not zlib', mk([], Buffer.from('Jane Source')), 'the picture data is damaged'],
    ['IDAT cut short', mk([], idat.subarray(0, -1)), 'the picture data is damaged'],
    ['APNG frame right', apng(true, idat), ''],
    ['APNG frame tail', apng(true, Buffer.concat([idat, Buffer.from('Jane Source')])), 'the picture data is damaged'],
    ['fdAT before fcTL', apng(false, idat), 'the picture data is damaged'],
    ['SOF 5 components', seg(0xc2, [8, 0, 16, 0, 16, 5, ...new Array(15).fill(0)]), 'the frame header is damaged'],
    ['SOS 5 components', seg(0xda, [5, ...new Array(13).fill(0)]), 'a scan header is damaged'],
    ['DAC right', dac(0x00, 0x10, 0x11, 0x10, 0x10, 5, 0x13, 63), ''],
    ['DAC L > U', dac(0x00, 0x01), DAC], ['DAC Kx 0', dac(0x10, 0), DAC], ['DAC twice', dac(0x10, 5, 0x10, 5), DAC],
    ['DAC table 4', dac(0x14, 5), DAC], ['DAC class 2', dac(0x20, 5), DAC],
  ];
  for (const [name, input, want] of cases) {
    const r = await cleanFile(new Uint8Array(input));
    if (!want) {
      assert.equal(r.status, input[0] === 0xff ? 'cleaned' : 'clean', `${name}: ${r.warning}`);
      continue;
    }
    assert.equal(r.status, 'warn', name);
    assert.ok(r.warning.includes(`could not be checked (${want})`), `${name}: ${r.warning}`);
    assert.equal(r.blob.size, input.length, `${name}: sent unchanged`);
  }
});

test('JPEG: orientation kept alone, ICC profile kept with its colours but without device details', { skip: need(EXIFTOOL, 'exiftool') }, async () => {
  const r = await cleanFile(new Blob([fixture('prog.jpg')]));
  const meta = JSON.parse(exifText(save(await bytesOf(r.blob), 'o.jpg')))[0];
  assert.equal(meta['IFD0:Orientation'], 'Rotate 90 CW');
  const g = await cleanFile(new Blob([fixture('gps.jpg')]));
  const m2 = JSON.parse(exifText(save(await bytesOf(g.blob), 'g.jpg')))[0];
  const m1 = JSON.parse(exifText(save(fixture('gps.jpg'), 'g0.jpg')))[0];
  for (const k of ['ICC_Profile:RedMatrixColumn', 'ICC_Profile:GreenMatrixColumn', 'ICC_Profile:BlueMatrixColumn', 'ICC_Profile:MediaWhitePoint', 'ICC_Profile:RedTRC']) {
    assert.equal(m2[k], m1[k], `${k} changed`);
  }
  assert.equal(m2['ICC_Profile:ProfileDescription'], 'Colour profile');
  assert.ok(!('ICC_Profile:ProfileCopyright' in m2));
});

test('MP4: a large video is cleaned from its headers: the media data is never read or copied', async () => {
  // 60 MiB of media data behind the fixture's boxes: cleaning reads the headers only.
  const small = fixture('gps.mp4');
  const pad = 60 * 1024 * 1024;
  const free = new Uint8Array(8);
  new DataView(free.buffer).setUint32(0, 8 + pad);
  free.set(new TextEncoder().encode('mdat'), 4);
  const big = new Blob([small, free, new Uint8Array(pad)]);
  const { Source, Plan } = await import('../js/clean/util.js');
  const { cleanBMFF } = await import('../js/clean/bmff.js');
  const src = new Source(big);
  const plan = new Plan(src);
  const f = await cleanBMFF(src, plan);
  assert.ok(f.removed.length > 0);
  assert.ok(src.bytesRead < 1 << 20, `read ${src.bytesRead} bytes`);
  assert.ok(plan.newBytes < 1 << 20, `new bytes ${plan.newBytes}`);
  assert.equal(plan.size, big.size - (small.length - (await cleanFile(new Blob([small]))).blob.size));
});
