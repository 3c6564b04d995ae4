// ISO base media files in one parser: MP4, MOV, M4A, 3GP videos and audio, and HEIC, HEIF and
// AVIF photos.
//
// The media data (mdat) is never read: only the box headers and the small boxes that describe
// the media (moov, meta) are, so a 60 MiB video costs its headers. The cleaned file is the
// rewritten header boxes plus slices of the original.
//
// Videos and audio (moov): an allow-list of boxes. Kept: the movie, track and media headers
// (their creation and modification times zeroed), edit lists, handler boxes (their names, which
// name the recording software, blanked), sample tables, track references and fragments.
// Removed: user data (udta: ©xyz GPS location, ©mak make, ©mod model, ©day date, ©swr
// software, iTunes ilst tags, cover art), meta boxes (Apple's mdta keys: location, make, model,
// software, creation date), XMP and other uuid boxes, producer reference times, padding that
// can hold old data, and tracks that are not video, sound or subtitles (timed metadata, timecode
// holding the time of day, hint tracks): their samples are overwritten with zeros. Chunk offsets
// (stco, co64) are rewritten for the new layout.
//
// Photos (HEIF meta): Exif and XMP items (and any other metadata item) are removed from the item
// list, the locations (iloc), references (iref) and property associations (ipma), and their
// bytes are overwritten with zeros; iloc offsets are rewritten for the new layout; XML boxes are
// removed; the colour profile is rebuilt by icc.js.

import { fail, latin1, u16be, u32be, u64be, put16be, put32be, put64be, Findings, concat } from './util.js';
import { cleanICC, sameBytes, ICC_LABEL } from './icc.js';

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis', 'mif2', 'MiHE', 'MiHB', 'MiHA', 'avio', 'jpeg', 'jpgs']);
const RAW_BRANDS = new Set(['crx ']);

/** bmffKind tells a photo (heif), an audio file (m4a), a video (mp4) or nothing from the first bytes. */
export function bmffKind(b) {
  if (b.length < 12) return '';
  const type = latin1(b, 4, 4);
  if (type === 'ftyp') {
    const major = latin1(b, 8, 4);
    if (RAW_BRANDS.has(major)) return 'tiff';
    if (HEIF_BRANDS.has(major)) return 'heif';
    if (major.startsWith('M4A') || major === 'M4B ' || major === 'M4P ') return 'm4a';
    return 'mp4';
  }
  if (['moov', 'mdat', 'wide', 'free', 'skip'].includes(type) && u32be(b, 0) >= 8) return 'mp4';
  return '';
}

// ---------- boxes ----------

function boxesIn(b, start, end) {
  const out = [];
  let i = start;
  while (i < end) {
    if (end - i < 8) {
      if (b.subarray(i, end).every((x) => x === 0)) break; // QuickTime's zero terminator
      fail('a box is cut short');
    }
    let size = u32be(b, i);
    const type = latin1(b, i + 4, 4);
    let hdr = 8;
    if (size === 1) { size = u64be(b, i + 8); hdr = 16; } else if (size === 0) size = end - i;
    if (size < hdr || i + size > end) fail(`the ${type} box is cut short`);
    if (type === 'uuid') hdr += 16;
    out.push({ type, at: i, hdr, end: i + size });
    i += size;
  }
  return out;
}

const find = (list, type) => list.find((x) => x.type === type);

function box(type, ...parts) {
  const body = concat(parts);
  const out = new Uint8Array(8 + body.length);
  put32be(out, 0, out.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  return out;
}

// W collects output bytes with "patch sites": places where a file offset is written later,
// once the new layout is known.
class W {
  constructor() { this.parts = []; this.size = 0; this.patches = []; }

  add(u8) { this.parts.push(u8); this.size += u8.length; return this; }

  addW(w) {
    for (const p of w.patches) this.patches.push({ ...p, at: p.at + this.size });
    for (const u of w.parts) this.add(u);
    return this;
  }

  bytes() { return concat(this.parts); }
}

function boxW(type, inner, full) {
  const w = new W();
  const h = new Uint8Array(8 + (full ? full.length : 0));
  put32be(h, 0, 8 + (full ? full.length : 0) + inner.size);
  for (let i = 0; i < 4; i++) h[4 + i] = type.charCodeAt(i);
  if (full) h.set(full, 8);
  w.add(h);
  w.addW(inner);
  return w;
}

const raw = (b, x) => new W().add(b.subarray(x.at, x.end));

// ---------- movies ----------

const TRACK_KINDS = new Set(['vide', 'soun', 'subt', 'sbtl', 'text', 'clcp', 'auxv']);
const DATE = 'Recording date and time (movie and track headers)';
const SOFTWARE = 'Name of the recording software (handler names)';
const USER_DATA = 'Location (GPS), device make and model, dates, software and titles (user data)';
const META = 'Location, device, software and dates (metadata box)';

function zeroTimes(b, x, f) {
  const p = b.slice(x.at, x.end);
  const o = x.hdr; // the payload (version, flags, times) starts after the box header
  const v = p[o];
  const n = v === 1 ? 8 : 4;
  let changed = false;
  for (let k = o + 4; k < o + 4 + 2 * n; k++) if (p[k]) { p[k] = 0; changed = true; }
  if (changed) f.remove(DATE);
  return new W().add(p);
}

function blankHandlerName(b, x, f) {
  const p = b.slice(x.at, x.end);
  const nameAt = x.hdr + 24;
  let changed = false;
  for (let k = nameAt; k < p.length; k++) if (p[k]) { p[k] = 0; changed = true; }
  if (changed) f.remove(SOFTWARE);
  return new W().add(p);
}

function cleanColr(b, x, f) {
  if (x.end - x.at < x.hdr + 4 || latin1(b, x.at + x.hdr, 4) !== 'prof' && latin1(b, x.at + x.hdr, 4) !== 'rICC') return raw(b, x);
  const prof = b.subarray(x.at + x.hdr + 4, x.end);
  const clean = cleanICC(prof);
  if (sameBytes(clean, prof)) return raw(b, x);
  f.remove(ICC_LABEL);
  return new W().add(box('colr', b.subarray(x.at + x.hdr, x.at + x.hdr + 4), clean));
}

// chunkTable gives the file ranges of a track's chunks from its sample table.
function chunkRanges(b, stbl) {
  const kids = boxesIn(b, stbl.at + stbl.hdr, stbl.end);
  const stsc = find(kids, 'stsc');
  const stsz = find(kids, 'stsz');
  const stco = find(kids, 'stco') || find(kids, 'co64');
  if (!stsc || !stco || !stsz) fail('a track\'s sample table is incomplete');
  const wide = stco.type === 'co64';
  const nChunks = u32be(b, stco.at + 12);
  if (stco.at + 16 + nChunks * (wide ? 8 : 4) > stco.end) fail('a chunk table is cut short');
  const offsets = [];
  for (let k = 0; k < nChunks; k++) offsets.push(wide ? u64be(b, stco.at + 16 + 8 * k) : u32be(b, stco.at + 16 + 4 * k));
  const fixed = u32be(b, stsz.at + 12);
  const nSamples = u32be(b, stsz.at + 16);
  if (!fixed && stsz.at + 20 + 4 * nSamples > stsz.end) fail('a sample table is cut short');
  const size = (s) => (fixed || u32be(b, stsz.at + 20 + 4 * s));
  const runs = u32be(b, stsc.at + 12);
  if (stsc.at + 16 + 12 * runs > stsc.end) fail('a sample-to-chunk table is cut short');
  const ranges = [];
  let s = 0;
  for (let r = 0; r < runs; r++) {
    const firstChunk = u32be(b, stsc.at + 16 + 12 * r);
    const per = u32be(b, stsc.at + 20 + 12 * r);
    const nextFirst = r + 1 < runs ? u32be(b, stsc.at + 16 + 12 * (r + 1)) : nChunks + 1;
    if (firstChunk < 1 || nextFirst < firstChunk || nextFirst > nChunks + 1) fail('a sample-to-chunk table is damaged');
    for (let c = firstChunk; c < nextFirst; c++) {
      let len = 0;
      for (let k = 0; k < per; k++) { if (s >= nSamples) fail('a sample table is damaged'); len += size(s++); }
      ranges.push([offsets[c - 1], offsets[c - 1] + len]);
    }
  }
  return ranges;
}

function handlerOf(b, mdia) {
  const h = find(boxesIn(b, mdia.at + mdia.hdr, mdia.end), 'hdlr');
  return h ? latin1(b, h.at + h.hdr + 8, 4) : '';
}

function cleanStbl(b, x, f) {
  const w = new W();
  for (const c of boxesIn(b, x.at + x.hdr, x.end)) {
    if (c.type === 'stco' || c.type === 'co64') {
      const wide = c.type === 'co64';
      const n = u32be(b, c.at + 12);
      if (c.at + 16 + n * (wide ? 8 : 4) > c.end) fail('a chunk table is cut short');
      const copy = new W().add(b.slice(c.at, c.end));
      for (let k = 0; k < n; k++) copy.patches.push({ at: 16 + k * (wide ? 8 : 4), wide, old: wide ? u64be(b, c.at + 16 + 8 * k) : u32be(b, c.at + 16 + 4 * k) });
      w.addW(copy);
    } else if (['stsd', 'stts', 'ctts', 'cslg', 'stss', 'stps', 'stsc', 'stsz', 'stz2', 'sdtp', 'sbgp', 'sgpd', 'subs', 'saiz', 'saio', 'padb', 'stdp'].includes(c.type)) {
      w.addW(raw(b, c));
    } else {
      f.remove(`Other embedded details (${c.type})`);
    }
  }
  return boxW('stbl', w);
}

function cleanGeneric(b, x, f, rules) {
  const w = new W();
  for (const c of boxesIn(b, x.at + x.hdr, x.end)) {
    const r = rules[c.type];
    if (r === undefined) {
      if (DROP_LABELS[c.type] !== '') f.remove(DROP_LABELS[c.type] || `Other embedded details (${c.type.replace(/[^\x20-\x7e]/g, '?')})`);
    } else if (r === true) {
      w.addW(raw(b, c));
    } else {
      w.addW(r(b, c, f));
    }
  }
  return boxW(x.type, w);
}

const DROP_LABELS = { udta: USER_DATA, meta: META, uuid: 'Extra details (XMP or maker data)', free: '', skip: '', wide: '', load: '', iods: '' };

const MINF = { vmhd: true, smhd: true, hmhd: true, nmhd: true, sthd: true, gmhd: true, dinf: (b, x) => checkDinf(b, x), stbl: cleanStbl, hdlr: blankHandlerName };
const MDIA = { mdhd: zeroTimes, hdlr: blankHandlerName, minf: (b, x, f) => cleanGeneric(b, x, f, MINF), elng: true };
const TRAK = { tkhd: zeroTimes, edts: true, tref: true, tapt: true, mdia: (b, x, f) => cleanGeneric(b, x, f, MDIA), txas: true };
const MVEX = { mehd: true, trex: true, trep: true, leva: true };

function checkDinf(b, x) {
  const dref = find(boxesIn(b, x.at + x.hdr, x.end), 'dref');
  if (dref) {
    const n = u32be(b, dref.at + 12);
    const entries = boxesIn(b, dref.at + 16, dref.end);
    if (entries.length !== n) fail('a data reference table is damaged');
    for (const e of entries) if (!(b[e.at + e.hdr + 3] & 1)) fail('the media refers to another file');
  }
  return raw(b, x);
}

function cleanMoov(b, x, f, blank) {
  const kids = boxesIn(b, x.at + x.hdr, x.end);
  if (find(kids, 'cmov')) fail('compressed movie headers are not supported');
  // First pass: which tracks go (not picture, sound or subtitles).
  const gone = new Set();
  for (const c of kids.filter((k) => k.type === 'trak')) {
    const tk = boxesIn(b, c.at + c.hdr, c.end);
    const mdia = find(tk, 'mdia');
    const tkhd = find(tk, 'tkhd');
    if (!mdia || !tkhd) fail('a track is incomplete');
    const kind = handlerOf(b, mdia);
    if (TRACK_KINDS.has(kind)) continue;
    c.gone = true;
    gone.add(u32be(b, tkhd.at + tkhd.hdr + (b[tkhd.at + tkhd.hdr] === 1 ? 20 : 12)));
    f.remove(kind === 'tmcd' ? 'Timecode track (the time of day of the recording)' : kind === 'meta' || kind === 'mdta'
      ? 'Timed metadata track (such as location or camera data)' : `A track that is not picture or sound (${kind.replace(/[^\x20-\x7e]/g, '?') || 'unnamed'})`);
    const minf = find(boxesIn(b, mdia.at + mdia.hdr, mdia.end), 'minf');
    const stbl = minf && find(boxesIn(b, minf.at + minf.hdr, minf.end), 'stbl');
    if (!stbl) fail('a track is incomplete');
    for (const r of chunkRanges(b, stbl)) blank.push(r);
  }
  // Track references to a removed track are removed with it.
  const tref = (bb, t) => {
    const w = new W();
    for (const r of boxesIn(bb, t.at + t.hdr, t.end)) {
      const ids = [];
      for (let o = r.at + r.hdr; o + 4 <= r.end; o += 4) ids.push(u32be(bb, o));
      const keep = ids.filter((id) => !gone.has(id));
      if (!keep.length) continue;
      const body = new Uint8Array(keep.length * 4);
      keep.forEach((id, k) => put32be(body, 4 * k, id));
      w.add(box(r.type, body));
    }
    return boxW('tref', w);
  };
  const trakRules = { ...TRAK, tref };
  const w = new W();
  for (const c of kids) {
    if (c.type === 'trak') {
      if (!c.gone) w.addW(cleanGeneric(b, c, f, trakRules));
    } else if (c.type === 'mvhd') {
      w.addW(zeroTimes(b, c, f));
    } else if (c.type === 'mvex') {
      w.addW(cleanGeneric(b, c, f, MVEX));
    } else if (c.type === 'iods') {
      w.addW(raw(b, c));
    } else if (DROP_LABELS[c.type] !== '') {
      f.remove(DROP_LABELS[c.type] || `Other embedded details (${c.type.replace(/[^\x20-\x7e]/g, '?')})`);
    }
  }
  return boxW('moov', w);
}

// ---------- HEIF ----------

function readN(b, o, n) { return n === 0 ? 0 : n === 4 ? u32be(b, o) : n === 8 ? u64be(b, o) : n === 2 ? u16be(b, o) : fail('a field has an unknown size'); }

function putN(b, o, n, v) {
  if (n === 4) { if (v > 0xffffffff) fail('an offset is too large'); put32be(b, o, v); } else if (n === 8) put64be(b, o, v);
  else if (n === 2) put16be(b, o, v);
  else if (v !== 0) fail('an offset cannot be written');
}

function parseIloc(b, x) {
  let o = x.at + x.hdr;
  const v = b[o];
  const sizes = u16be(b, o + 4);
  const offSize = sizes >> 12;
  const lenSize = (sizes >> 8) & 15;
  const baseSize = (sizes >> 4) & 15;
  const idxSize = v === 1 || v === 2 ? sizes & 15 : 0;
  o += 6;
  const count = v < 2 ? u16be(b, o) : u32be(b, o);
  o += v < 2 ? 2 : 4;
  const items = [];
  for (let k = 0; k < count; k++) {
    const start = o;
    const id = v < 2 ? u16be(b, o) : u32be(b, o);
    o += v < 2 ? 2 : 4;
    let method = 0;
    if (v === 1 || v === 2) { method = u16be(b, o) & 15; o += 2; }
    o += 2; // data reference index
    const baseAt = o;
    const base = readN(b, o, baseSize);
    o += baseSize;
    const n = u16be(b, o);
    o += 2;
    const extents = [];
    for (let e = 0; e < n; e++) {
      o += idxSize;
      const offAt = o;
      const off = readN(b, o, offSize);
      o += offSize;
      const len = readN(b, o, lenSize);
      o += lenSize;
      extents.push({ offAt, off, len });
    }
    if (o > x.end) fail('the item locations are cut short');
    items.push({ id, method, base, baseAt, extents, start, end: o });
  }
  return { v, offSize, baseSize, head: b.subarray(x.at + x.hdr, x.at + x.hdr + 6), items };
}

function itemTypes(b, iinf) {
  const v = b[iinf.at + iinf.hdr];
  const first = iinf.at + iinf.hdr + (v === 0 ? 6 : 8);
  const entries = boxesIn(b, first, iinf.end);
  const out = [];
  for (const e of entries) {
    if (e.type !== 'infe') fail('the item list is damaged');
    const ev = b[e.at + 8];
    if (ev < 2) { out.push({ e, id: u16be(b, e.at + 12), type: 'old ' }); continue; }
    const id = ev === 2 ? u16be(b, e.at + 12) : u32be(b, e.at + 12);
    const typeAt = e.at + 12 + (ev === 2 ? 2 : 4) + 2;
    const type = latin1(b, typeAt, 4);
    let contentType = '';
    if (type === 'mime') {
      const nameEnd = b.indexOf(0, typeAt + 4);
      const ctEnd = nameEnd < 0 ? -1 : b.indexOf(0, nameEnd + 1);
      if (ctEnd > 0 && ctEnd < e.end) contentType = latin1(b, nameEnd + 1, ctEnd - nameEnd - 1);
    }
    out.push({ e, id, type, contentType });
  }
  return { v, entries: out };
}

const META_ITEMS = { Exif: 'GPS location, camera details and dates (EXIF)', mime: 'Author, editing history and other details (XMP)', 'uri ': 'Extra metadata item' };

function cleanHeifMeta(b, x, f, blank) {
  const kids = boxesIn(b, x.at + x.hdr + 4, x.end); // meta is a full box: version and flags first
  const iinf = find(kids, 'iinf');
  const iloc = find(kids, 'iloc');
  const removed = new Set();
  const types = iinf ? itemTypes(b, iinf) : { entries: [] };
  for (const it of types.entries) {
    if (it.type === 'old ') fail('old item entries are not supported');
    if (META_ITEMS[it.type] && !(it.type === 'mime' && /^image\//.test(it.contentType))) {
      removed.add(it.id);
      f.remove(it.type === 'mime' && !/rdf\+xml/.test(it.contentType) ? 'Extra metadata item' : META_ITEMS[it.type]);
    }
  }
  const il = iloc ? parseIloc(b, iloc) : null;
  const idat = find(kids, 'idat');
  let idatCopy = idat ? b.slice(idat.at, idat.end) : null;
  if (il) {
    for (const item of il.items) {
      if (!removed.has(item.id)) continue;
      for (const e of item.extents) {
        const a = item.base + e.off;
        if (item.method === 0) blank.push([a, a + e.len]);
        else if (item.method === 1 && idatCopy) {
          if (a + e.len > idatCopy.length - idat.hdr) fail('an item is outside its data box');
          idatCopy.fill(0, idat.hdr + a, idat.hdr + a + e.len);
        } else fail('an item is stored in a way sealdrop does not know');
      }
    }
  }
  const w = new W();
  for (const c of kids) {
    if (c.type === 'iinf') {
      const list = types.entries.filter((t) => !removed.has(t.id));
      const inner = new W();
      for (const t of list) inner.add(b.subarray(t.e.at, t.e.end));
      const head = new Uint8Array(4 + (types.v === 0 ? 2 : 4));
      head.set(b.subarray(c.at + c.hdr, c.at + c.hdr + 4));
      if (types.v === 0) put16be(head, 4, list.length); else put32be(head, 4, list.length);
      w.addW(boxW('iinf', inner, head));
    } else if (c.type === 'iloc') {
      const inner = new W();
      const head = b.slice(c.at + c.hdr, c.at + c.hdr + 6 + (il.v < 2 ? 2 : 4));
      const kept = il.items.filter((it) => !removed.has(it.id));
      if (il.v < 2) put16be(head, 6, kept.length); else put32be(head, 6, kept.length);
      for (const it of kept) {
        const entry = b.slice(it.start, it.end);
        const ww = new W().add(entry);
        if (it.method === 0) {
          ww.patches.push({
            at: 0, item: true, base: it.base, baseAt: it.baseAt - it.start, baseSize: il.baseSize, offSize: il.offSize,
            extents: it.extents.map((e) => ({ at: e.offAt - it.start, off: e.off, len: e.len })),
          });
        }
        inner.addW(ww);
      }
      w.addW(boxW('iloc', inner, head));
    } else if (c.type === 'iref') {
      const v = b[c.at + c.hdr];
      const idSize = v === 0 ? 2 : 4;
      const inner = new W();
      for (const r of boxesIn(b, c.at + c.hdr + 4, c.end)) {
        const from = readN(b, r.at + 8, idSize);
        if (removed.has(from)) continue;
        const n = u16be(b, r.at + 8 + idSize);
        const to = [];
        for (let k = 0; k < n; k++) to.push(readN(b, r.at + 10 + idSize + k * idSize, idSize));
        const keep = to.filter((t) => !removed.has(t));
        if (!keep.length) continue;
        const body = new Uint8Array(idSize + 2 + keep.length * idSize);
        putN(body, 0, idSize, from);
        put16be(body, idSize, keep.length);
        keep.forEach((t, k) => putN(body, idSize + 2 + k * idSize, idSize, t));
        inner.add(box(r.type, body));
      }
      w.addW(boxW('iref', inner, b.subarray(c.at + c.hdr, c.at + c.hdr + 4)));
    } else if (c.type === 'iprp') {
      w.addW(cleanIprp(b, c, f, removed));
    } else if (c.type === 'idat') {
      w.add(idatCopy);
    } else if (['hdlr', 'pitm', 'dinf', 'grpl', 'ipmc'].includes(c.type)) {
      if (c.type === 'dinf') checkDinf(b, c);
      w.addW(c.type === 'hdlr' ? blankHandlerName(b, c, f) : raw(b, c));
    } else {
      f.remove(c.type === 'xml ' || c.type === 'bxml' ? 'Extra details (XML metadata)' : `Other embedded details (${c.type})`);
    }
  }
  return boxW('meta', w, b.subarray(x.at + x.hdr, x.at + x.hdr + 4));
}

function cleanIprp(b, x, f, removed) {
  const w = new W();
  for (const c of boxesIn(b, x.at + x.hdr, x.end)) {
    if (c.type === 'ipco') {
      const inner = new W();
      for (const p of boxesIn(b, c.at + c.hdr, c.end)) inner.addW(p.type === 'colr' ? cleanColr(b, p, f) : raw(b, p));
      w.addW(boxW('ipco', inner));
    } else if (c.type === 'ipma') {
      const v = b[c.at + c.hdr];
      const flags = b[c.at + c.hdr + 3];
      let o = c.at + c.hdr + 4;
      const n = u32be(b, o);
      o += 4;
      const inner = new W();
      let kept = 0;
      for (let k = 0; k < n; k++) {
        const start = o;
        const id = v < 1 ? u16be(b, o) : u32be(b, o);
        o += v < 1 ? 2 : 4;
        const m = b[o];
        o += 1 + m * (flags & 1 ? 2 : 1);
        if (o > c.end) fail('the property table is cut short');
        if (removed.has(id)) continue;
        inner.add(b.subarray(start, o));
        kept++;
      }
      const head = b.slice(c.at + c.hdr, c.at + c.hdr + 8);
      put32be(head, 4, kept);
      w.addW(boxW('ipma', inner, head));
    } else {
      w.addW(raw(b, c));
    }
  }
  return boxW('iprp', w);
}

// ---------- the file ----------

const MAX_HEADER = 64 * 1024 * 1024;

export async function cleanBMFF(src, plan) {
  const f = new Findings();
  // Top-level boxes, read header by header.
  const top = [];
  for (let i = 0; i < src.size;) {
    const h = await src.read(i, 16);
    if (h.length < 8) {
      if (h.every((x) => x === 0)) break;
      fail('a box is cut short');
    }
    let size = u32be(h, 0);
    const type = latin1(h, 4, 4);
    let hdr = 8;
    if (size === 1) { if (h.length < 16) fail('a box is cut short'); size = u64be(h, 8); hdr = 16; } else if (size === 0) size = src.size - i;
    if (size < hdr || i + size > src.size) fail(`the ${type.replace(/[^\x20-\x7e]/g, '?')} box is cut short`);
    if (!/^[\x20-\x7e]{4}$/.test(type)) fail('a box has a damaged name');
    top.push({ type, at: i, hdr, end: i + size });
    i += size;
  }
  if (!top.length || (top[0].type !== 'ftyp' && !['moov', 'mdat', 'wide', 'free', 'skip'].includes(top[0].type))) fail('this is not an MP4, MOV or HEIF file');
  const items = []; // {w: W} new bytes, or {a, b} kept range
  const blank = [];
  let fragmented = false;
  let hasMedia = false;
  for (const x of top) {
    const needRead = x.type === 'moov' || x.type === 'meta';
    if (needRead && x.end - x.at > MAX_HEADER) fail('the headers are too large to check here');
    if (x.type === 'ftyp' || x.type === 'mdat' || x.type === 'sidx' || x.type === 'styp' || x.type === 'ssix') {
      items.push({ a: x.at, b: x.end });
      if (x.type === 'mdat') hasMedia = true;
    } else if (x.type === 'moof') {
      fragmented = true;
      const b = await src.read(x.at, Math.min(x.end - x.at, MAX_HEADER));
      for (const traf of boxesIn(b, x.hdr, b.length).filter((c) => c.type === 'traf')) {
        const tfhd = find(boxesIn(b, traf.at + 8, traf.end), 'tfhd');
        if (tfhd && (b[tfhd.at + 11] & 1)) fail('a movie fragment uses absolute offsets');
        for (const c of boxesIn(b, traf.at + 8, traf.end)) if (c.type === 'udta' || c.type === 'meta' || c.type === 'uuid') fail('a movie fragment holds extra details');
      }
      items.push({ a: x.at, b: x.end });
    } else if (x.type === 'moov') {
      const b = await src.read(x.at, x.end - x.at);
      const local = { at: 0, hdr: x.hdr, end: b.length, type: 'moov' };
      items.push({ w: cleanMoov(b, local, f, blank) });
      hasMedia = true;
    } else if (x.type === 'meta') {
      const b = await src.read(x.at, x.end - x.at);
      const local = { at: 0, hdr: x.hdr, end: b.length, type: 'meta' };
      const h = find(boxesIn(b, x.hdr + 4, b.length), 'hdlr');
      if (h && latin1(b, h.at + h.hdr + 8, 4) === 'pict') {
        items.push({ w: cleanHeifMeta(b, local, f, blank) });
        hasMedia = true;
      } else {
        f.remove(META);
      }
    } else if (x.type === 'free' || x.type === 'skip' || x.type === 'wide') {
      const n = x.end - x.at - x.hdr;
      const body = n > 0 && n <= 1 << 20 ? await src.read(x.at + x.hdr, n) : null;
      if (n > 0 && (!body || !body.every((c) => c === 0))) f.remove('Unused space that can hold old data');
    } else if (x.type === 'mfra') {
      // the random-access index of a fragmented file holds absolute offsets: dropped
    } else {
      f.remove({ udta: USER_DATA, uuid: 'Extra details (XMP or maker data)', prft: 'Time of recording (producer reference time)', emsg: 'Event messages' }[x.type]
        || `Other embedded details (${x.type})`);
    }
  }
  if (!hasMedia) fail('there are no media headers');
  if (!f.removed.length && !blank.length) return f;
  // Layout: new positions of kept ranges, then offsets patched.
  let pos = 0;
  const kept = [];
  for (const it of items) {
    if (it.w) { it.pos = pos; pos += it.w.size; } else { kept.push({ a: it.a, b: it.b, pos }); pos += it.b - it.a; }
  }
  const remap = (off, len) => {
    for (const k of kept) if (off >= k.a && off + len <= k.b) return k.pos + (off - k.a);
    return fail('a chunk of media lies outside the kept data');
  };
  for (const it of items) {
    if (!it.w) continue;
    const bytes = it.w.bytes();
    for (const p of it.w.patches) {
      if (p.item) {
        // An item's extents are at base + offset. With a base, the base moves and every extent
        // must move with it; without one, each offset is rewritten.
        if (p.baseSize) {
          const e0 = p.extents[0];
          const nb = e0 ? remap(p.base + e0.off, e0.len) - e0.off : p.base;
          for (const e of p.extents) if (nb < 0 || remap(p.base + e.off, e.len) !== nb + e.off) fail('an item offset cannot be written');
          putN(bytes, p.at + p.baseAt, p.baseSize, nb);
        } else {
          for (const e of p.extents) putN(bytes, p.at + e.at, p.offSize, remap(e.off, e.len));
        }
      } else if (p.wide) {
        put64be(bytes, p.at, remap(p.old, 0));
      } else {
        put32be(bytes, p.at, remap(p.old, 0));
      }
    }
    it.bytes = bytes;
  }
  blank.sort((p, q) => p[0] - q[0]);
  for (const it of items) {
    if (it.bytes) { plan.bytes(it.bytes); continue; }
    let a = it.a;
    for (const [s, e] of blank) {
      if (e <= a || s >= it.b) continue;
      const from = Math.max(s, a);
      const to = Math.min(e, it.b);
      plan.copy(a, from);
      plan.bytes(new Uint8Array(to - from));
      a = to;
    }
    plan.copy(a, it.b);
  }
  return f;
}
