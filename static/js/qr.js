// QR codes of the links, made in the sender's browser so that the link, and the key in its
// fragment, never leave it. The symbol itself comes from qrcode-generator 2.0.4 (Kazuhiko Arase,
// MIT), vendored unmodified in static/vendor/qrcode-generator-2.0.4/ (its README says how to
// check it against npm). This module only hands it the bytes and draws its module matrix as SVG
// with DOM calls: no markup strings, no inline style, no canvas (Tor Browser blocks canvas
// read-back, and the CSP forbids inline style).
import qrcode from '../vendor/qrcode-generator-2.0.4/qrcode.js';
import { utf8Encode } from './bytes.js';
import { t } from './i18n.js';

/** MAX_BYTES is the most one QR code holds in byte mode at level M (version 40). */
export const MAX_BYTES = 2331;

// binaryString maps each byte to the UTF-16 code unit of the same value. The library's byte mode
// takes a string and keeps the low 8 bits of each code unit (its default stringToBytes, which we
// leave alone), so the symbol carries exactly these bytes: UTF-8 for text, anything for bytes.
function binaryString(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/**
 * encode makes the QR code of a text (as UTF-8) or of raw bytes: byte mode, error correction
 * level M, the smallest version that holds it, the mask the library scores best.
 * @param {string|Uint8Array} input
 * @returns {{version: number, size: number, modules: boolean[][]}} modules[y][x], true = dark
 */
export function encode(input) {
  const bytes = typeof input === 'string' ? utf8Encode(input) : input;
  if (bytes.length > MAX_BYTES) throw new Error(t('qr.too_long'));
  const symbol = qrcode(0, 'M'); // 0: the library picks the version
  symbol.addData(binaryString(bytes), 'Byte');
  symbol.make();
  const size = symbol.getModuleCount();
  const modules = [];
  for (let y = 0; y < size; y++) {
    const row = new Array(size);
    for (let x = 0; x < size; x++) row[x] = symbol.isDark(y, x) === true;
    modules.push(row);
  }
  return { version: (size - 17) / 4, size, modules };
}

/**
 * svgPath returns the path data of the dark modules, one rectangle per horizontal run of dark
 * modules in a row, offset by the quiet zone.
 * @param {{size: number, modules: boolean[][]}} qr
 * @param {number} [quiet] quiet zone in modules
 */
export function svgPath(qr, quiet = 4) {
  const parts = [];
  for (let y = 0; y < qr.size; y++) {
    const row = qr.modules[y];
    let x = 0;
    while (x < qr.size) {
      if (!row[x]) { x++; continue; }
      const start = x;
      while (x < qr.size && row[x]) x++;
      parts.push(`M${start + quiet} ${y + quiet}h${x - start}v1h-${x - start}z`);
    }
  }
  return parts.join('');
}

/**
 * toSVG draws a code as an SVG element, built with DOM calls: a light square with the quiet
 * zone, and one path of the dark modules.
 * @param {Document} doc
 * @param {{size: number, modules: boolean[][]}} qr
 * @param {{quiet?: number, title?: string}} [opts] quiet zone in modules (default 4); title
 *   names the image for screen readers
 * @returns {SVGSVGElement}
 */
export function toSVG(doc, qr, opts = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const quiet = opts.quiet === undefined ? 4 : opts.quiet;
  const side = String(qr.size + 2 * quiet);
  const el = (name, attrs) => {
    const e = doc.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const svg = el('svg', { viewBox: `0 0 ${side} ${side}`, 'shape-rendering': 'crispEdges', role: 'img' });
  if (opts.title) {
    svg.setAttribute('aria-label', opts.title);
    const title = el('title', {});
    title.textContent = opts.title;
    svg.appendChild(title);
  }
  svg.appendChild(el('rect', { width: side, height: side, fill: '#fff' }));
  svg.appendChild(el('path', { d: svgPath(qr, quiet), fill: '#000' }));
  return svg;
}
