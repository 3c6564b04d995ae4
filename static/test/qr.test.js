// Tests for static/js/qr.js (our wrapper over the vendored qrcode-generator 2.0.4): run with
// `node --test static/test/`. Independent checks, none of them our own QR code:
// - zbarimg (Debian zbar-tools) must decode every symbol, rasterised from the SVG path data the
//   pages draw, back to its input, byte for byte;
// - the version chosen must be the smallest that holds the input, per the byte-mode capacities
//   at level M of ISO/IEC 18004 (table 7);
// - libqrencode (Debian qrencode) must make the same symbol, module for module, up to the mask:
//   identical when both choose the same mask, and otherwise different only where the two masks
//   or the format information differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { encode, svgPath, toSVG, MAX_BYTES } from '../js/qr.js';

const tmp = mkdtempSync(join(tmpdir(), 'sealdrop-qr-'));

function haveTool(cmd) {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}
const ZBAR = haveTool('zbarimg');
const QRENCODE = haveTool('qrencode');
const needZbar = { skip: !ZBAR && 'zbarimg missing (apt-get install zbar-tools)' };
const needQrencode = { skip: !QRENCODE && 'qrencode missing (apt-get install qrencode)' };

// ISO/IEC 18004 table 7: data capacity in bytes, byte mode, error correction level M, by version.
const CAPACITY_M = [0, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504,
  560, 624, 666, 711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809,
  1911, 1989, 2099, 2213, 2331];

const RUN = /M(\d+) (\d+)h(\d+)v1h-(\d+)z/g;

// drawn reads SVG path data back into a matrix of dark unit squares, side×side.
function drawn(d, side) {
  const m = Array.from({ length: side }, () => new Array(side).fill(false));
  let consumed = 0;
  for (const [all, x, y, w, back] of d.matchAll(RUN)) {
    assert.equal(w, back, `a run closes where it started: ${all}`);
    for (let i = 0; i < Number(w); i++) {
      assert.equal(m[Number(y)][Number(x) + i], false, `squares overlap at ${Number(x) + i},${y}`);
      m[Number(y)][Number(x) + i] = true;
    }
    consumed += all.length;
  }
  assert.equal(consumed, d.length, 'the path holds nothing but runs');
  return m;
}

// pgm rasterises the path data of a symbol (with its 4-module quiet zone) as a binary PGM,
// 3 pixels per module: what zbarimg reads is what the pages draw.
function pgm(qr, scale = 3, quiet = 4) {
  const side = qr.size + 2 * quiet;
  const m = drawn(svgPath(qr, quiet), side);
  const dim = side * scale;
  const head = Buffer.from(`P5\n${dim} ${dim}\n255\n`, 'ascii');
  const px = Buffer.alloc(dim * dim, 255);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (!m[y][x]) continue;
      for (let dy = 0; dy < scale; dy++) {
        const row = (y * scale + dy) * dim;
        px.fill(0, row + x * scale, row + (x + 1) * scale);
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

// format reads the error correction level and mask from the first copy of the format
// information: bits 14..10 sit at (x = 0..4, y = 8), masked with 101010000010010.
function format(modules) {
  let top5 = 0;
  for (let x = 0; x < 5; x++) top5 = (top5 << 1) | (modules[8][x] ? 1 : 0);
  top5 ^= 0x5412 >> 10;
  return { level: ['M', 'L', 'H', 'Q'][top5 >> 3], mask: top5 & 7 };
}

// The eight data masks of ISO/IEC 18004 (8.8.1), i = row, j = column: true = invert.
const MASKS = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i + j) % 2) + ((i * j) % 3)) % 2 === 0,
];

// inFormat tells whether a module belongs to one of the two copies of the format information.
function inFormat(x, y, size) {
  return (y === 8 && (x <= 8 || x >= size - 8)) || (x === 8 && (y <= 8 || y >= size - 7));
}

const link = 'http://sealdropxyzabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst.onion/n/AAAAAAAAAAAAAAAAAAAAAA#AQFsZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQtc2Vj';

// filler returns n bytes of link-like ASCII, different for each tag.
function filler(n, tag) {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `sealdrop/${tag}/${i}#`;
  return s.slice(0, n);
}

test('each version is the smallest that holds the input (ISO/IEC 18004 capacities, level M)', () => {
  assert.equal(MAX_BYTES, CAPACITY_M[40]);
  for (let v = 1; v <= 40; v++) {
    const full = encode(filler(CAPACITY_M[v], v));
    assert.equal(full.version, v, `${CAPACITY_M[v]} bytes`);
    assert.equal(full.size, v * 4 + 17);
    assert.equal(full.modules.length, full.size);
    assert.ok(full.modules.every((row) => row.length === full.size && row.every((m) => typeof m === 'boolean')));
    assert.equal(format(full.modules).level, 'M', `level M at version ${v}`);
    if (v < 40) assert.equal(encode(filler(CAPACITY_M[v] + 1, v)).version, v + 1, `${CAPACITY_M[v] + 1} bytes`);
  }
});

test('a note link fits a small version', () => {
  const qr = encode(link);
  assert.ok(qr.version >= 6 && qr.version <= 8, `version ${qr.version}`);
});

test('text is encoded as UTF-8 and bytes as they are', () => {
  // 8 characters, 14 bytes of UTF-8: exactly version 1's capacity. Counted as one byte per
  // character, one more character would still fit version 1.
  const text = 'Ünïcødé✓';
  const bytes = new TextEncoder().encode(text);
  assert.equal(bytes.length, CAPACITY_M[1]);
  assert.equal(encode(text).version, 1);
  assert.equal(encode(text + 'x').version, 2);
  assert.deepEqual(encode(text).modules, encode(bytes).modules);
});

test('zbarimg decodes every version 1–40 back to the input', needZbar, () => {
  for (let v = 1; v <= 40; v++) {
    const s = filler(CAPACITY_M[v], v);
    const qr = encode(s);
    assert.equal(qr.version, v);
    assert.equal(zbar(qr, 'v' + v).toString('latin1'), s, `version ${v}`);
  }
});

test('zbarimg decodes every mask the library chooses, links, UTF-8 text and all byte values', needZbar, () => {
  const seen = new Map();
  for (let i = 0; i < 2000 && seen.size < 8; i++) {
    const s = `http://sealdrop.onion/n/${i.toString(36)}#${'k'.repeat(i % 50)}`;
    const qr = encode(s);
    const { mask } = format(qr.modules);
    if (!seen.has(mask)) seen.set(mask, { s, qr });
  }
  assert.equal(seen.size, 8, `masks chosen: ${[...seen.keys()].sort()}`);
  for (const [mask, { s, qr }] of seen) assert.equal(zbar(qr, 'm' + mask).toString('latin1'), s, `mask ${mask}`);

  for (const s of [link, link.replace('/n/', '/m/'), link.replace('/n/', '/c/'), link.replace('/n/', '/d/')]) {
    assert.equal(zbar(encode(s), 'link').toString('latin1'), s);
  }
  const text = 'Meet at the usual place. Ünïcødé ✓ 🔑 ';
  assert.equal(zbar(encode(text), 'utf8').toString('utf8'), text);
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => (i * 37 + 11) & 0xff);
  assert.equal(new Set(bytes).size, 256, 'control: every byte value');
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

test('libqrencode makes the same symbol, up to the mask, at every version', needQrencode, () => {
  const inputs = ['hello', link, link.replace('/n/', '/m/')];
  for (let i = 0; i < 30; i++) inputs.push(`http://example${i}.onion/n/${'A'.repeat(i * 7)}#k${i}`);
  for (let v = 1; v <= 40; v++) inputs.push(filler(CAPACITY_M[v], v));
  let sameMask = 0;
  for (const s of inputs) {
    const ours = encode(s);
    const theirs = qrencodeMatrix(s, ours.version);
    const what = `${s.length} bytes, version ${ours.version}`;
    assert.equal(theirs.length, ours.size, `libqrencode needs another version for ${what}`);
    const a = format(ours.modules);
    const b = format(theirs);
    assert.equal(b.level, 'M');
    if (a.mask === b.mask) {
      sameMask++;
      assert.deepEqual(ours.modules, theirs, `${what}, mask ${a.mask}`);
      continue;
    }
    // Different masks: function patterns and codewords agree, so a module may differ only
    // where exactly one of the two masks inverts it, or in the format information.
    let differ = 0;
    for (let y = 0; y < ours.size; y++) {
      for (let x = 0; x < ours.size; x++) {
        if (ours.modules[y][x] === theirs[y][x]) continue;
        const ok = inFormat(x, y, ours.size) || MASKS[a.mask](y, x) !== MASKS[b.mask](y, x);
        assert.ok(ok, `${what}: module ${x},${y} differs where masks ${a.mask} and ${b.mask} agree`);
        differ++;
      }
    }
    assert.ok(differ > 0, 'control: different masks change some module');
  }
  // The two encoders score masks differently (mostly at large versions), so only some symbols
  // are identical; the identical-symbol branch must still run for a good share of them.
  assert.ok(sameMask >= 10, `only ${sameMask} of ${inputs.length} mask choices agree with libqrencode`);
});

test('svgPath draws exactly the dark modules, one rectangle per run, inside the quiet zone', () => {
  for (const s of ['abc', link, filler(CAPACITY_M[12], 'svg')]) {
    const qr = encode(s);
    for (const quiet of [4, 0, 2]) {
      const side = qr.size + 2 * quiet;
      const m = drawn(svgPath(qr, quiet), side);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const inside = x >= quiet && y >= quiet && x < qr.size + quiet && y < qr.size + quiet;
          assert.equal(m[y][x], inside && qr.modules[y - quiet][x - quiet], `module ${x},${y}, quiet ${quiet}`);
        }
      }
    }
    const runs = [...svgPath(qr).matchAll(RUN)].length;
    const dark = qr.modules.flat().filter(Boolean).length;
    assert.ok(runs < dark, `runs merge neighbours: ${runs} runs for ${dark} dark modules`);
  }
  assert.ok(svgPath(encode('abc')).startsWith('M4 4h7v1h-7z'), 'the top-left finder starts at the quiet-zone offset');
});

// fakeDocument records what toSVG builds; markup strings and inline style are refused.
function fakeDocument() {
  const make = (ns, name) => {
    const el = {
      ns, name, attrs: {}, children: [], textContent: '',
      setAttribute(k, v) {
        assert.equal(typeof v, 'string', `attribute ${k} set as ${typeof v}`);
        assert.notEqual(k.toLowerCase(), 'style', 'no inline style');
        this.attrs[k] = v;
      },
      appendChild(c) { this.children.push(c); return c; },
    };
    for (const p of ['innerHTML', 'outerHTML', 'style']) {
      Object.defineProperty(el, p, { get() { throw new Error(`${p} read`); }, set() { throw new Error(`${p} set`); } });
    }
    return el;
  };
  return {
    createElementNS: make,
    createElement() { throw new Error('an SVG element must be made with createElementNS'); },
  };
}

test('toSVG builds the image with DOM calls: a light square and the path of dark modules', () => {
  const ns = 'http://www.w3.org/2000/svg';
  const qr = encode(link);
  const svg = toSVG(fakeDocument(), qr, { title: 'QR code of the note link' });
  const side = String(qr.size + 8);
  assert.equal(svg.ns, ns);
  assert.equal(svg.name, 'svg');
  assert.deepEqual(svg.attrs, {
    viewBox: `0 0 ${side} ${side}`, 'shape-rendering': 'crispEdges', role: 'img', 'aria-label': 'QR code of the note link',
  });
  assert.deepEqual(svg.children.map((c) => [c.ns, c.name]), [[ns, 'title'], [ns, 'rect'], [ns, 'path']]);
  const [title, rect, path] = svg.children;
  assert.equal(title.textContent, 'QR code of the note link');
  assert.deepEqual(rect.attrs, { width: side, height: side, fill: '#fff' });
  assert.deepEqual(path.attrs, { d: svgPath(qr, 4), fill: '#000' });

  const bare = toSVG(fakeDocument(), qr, { quiet: 1 });
  assert.equal(bare.attrs['aria-label'], undefined);
  assert.deepEqual(bare.children.map((c) => c.name), ['rect', 'path']);
  assert.equal(bare.attrs.viewBox, `0 0 ${qr.size + 2} ${qr.size + 2}`);
  assert.equal(bare.children[1].attrs.d, svgPath(qr, 1));
});

test('too long input is refused with a message', () => {
  assert.equal(encode('z'.repeat(MAX_BYTES)).version, 40);
  assert.throws(() => encode('z'.repeat(MAX_BYTES + 1)), /too long/);
  assert.throws(() => encode('é'.repeat(1166)), /too long/, '2332 bytes of UTF-8 in 1166 characters');
});
