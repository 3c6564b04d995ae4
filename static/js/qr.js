// A small QR code encoder (ISO/IEC 18004): byte mode, error correction level M, versions 1–40,
// mask chosen by the standard penalty rules. It runs in the sender's browser so the link, and the
// key in its fragment, never leave it. Rendering builds SVG with DOM calls: no inline style, no
// canvas (Tor Browser blocks canvas read-back, and the CSP forbids inline style).

// Error correction level M: codewords per block and number of blocks, indexed by version.
const ECC_PER_BLOCK = [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26,
  26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28];
const NUM_BLOCKS = [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17,
  18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49];
const FORMAT_M = 0; // the two format bits of level M

function rawDataModules(ver) {
  let n = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const align = Math.floor(ver / 7) + 2;
    n -= (25 * align - 10) * align - 55;
    if (ver >= 7) n -= 36;
  }
  return n;
}

function dataCodewords(ver) {
  return Math.floor(rawDataModules(ver) / 8) - ECC_PER_BLOCK[ver] * NUM_BLOCKS[ver];
}

/** capacity returns how many bytes fit in a version at level M. */
export function capacity(ver) {
  const countBits = ver < 10 ? 8 : 16;
  return Math.floor((dataCodewords(ver) * 8 - 4 - countBits) / 8);
}

function alignmentPositions(ver) {
  if (ver === 1) return [];
  const n = Math.floor(ver / 7) + 2;
  const step = Math.floor((ver * 8 + n * 3 + 5) / (n * 4 - 4)) * 2;
  const out = [6];
  for (let pos = ver * 4 + 10; out.length < n; pos -= step) out.splice(1, 0, pos);
  return out;
}

// GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
function gfMul(x, y) {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z;
}

function rsDivisor(degree) {
  const d = new Array(degree).fill(0);
  d[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < d.length; j++) {
      d[j] = gfMul(d[j], root);
      if (j + 1 < d.length) d[j] ^= d[j + 1];
    }
    root = gfMul(root, 0x02);
  }
  return d;
}

function rsRemainder(data, divisor) {
  const r = new Array(divisor.length).fill(0);
  for (const b of data) {
    const f = b ^ r.shift();
    r.push(0);
    for (let i = 0; i < divisor.length; i++) r[i] ^= gfMul(divisor[i], f);
  }
  return r;
}

function codewords(bytes, ver) {
  const bits = [];
  const put = (val, len) => { for (let i = len - 1; i >= 0; i--) bits.push((val >>> i) & 1); };
  put(0b0100, 4);
  put(bytes.length, ver < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const cap = dataCodewords(ver) * 8;
  put(0, Math.min(4, cap - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  const data = [];
  for (let i = 0; i < bits.length; i += 8) {
    let v = 0;
    for (let j = 0; j < 8; j++) v = (v << 1) | bits[i + j];
    data.push(v);
  }
  for (let pad = 0xec; data.length < dataCodewords(ver); pad ^= 0xec ^ 0x11) data.push(pad);

  // Split into blocks, add error correction, interleave.
  const nBlocks = NUM_BLOCKS[ver];
  const eccLen = ECC_PER_BLOCK[ver];
  const raw = Math.floor(rawDataModules(ver) / 8);
  const nShort = nBlocks - (raw % nBlocks);
  const shortLen = Math.floor(raw / nBlocks);
  const div = rsDivisor(eccLen);
  const blocks = [];
  for (let i = 0, k = 0; i < nBlocks; i++) {
    const dat = data.slice(k, k + shortLen - eccLen + (i < nShort ? 0 : 1));
    k += dat.length;
    const ecc = rsRemainder(dat, div);
    if (i < nShort) dat.push(0);
    blocks.push(dat.concat(ecc));
  }
  const out = [];
  for (let i = 0; i < blocks[0].length; i++) {
    for (let j = 0; j < blocks.length; j++) {
      if (i !== shortLen - eccLen || j >= nShort) out.push(blocks[j][i]);
    }
  }
  return out;
}

class Matrix {
  constructor(ver) {
    this.size = ver * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.fn = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
  }

  set(x, y, dark) { this.dark[y][x] = dark; this.fn[y][x] = true; }
}

function drawFunctionPatterns(m, ver) {
  const size = m.size;
  for (let i = 0; i < size; i++) { m.set(6, i, i % 2 === 0); m.set(i, 6, i % 2 === 0); }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        const x = cx + dx; const y = cy + dy;
        if (x >= 0 && x < size && y >= 0 && y < size) m.set(x, y, d !== 2 && d !== 4);
      }
    }
  }
  const pos = alignmentPositions(ver);
  const last = pos.length - 1;
  for (let i = 0; i <= last; i++) {
    for (let j = 0; j <= last; j++) {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) m.set(pos[i] + dx, pos[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }
  }
  drawFormat(m, 0); // reserves the format areas; redrawn with the real mask later
  if (ver >= 7) {
    let rem = ver;
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
    const bits = (ver << 12) | rem;
    for (let i = 0; i < 18; i++) {
      const bit = ((bits >>> i) & 1) === 1;
      const a = size - 11 + (i % 3); const b = Math.floor(i / 3);
      m.set(a, b, bit); m.set(b, a, bit);
    }
  }
}

function drawFormat(m, mask) {
  const data = (FORMAT_M << 3) | mask;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  const bits = ((data << 10) | rem) ^ 0x5412;
  const bit = (i) => ((bits >>> i) & 1) === 1;
  const size = m.size;
  for (let i = 0; i <= 5; i++) m.set(8, i, bit(i));
  m.set(8, 7, bit(6));
  m.set(8, 8, bit(7));
  m.set(7, 8, bit(8));
  for (let i = 9; i < 15; i++) m.set(14 - i, 8, bit(i));
  for (let i = 0; i < 8; i++) m.set(size - 1 - i, 8, bit(i));
  for (let i = 8; i < 15; i++) m.set(8, size - 15 + i, bit(i));
  m.set(8, size - 8, true);
}

function drawCodewords(m, data) {
  const size = m.size;
  let i = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const upward = ((right + 1) & 2) === 0;
        const y = upward ? size - 1 - vert : vert;
        if (!m.fn[y][x] && i < data.length * 8) {
          m.dark[y][x] = ((data[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

function applyMask(m, mask) {
  const f = MASKS[mask];
  for (let y = 0; y < m.size; y++) {
    for (let x = 0; x < m.size; x++) if (!m.fn[y][x] && f(x, y)) m.dark[y][x] = !m.dark[y][x];
  }
}

// penalty scores a finished symbol by the four rules of ISO/IEC 18004 §8.8.2.
function penalty(m) {
  const n = m.size;
  const at = (x, y) => m.dark[y][x];
  let score = 0;
  for (let pass = 0; pass < 2; pass++) {
    const get = pass === 0 ? (i, j) => at(j, i) : (i, j) => at(i, j);
    for (let i = 0; i < n; i++) {
      let run = 1;
      for (let j = 1; j <= n; j++) {
        if (j < n && get(i, j) === get(i, j - 1)) { run++; continue; }
        if (run >= 5) score += 3 + (run - 5);
        run = 1;
      }
      // Rule 3: 1:1:3:1:1 finder-like pattern with four light modules on one side.
      const light = (j) => j < 0 || j >= n || !get(i, j);
      for (let j = 0; j + 7 <= n; j++) {
        if (get(i, j) && !get(i, j + 1) && get(i, j + 2) && get(i, j + 3) && get(i, j + 4)
          && !get(i, j + 5) && get(i, j + 6)) {
          const before = light(j - 1) && light(j - 2) && light(j - 3) && light(j - 4);
          const after = light(j + 7) && light(j + 8) && light(j + 9) && light(j + 10);
          if (before || after) score += 40;
        }
      }
    }
  }
  let dark = 0;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      if (at(x, y)) dark++;
      if (x + 1 < n && y + 1 < n) {
        const c = at(x, y);
        if (c === at(x + 1, y) && c === at(x, y + 1) && c === at(x + 1, y + 1)) score += 3;
      }
    }
  }
  const total = n * n;
  score += (Math.ceil(Math.abs(dark * 20 - total * 10) / total) - 1) * 10;
  return score;
}

/**
 * encode makes a QR code of the given text (UTF-8, byte mode, level M).
 * @param {string|Uint8Array} input
 * @param {{minVersion?: number, mask?: number}} [opts] mask forces a mask (0–7), for tests
 * @returns {{version: number, mask: number, size: number, modules: boolean[][]}} modules[y][x], true = dark
 */
export function encode(input, opts = {}) {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  let ver = Math.max(1, opts.minVersion || 1);
  while (ver <= 40 && capacity(ver) < bytes.length) ver++;
  if (ver > 40) throw new Error('This text is too long for a QR code.');
  const data = codewords(bytes, ver);
  let best = null;
  const masks = opts.mask === undefined ? [0, 1, 2, 3, 4, 5, 6, 7] : [opts.mask];
  for (const mask of masks) {
    const m = new Matrix(ver);
    drawFunctionPatterns(m, ver);
    drawCodewords(m, data);
    applyMask(m, mask);
    drawFormat(m, mask);
    const score = masks.length > 1 ? penalty(m) : 0;
    if (!best || score < best.score) best = { score, mask, m };
  }
  return { version: ver, mask: best.mask, size: best.m.size, modules: best.m.dark };
}

/**
 * toSVG draws a code as an SVG element, built with DOM calls (no markup strings, no style).
 * @param {Document} doc
 * @param {{size: number, modules: boolean[][]}} qr
 * @param {{quiet?: number, title?: string}} [opts] quiet zone in modules (default 4)
 * @returns {SVGSVGElement}
 */
export function toSVG(doc, qr, opts = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const quiet = opts.quiet === undefined ? 4 : opts.quiet;
  const dim = qr.size + 2 * quiet;
  const svg = doc.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${dim} ${dim}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('role', 'img');
  if (opts.title) {
    svg.setAttribute('aria-label', opts.title);
    const t = doc.createElementNS(ns, 'title');
    t.textContent = opts.title;
    svg.appendChild(t);
  }
  const bg = doc.createElementNS(ns, 'rect');
  bg.setAttribute('width', String(dim));
  bg.setAttribute('height', String(dim));
  bg.setAttribute('fill', '#fff');
  svg.appendChild(bg);
  const path = doc.createElementNS(ns, 'path');
  path.setAttribute('d', svgPath(qr, quiet));
  path.setAttribute('fill', '#000');
  svg.appendChild(path);
  return svg;
}

/** svgPath returns the path data of the dark modules, offset by the quiet zone. */
export function svgPath(qr, quiet = 4) {
  let d = '';
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (qr.modules[y][x]) d += `M${x + quiet} ${y + quiet}h1v1h-1z`;
    }
  }
  return d;
}
