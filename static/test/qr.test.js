// Tests for static/js/qr.js: run with `node --test static/test/`.
// Two independent checks: zbarimg (Debian zbar-tools) must decode every rendered symbol back to
// its input, and for the same version and mask the module matrix must equal libqrencode's
// (Debian qrencode), bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { encode, capacity, svgPath } from '../js/qr.js';

const tmp = mkdtempSync(join(tmpdir(), 'sealdrop-qr-'));

function haveTool(cmd) {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}
const ZBAR = haveTool('zbarimg');
const QRENCODE = haveTool('qrencode');

// pgm renders a symbol as a binary PGM with a 4-module quiet zone, 3 pixels per module.
function pgm(qr, scale = 3, quiet = 4) {
  const dim = (qr.size + 2 * quiet) * scale;
  const head = Buffer.from(`P5\n${dim} ${dim}\n255\n`, 'ascii');
  const px = Buffer.alloc(dim * dim, 255);
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (!qr.modules[y][x]) continue;
      for (let dy = 0; dy < scale; dy++) {
        const row = ((y + quiet) * scale + dy) * dim;
        px.fill(0, row + (x + quiet) * scale, row + (x + quiet + 1) * scale);
      }
    }
  }
  return Buffer.concat([head, px]);
}

function zbar(qr, name) {
  const p = join(tmp, name + '.pgm');
  writeFileSync(p, pgm(qr));
  return execFileSync('zbarimg', ['--raw', '-q', '-Sbinary', p], { stdio: ['ignore', 'pipe', 'ignore'] });
}

const link = 'http://sealdropxyzabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst.onion/n/AAAAAAAAAAAAAAAAAAAAAA#AQFsZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQtc2Vj';

test('capacity matches the published byte-mode capacities at level M', () => {
  // ISO/IEC 18004 table 7, byte mode, level M.
  const published = { 1: 14, 2: 26, 3: 42, 4: 62, 5: 84, 6: 106, 7: 122, 8: 152, 9: 180, 10: 213, 15: 412, 40: 2331 };
  for (const [v, n] of Object.entries(published)) assert.equal(capacity(Number(v)), n, `version ${v}`);
});

test('a note link fits a small version', () => {
  const qr = encode(link);
  assert.ok(qr.version >= 6 && qr.version <= 8, `version ${qr.version}`);
  assert.equal(qr.size, qr.version * 4 + 17);
});

test('zbarimg decodes every version 1–40 back to the input', { skip: !ZBAR && 'zbarimg missing (apt-get install zbar-tools)' }, () => {
  for (let v = 1; v <= 40; v++) {
    const n = capacity(v);
    let s = '';
    for (let i = 0; s.length < n; i++) s += 'sealdrop/' + v + '/' + i + '#';
    s = s.slice(0, n);
    const qr = encode(s);
    assert.equal(qr.version, v);
    assert.equal(zbar(qr, 'v' + v).toString('latin1'), s, `version ${v}`);
  }
});

test('zbarimg decodes links, every mask, and binary bytes', { skip: !ZBAR && 'zbarimg missing (apt-get install zbar-tools)' }, () => {
  for (let mask = 0; mask < 8; mask++) {
    const qr = encode(link, { mask });
    assert.equal(qr.mask, mask);
    assert.equal(zbar(qr, 'm' + mask).toString('latin1'), link, `mask ${mask}`);
  }
  const manage = link.replace('/n/', '/m/');
  assert.equal(zbar(encode(manage), 'manage').toString('latin1'), manage);
  const bytes = new Uint8Array(200).map((_, i) => (i * 37 + 11) & 0xff);
  assert.deepEqual(new Uint8Array(zbar(encode(bytes), 'bin')), bytes);
});

function qrencodeMatrix(s, version) {
  const out = execFileSync('qrencode', ['-8', '-l', 'M', '-v', String(version), '-m', '0', '-t', 'ASCII', '-o', '-', s], { encoding: 'latin1' });
  return out.split('\n').filter((l) => l.length).map((l) => {
    const row = [];
    for (let i = 0; i < l.length; i += 2) row.push(l[i] === '#');
    return row;
  });
}

// readMask reads the mask number from the first copy of the format information.
function readMask(mod) {
  const bit = (x, y) => (mod[y][x] ? 1 : 0);
  // Bits 14..10 sit at (0..5,8), (7,8), (8,8) in order of significance 14,13,...
  const b = [bit(0, 8), bit(1, 8), bit(2, 8), bit(3, 8), bit(4, 8), bit(5, 8), bit(7, 8), bit(8, 8), bit(8, 7)];
  const top5 = (b[0] << 4) | (b[1] << 3) | (b[2] << 2) | (b[3] << 1) | b[4];
  return (top5 ^ (0x5412 >> 10)) & 7;
}

test('module matrices equal libqrencode for the same version and mask', { skip: !QRENCODE && 'qrencode missing (apt-get install qrencode)' }, () => {
  const inputs = ['hello', link, link.replace('/n/', '/m/'), 'x'.repeat(300), 'y'.repeat(1000)];
  let sameMask = 0;
  for (const s of inputs) {
    const ours = encode(s);
    const theirs = qrencodeMatrix(s, ours.version);
    assert.equal(theirs.length, ours.size, `size for ${s.length} bytes`);
    const mask = readMask(theirs);
    const forced = encode(s, { mask });
    assert.deepEqual(forced.modules, theirs, `matrix for ${s.length} bytes, mask ${mask}`);
    if (ours.mask === mask) sameMask++;
  }
  // Penalty implementations differ slightly between encoders; most choices should still agree.
  assert.ok(sameMask >= 3, `only ${sameMask} of ${inputs.length} mask choices agree with libqrencode`);
});

test('svgPath draws one unit square per dark module, inside the quiet zone', () => {
  const qr = encode('abc');
  const d = svgPath(qr, 4);
  const squares = d.match(/M\d+ \d+h1v1h-1z/g);
  const dark = qr.modules.flat().filter(Boolean).length;
  assert.equal(squares.length, dark);
  assert.equal(squares.join(''), d);
  assert.ok(d.startsWith('M4 4'), 'top-left finder corner at the quiet-zone offset');
});

test('too long input is refused with a message', () => {
  assert.throws(() => encode('z'.repeat(2332)), /too long/);
});
