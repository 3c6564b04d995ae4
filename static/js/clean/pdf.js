// PDF: the document is written again from its catalogue, so that nothing unreachable survives.
//
// A PDF edited and saved in place keeps every earlier revision: incremental updates append new
// objects and leave the old ones (an earlier author, deleted text, old dates) in the file. So
// the cleaned PDF holds only the objects reachable from the document's catalogue, renumbered
// and written out with a fresh cross-reference table; streams are copied byte for byte.
//
// Removed: the document information dictionary (author, title, subject, keywords, creator and
// producer software, dates), XMP metadata streams (document and per object), document ids,
// editors' private data (PieceInfo), page thumbnails, last-modified dates, the names of comment
// authors and the dates of comments, digital signatures (they name the signer), every catalogue
// entry not on the allow-list, and earlier revisions. JPEG pictures inside are cleaned by the
// JPEG cleaner. Files attached to the PDF and JPEG 2000 pictures are not checked: the sender is
// warned. Encrypted PDFs, and PDFs whose structure is damaged, are not cleaned ("warn"): a PDF
// that cannot be rewritten safely is never called clean.

import { fail, latin1, Findings, inflate, enc } from './util.js';

const WS = new Uint8Array(256);
for (const c of [0, 9, 10, 12, 13, 32]) WS[c] = 1;
const DELIM = new Uint8Array(256);
for (const c of '()<>[]{}/%') DELIM[c.charCodeAt(0)] = 1;

const CATALOG_KEEP = new Set(['Type', 'Version', 'Extensions', 'Pages', 'PageLabels', 'Names', 'Dests', 'ViewerPreferences',
  'PageLayout', 'PageMode', 'Outlines', 'Threads', 'OpenAction', 'AA', 'URI', 'AcroForm', 'StructTreeRoot', 'MarkInfo',
  'Lang', 'OCProperties', 'OutputIntents', 'Collection', 'NeedsRendering', 'AF', 'DPartRoot']);
const DROP_ANY = { Metadata: 'Author, editing history and other details (XMP)', PieceInfo: 'Private data of the editing software (PieceInfo)',
  LastModified: 'Dates of the last changes', Thumb: 'Preview pictures of pages (thumbnails)', SpiderInfo: 'Web capture details (addresses and dates)' };
const MARKUP = new Set(['Text', 'FreeText', 'Line', 'Square', 'Circle', 'Polygon', 'PolyLine', 'Highlight', 'Underline', 'Squiggly',
  'StrikeOut', 'Stamp', 'Caret', 'Ink', 'FileAttachment', 'Sound', 'Redact', 'Popup', 'Polyline']);

const N = (s) => ({ t: 'n', s });

class Lexer {
  constructor(b) { this.b = b; }

  skip(i) {
    const b = this.b;
    for (;;) {
      while (i < b.length && WS[b[i]]) i++;
      if (b[i] !== 0x25) return i;
      while (i < b.length && b[i] !== 10 && b[i] !== 13) i++;
    }
  }

  word(i) {
    let j = i;
    while (j < this.b.length && !WS[this.b[j]] && !DELIM[this.b[j]]) j++;
    return latin1(this.b, i, j - i);
  }

  // value parses one object at i: -> [value, end]
  value(i, depth = 0) {
    const b = this.b;
    if (depth > 200) fail('objects are nested too deeply');
    i = this.skip(i);
    if (i >= b.length) fail('the file ends inside an object');
    const c = b[i];
    if (c === 0x2f) { // name
      let j = i + 1;
      while (j < b.length && !WS[b[j]] && !DELIM[b[j]]) j++;
      const raw = latin1(b, i, j - i);
      return [{ t: 'name', raw, s: decodeName(raw) }, j];
    }
    if (c === 0x28) { // literal string
      let j = i + 1;
      let d = 1;
      while (j < b.length && d > 0) {
        if (b[j] === 0x5c) j += 2;
        else { if (b[j] === 0x28) d++; else if (b[j] === 0x29) d--; j++; }
      }
      if (d !== 0) fail('a text string is not closed');
      return [{ t: 'str', raw: latin1(b, i, j - i) }, j];
    }
    if (c === 0x3c && b[i + 1] === 0x3c) { // dictionary
      const d = new Map();
      let j = i + 2;
      for (;;) {
        j = this.skip(j);
        if (b[j] === 0x3e && b[j + 1] === 0x3e) return [{ t: 'dict', v: d }, j + 2];
        const [k, kEnd] = this.value(j, depth + 1);
        if (k.t !== 'name') fail('a dictionary key is not a name');
        const [v, vEnd] = this.value(kEnd, depth + 1);
        d.set(k.s, v);
        j = vEnd;
      }
    }
    if (c === 0x3c) { // hex string
      const j = b.indexOf(0x3e, i);
      if (j < 0) fail('a hex string is not closed');
      return [{ t: 'str', raw: latin1(b, i, j + 1 - i) }, j + 1];
    }
    if (c === 0x5b) {
      const a = [];
      let j = i + 1;
      for (;;) {
        j = this.skip(j);
        if (b[j] === 0x5d) return [{ t: 'arr', v: a }, j + 1];
        const [v, e] = this.value(j, depth + 1);
        a.push(v);
        j = e;
      }
    }
    const w = this.word(i);
    if (!w) fail('unexpected character in an object');
    let end = i + w.length;
    if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(w)) {
      if (/^\d+$/.test(w)) {
        // "n g R" is a reference
        const j = this.skip(end);
        const g = this.word(j);
        if (/^\d+$/.test(g)) {
          const k = this.skip(j + g.length);
          if (this.b[k] === 0x52 && (k + 1 >= b.length || WS[b[k + 1]] || DELIM[b[k + 1]])) return [{ t: 'ref', n: Number(w), g: Number(g) }, k + 1];
        }
      }
      return [N(w), end];
    }
    if (w === 'true' || w === 'false' || w === 'null') return [{ t: 'kw', s: w }, end];
    fail(`unexpected word "${w.slice(0, 20)}" in an object`);
    return [null, end];
  }
}

function decodeName(raw) {
  return raw.slice(1).replace(/#([0-9a-fA-F]{2})/g, (m, h) => String.fromCharCode(parseInt(h, 16)));
}

const get = (d, k) => (d && d.t === 'dict' ? d.v.get(k) : undefined);
const nameIs = (v, s) => v && v.t === 'name' && v.s === s;

// ---------- the cross-reference chain ----------

async function decodeStream(pdf, dict, data) {
  const filter = get(dict, 'Filter');
  const filters = !filter ? [] : filter.t === 'arr' ? filter.v : [filter];
  let out = data;
  for (const fl of filters) {
    if (!nameIs(fl, 'FlateDecode')) fail('a stream is packed in a way sealdrop does not know');
    out = await inflate(out, 'deflate', 256 * 1024 * 1024);
  }
  let parms = get(dict, 'DecodeParms');
  if (parms && parms.t === 'arr') parms = parms.v[0];
  if (parms && parms.t === 'ref') parms = await pdf.resolve(parms);
  const pred = Number((get(parms, 'Predictor') || N('1')).s);
  if (pred >= 10) {
    const cols = Number((get(parms, 'Columns') || N('1')).s);
    const row = cols + 1;
    if (out.length % row) fail('a packed table is damaged');
    const res = new Uint8Array((out.length / row) * cols);
    for (let r = 0; r * row < out.length; r++) {
      const t = out[r * row];
      for (let k = 0; k < cols; k++) {
        const x = out[r * row + 1 + k];
        const up = r ? res[(r - 1) * cols + k] : 0;
        const left = k ? res[r * cols + k - 1] : 0;
        let v;
        if (t === 0) v = x; else if (t === 1) v = x + left; else if (t === 2) v = x + up;
        else if (t === 3) v = x + ((left + up) >> 1);
        else if (t === 4) { const ul = r && k ? res[(r - 1) * cols + k - 1] : 0; const p = left + up - ul; const pa = Math.abs(p - left); const pb = Math.abs(p - up); const pc = Math.abs(p - ul); v = x + (pa <= pb && pa <= pc ? left : pb <= pc ? up : ul); } else fail('a packed table is damaged');
        res[r * cols + k] = v & 0xff;
      }
    }
    out = res;
  } else if (pred !== 1) fail('a packed table uses an unknown predictor');
  return out;
}

class PDF {
  constructor(b) {
    this.b = b;
    this.lex = new Lexer(b);
    this.xref = new Map(); // num -> {type: 1, off} | {type: 2, stm, idx} | {type: 0}
    this.cache = new Map();
    this.objStreams = new Map();
    this.sections = 0;
    this.infos = [];
    this.ids = 0;
  }

  // object at a file offset: "n g obj value [stream]"
  objectAt(off, num) {
    const lex = this.lex;
    let i = lex.skip(off);
    const n = lex.word(i); i = lex.skip(i + n.length);
    const g = lex.word(i); i = lex.skip(i + g.length);
    const kw = lex.word(i);
    if (!/^\d+$/.test(n) || !/^\d+$/.test(g) || kw !== 'obj' || (num !== undefined && Number(n) !== num)) fail('the cross-reference table points to the wrong place');
    const [v, end] = lex.value(i + 3);
    const j = lex.skip(end);
    if (lex.word(j) === 'stream') {
      if (v.t !== 'dict') fail('a stream has no dictionary');
      let s = j + 6;
      if (this.b[s] === 13) s++;
      if (this.b[s] !== 10 && this.b[s - 1] !== 13) fail('a stream is damaged');
      if (this.b[s] === 10) s++;
      return { v, stream: { start: s }, end: s };
    }
    if (lex.word(j) !== 'endobj') fail('an object is not closed');
    return { v, end: j + 6 };
  }

  async streamRange(o) {
    let len = get(o.v, 'Length');
    if (len && len.t === 'ref') len = await this.resolve(len);
    if (!len || len.t !== 'n' || !/^\d+$/.test(len.s)) fail('a stream has no length');
    const a = o.stream.start;
    const e = a + Number(len.s);
    if (e > this.b.length) fail('a stream is cut short');
    let k = this.lex.skip(e);
    if (this.lex.word(k) !== 'endstream') fail('a stream has the wrong length');
    k = this.lex.skip(k + 9);
    if (this.lex.word(k) !== 'endobj') fail('an object is not closed');
    return [a, e];
  }

  async readXref(off, seen) {
    if (seen.has(off)) fail('the cross-reference chain loops');
    seen.add(off);
    if (seen.size > 1000) fail('too many revisions');
    this.sections++;
    const lex = this.lex;
    let i = lex.skip(off);
    let trailer;
    if (lex.word(i) === 'xref') {
      i += 4;
      for (;;) {
        i = lex.skip(i);
        const w = lex.word(i);
        if (w === 'trailer') break;
        const start = Number(w);
        i = lex.skip(i + w.length);
        const cw = lex.word(i);
        const count = Number(cw);
        if (!/^\d+$/.test(w) || !/^\d+$/.test(cw) || count > 10000000) fail('the cross-reference table is damaged');
        i += cw.length;
        for (let k = 0; k < count; k++) {
          i = lex.skip(i);
          const o = lex.word(i); i = lex.skip(i + o.length);
          const g = lex.word(i); i = lex.skip(i + g.length);
          const t = lex.word(i); i += t.length;
          if (!/^\d{1,10}$/.test(o) || !/^\d{1,5}$/.test(g) || (t !== 'n' && t !== 'f')) fail('the cross-reference table is damaged');
          if (!this.xref.has(start + k)) this.xref.set(start + k, t === 'n' ? { type: 1, off: Number(o) } : { type: 0 });
        }
      }
      [trailer] = lex.value(i + 7);
      const stm = get(trailer, 'XRefStm');
      if (stm && stm.t === 'n') await this.readXrefStream(Number(stm.s));
    } else {
      trailer = await this.readXrefStream(off);
    }
    if (trailer.t !== 'dict') fail('the trailer is damaged');
    if (get(trailer, 'Encrypt')) fail('the PDF is encrypted');
    if (!this.trailer) this.trailer = trailer;
    if (get(trailer, 'Info')) this.infos.push(get(trailer, 'Info'));
    if (get(trailer, 'ID')) this.ids++;
    const prev = get(trailer, 'Prev');
    if (prev) {
      if (prev.t !== 'n' || !/^\d+$/.test(prev.s)) fail('the cross-reference chain is damaged');
      await this.readXref(Number(prev.s), seen);
    }
  }

  async readXrefStream(off) {
    const o = this.objectAt(off);
    if (!o.stream || !nameIs(get(o.v, 'Type'), 'XRef')) fail('the cross-reference stream is damaged');
    const [a, e] = await this.streamRange(o);
    const data = await decodeStream(this, o.v, this.b.subarray(a, e));
    const W = get(o.v, 'W');
    if (!W || W.t !== 'arr' || W.v.length !== 3) fail('the cross-reference stream is damaged');
    const w = W.v.map((x) => Number(x.s));
    const size = Number((get(o.v, 'Size') || N('0')).s);
    const index = get(o.v, 'Index');
    const ranges = index && index.t === 'arr' ? index.v.map((x) => Number(x.s)) : [0, size];
    const row = w[0] + w[1] + w[2];
    if (!row || w.some((x) => x < 0 || x > 8)) fail('the cross-reference stream is damaged');
    const field = (p, n, d) => { if (!n) return d; let v = 0; for (let k = 0; k < n; k++) v = v * 256 + data[p + k]; return v; };
    let p = 0;
    for (let r = 0; r + 1 < ranges.length; r += 2) {
      for (let k = 0; k < ranges[r + 1]; k++) {
        if (p + row > data.length) fail('the cross-reference stream is cut short');
        const t = field(p, w[0], 1);
        const f2 = field(p + w[0], w[1], 0);
        const f3 = field(p + w[0] + w[1], w[2], 0);
        p += row;
        const num = ranges[r] + k;
        if (this.xref.has(num)) continue;
        if (t === 1) this.xref.set(num, { type: 1, off: f2 });
        else if (t === 2) this.xref.set(num, { type: 2, stm: f2, idx: f3 });
        else this.xref.set(num, { type: 0 });
      }
    }
    return o.v;
  }

  async get(num) {
    if (this.cache.has(num)) return this.cache.get(num);
    const e = this.xref.get(num);
    let o;
    if (!e || e.type === 0) o = { v: { t: 'kw', s: 'null' } };
    else if (e.type === 1) {
      o = this.objectAt(e.off, num);
      if (o.stream) o.range = await this.streamRange(o);
    } else {
      const objs = await this.objStream(e.stm);
      const at = objs.get(num);
      if (at === undefined) fail('an object is missing from its object stream');
      [o] = [{ v: at }];
    }
    this.cache.set(num, o);
    return o;
  }

  async objStream(num) {
    if (this.objStreams.has(num)) return this.objStreams.get(num);
    const e = this.xref.get(num);
    if (!e || e.type !== 1) fail('an object stream is missing');
    const o = this.objectAt(e.off, num);
    if (!o.stream || !nameIs(get(o.v, 'Type'), 'ObjStm')) fail('an object stream is damaged');
    const [a, z] = await this.streamRange(o);
    const data = await decodeStream(this, o.v, this.b.subarray(a, z));
    const n = Number((get(o.v, 'N') || N('0')).s);
    const first = Number((get(o.v, 'First') || N('0')).s);
    const lex = new Lexer(data);
    const map = new Map();
    let i = 0;
    const heads = [];
    for (let k = 0; k < n; k++) {
      i = lex.skip(i); const on = lex.word(i); i += on.length;
      i = lex.skip(i); const oo = lex.word(i); i += oo.length;
      if (!/^\d+$/.test(on) || !/^\d+$/.test(oo)) fail('an object stream is damaged');
      heads.push([Number(on), Number(oo)]);
    }
    for (const [on, oo] of heads) {
      if (first + oo >= data.length) fail('an object stream is damaged');
      map.set(on, lex.value(first + oo)[0]);
    }
    this.objStreams.set(num, map);
    return map;
  }

  async resolve(v) {
    let k = 0;
    while (v && v.t === 'ref') {
      if (k++ > 32) fail('references loop');
      v = (await this.get(v.n)).v;
    }
    return v;
  }
}

// ---------- writing ----------

function serialize(v, num) {
  switch (v.t) {
    case 'n': return v.s;
    case 'name': return v.raw;
    case 'str': return v.raw;
    case 'kw': return v.s;
    case 'ref': { const n = num(v.n); return n ? `${n} 0 R` : 'null'; }
    case 'arr': return `[${v.v.map((x) => serialize(x, num)).join(' ')}]`;
    case 'dict': {
      let s = '<<';
      for (const [k, x] of v.v) s += `/${encodeName(k)} ${serialize(x, num)}`;
      return s + '>>';
    }
    default: return fail('an object of an unknown kind');
  }
}

function encodeName(s) {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += c < 0x21 || c > 0x7e || DELIM[c] || c === 0x23 ? `#${c.toString(16).padStart(2, '0')}` : ch;
  }
  return out;
}

export async function cleanPDF(b, plan, ctx) {
  const f = new Findings();
  if (latin1(b, 0, 5) !== '%PDF-') fail('this is not a PDF');
  const version = /^%PDF-(\d\.\d)/.exec(latin1(b, 0, 16));
  const tail = latin1(b, Math.max(0, b.length - 2048));
  const sx = tail.lastIndexOf('startxref');
  if (sx < 0) fail('the cross-reference table is missing');
  const m = /^startxref\s+(\d+)/.exec(tail.slice(sx));
  if (!m) fail('the cross-reference table is missing');
  const pdf = new PDF(b);
  await pdf.readXref(Number(m[1]), new Set());
  const root = get(pdf.trailer, 'Root');
  if (!root || root.t !== 'ref') fail('the document catalogue is missing');
  for (const info of pdf.infos) {
    const d = await pdf.resolve(info);
    if (d && d.t === 'dict' && d.v.size) { f.remove('Author, title, software and dates (document information)'); break; }
  }
  if (pdf.ids) f.remove('Document identifiers');
  if (pdf.sections > 1) f.remove('Earlier versions kept inside the file (incremental updates)');
  // Walk everything reachable from the catalogue, cleaning dictionaries on the way.
  const order = [];
  const numbers = new Map(); // old num -> new num
  const out = new Map(); // old num -> {v, range?, data?}
  const queue = [root.n];
  numbers.set(root.n, 1);
  const refs = (v, list) => {
    if (!v) return;
    if (v.t === 'ref') list.push(v.n);
    else if (v.t === 'arr') for (const x of v.v) refs(x, list);
    else if (v.t === 'dict') for (const x of v.v.values()) refs(x, list);
  };
  const dropped = new Set();
  while (queue.length) {
    const num = queue.shift();
    const o = await pdf.get(num);
    let v = o.v;
    const isRoot = num === root.n;
    if (isRoot && (v.t !== 'dict' || !nameIs(get(v, 'Type'), 'Catalog'))) fail('the document catalogue is damaged');
    if (v.t === 'dict') {
      const type = get(v, 'Type');
      const sub = get(v, 'Subtype');
      if (o.range && (nameIs(type, 'Metadata') || nameIs(sub, 'XML'))) { f.remove(DROP_ANY.Metadata); dropped.add(num); v = { t: 'kw', s: 'null' }; }
      else if (nameIs(type, 'Sig') || (get(v, 'ByteRange') && get(v, 'Contents') && get(v, 'Filter'))) { f.remove('Digital signature (it names the signer)'); dropped.add(num); v = { t: 'kw', s: 'null' }; }
      else v = cleanDict(v, f, isRoot);
    } else if (v.t === 'arr') {
      v = { t: 'arr', v: v.v.map((x) => (x.t === 'dict' ? cleanDict(x, f, false) : x)) };
    }
    const entry = { v, range: dropped.has(num) ? null : o.range };
    if (entry.range && v.t === 'dict') {
      // The length is written directly: an indirect length object is not carried over.
      const d = new Map(v.v);
      d.set('Length', N(String(entry.range[1] - entry.range[0])));
      entry.v = v = { t: 'dict', v: d };
    }
    if (entry.range && v.t === 'dict') {
      const filter = get(v, 'Filter');
      const filters = !filter ? [] : filter.t === 'arr' ? filter.v : [filter];
      if (filters.some((x) => nameIs(x, 'JPXDecode'))) f.remain('JPEG 2000 pictures inside the PDF (not checked)');
      if (filters.length === 1 && nameIs(filters[0], 'DCTDecode') && ctx && ctx.nested) {
        const r = await ctx.nested(b.subarray(entry.range[0], entry.range[1]));
        if (r.failed || r.findings.remains.length) f.remain('A JPEG picture inside the PDF that could not be checked');
        else if (r.findings.removed.length) {
          for (const x of r.findings.removed) f.remove(`${x}, in a picture inside the PDF`);
          entry.data = r.bytes;
        }
      }
    }
    out.set(num, entry);
    order.push(num);
    const next = [];
    refs(v, next);
    for (const n of next) {
      if (numbers.has(n)) continue;
      const e = pdf.xref.get(n);
      if (!e || e.type === 0) continue; // a reference to nothing is written as null
      numbers.set(n, numbers.size + 1);
      queue.push(n);
    }
    if (numbers.size > 5000000) fail('the PDF has too many objects');
  }
  if (countUnused(pdf) > pdf.infos.filter((i) => i.t === 'ref').length) f.remove('Objects the document no longer uses (they can hold old or deleted content)');
  if (!f.removed.length) return f;
  // Objects that were dropped to null are still numbered; references to them become null.
  const num = (n) => (numbers.has(n) && !dropped.has(n) ? numbers.get(n) : 0);
  const offsets = [];
  let pos = 0;
  const put = (s) => { const u = typeof s === 'string' ? enc.encode(s) : s; plan.bytes(u); pos += u.length; };
  put(`%PDF-${version ? version[1] : '1.7'}\n`);
  put(new Uint8Array([0x25, 0xe2, 0xe3, 0xcf, 0xd3, 0x0a]));
  const sorted = [...numbers.entries()].sort((x, y) => x[1] - y[1]);
  for (const [old, nn] of sorted) {
    offsets[nn] = pos;
    const e = out.get(old);
    let v = e.v;
    if (e.range && v.t === 'dict') {
      const len = e.data ? e.data.length : e.range[1] - e.range[0];
      const d = new Map(v.v);
      d.set('Length', N(String(len)));
      v = { t: 'dict', v: d };
      put(`${nn} 0 obj\n${serialize(v, num)}\nstream\n`);
      if (e.data) put(e.data); else { plan.copy(e.range[0], e.range[1]); pos += e.range[1] - e.range[0]; }
      put('\nendstream\nendobj\n');
    } else {
      put(`${nn} 0 obj\n${serialize(v, num)}\nendobj\n`);
    }
  }
  const xrefAt = pos;
  let x = `xref\n0 ${sorted.length + 1}\n0000000000 65535 f \n`;
  for (let k = 1; k <= sorted.length; k++) x += `${String(offsets[k]).padStart(10, '0')} 00000 n \n`;
  put(x);
  put(`trailer\n<</Size ${sorted.length + 1}/Root 1 0 R>>\nstartxref\n${xrefAt}\n%%EOF\n`);
  return f;
}

// countUnused counts objects in the cross-reference tables that the document does not reach
// (object and cross-reference streams, which only hold other objects, excepted).
function countUnused(pdf) {
  let n = 0;
  for (const [num, e] of pdf.xref) {
    if (e.type === 0 || pdf.cache.has(num)) continue;
    if (e.type === 2) { n++; continue; }
    try {
      const o = pdf.objectAt(e.off, num);
      if (!nameIs(get(o.v, 'Type'), 'XRef') && !nameIs(get(o.v, 'Type'), 'ObjStm')) n++;
    } catch { n++; }
  }
  return n;
}

function cleanDict(v, f, isRoot) {
  const d = new Map();
  const sub = get(v, 'Subtype');
  const annot = sub && sub.t === 'name' && MARKUP.has(sub.s); // markup annotations (not form fields or links)
  for (const [k, x] of v.v) {
    if (isRoot && !CATALOG_KEEP.has(k)) { f.remove(DROP_ANY[k] || `Other document-level details (${k})`); continue; }
    if (DROP_ANY[k]) { f.remove(DROP_ANY[k]); continue; }
    if (annot && (k === 'T' || k === 'M' || k === 'CreationDate')) {
      f.remove(k === 'T' ? 'Names of comment authors' : 'Dates of comments');
      continue;
    }
    if (k === 'EF' || (k === 'EmbeddedFiles')) f.remain('Files attached to the PDF (not checked)');
    d.set(k, x.t === 'dict' ? cleanDict(x, f, false) : x.t === 'arr' ? { t: 'arr', v: x.v.map((y) => (y.t === 'dict' ? cleanDict(y, f, false) : y)) } : x);
  }
  return { t: 'dict', v: d };
}
