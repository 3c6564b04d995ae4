// ZIP archives, and the Office (docx, xlsx, pptx) and OpenDocument (odt, ods, odp, odg) files
// that are ZIP archives inside.
//
// The archive is written again: every member keeps its name and contents (cleaned by its own
// cleaner: pictures by the image cleaners, Office parts by ooxml.js, OpenDocument parts by
// odf.js, documents inside documents recursively), and loses its date and time (all set to
// 1980-01-01 00:00), its extra fields (owner ids, exact times, the OS that wrote it), its
// comment and its permissions; the archive comment and anything outside the members go too.
// Members that are not changed are copied compressed as they were, without being packed
// again. Encrypted archives and ZIP64 are not cleaned: the sender is warned.

import { fail, latin1, startsWith, u16le, u32le, put16le, put32le, crc32, inflate, deflate, Findings, utf8, Source, sameBytes } from './util.js';
import { officePlan } from './ooxml.js';
import { odfPlan } from './odf.js';

/** zipKind guesses an Office or OpenDocument kind from the first bytes (refined when cleaning). */
export function zipKind(head) {
  if (startsWith(head, 'mimetype', 30)) {
    const m = latin1(head, 38 + u16le(head, 28), 80);
    if (m.startsWith('application/epub+zip')) return 'epub';
    const od = /^application\/vnd\.oasis\.opendocument\.(text|spreadsheet|presentation|graphics)/.exec(m);
    if (od) return { text: 'odt', spreadsheet: 'ods', presentation: 'odp', graphics: 'odg' }[od[1]];
  }
  const s = latin1(head, 0, Math.min(head.length, 65536));
  if (s.includes('[Content_Types].xml')) {
    if (s.includes('word/')) return 'docx';
    if (s.includes('xl/')) return 'xlsx';
    if (s.includes('ppt/')) return 'pptx';
  }
  return 'zip';
}

const DOS_DATE = 0x0021; // 1980-01-01
const MAX_MEMBER = 256 * 1024 * 1024;
const MAX_MEMBERS = 20000;

async function readCentral(src) {
  const tailLen = Math.min(src.size, 65557);
  const tail = await src.read(src.size - tailLen, tailLen);
  let e = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 5 && tail[i + 3] === 6) { e = i; break; }
  }
  if (e < 0) fail('the archive\'s table of contents is missing');
  const eocd = src.size - tailLen + e;
  const commentLen = u16le(tail, e + 20);
  if (e + 22 + commentLen !== tail.length) fail('the archive\'s table of contents is damaged');
  const disk = u16le(tail, e + 4);
  const count = u16le(tail, e + 10);
  const cdSize = u32le(tail, e + 12);
  const cdOff = u32le(tail, e + 16);
  if (count === 0xffff || cdOff === 0xffffffff || cdSize === 0xffffffff) fail('very large (ZIP64) archives are not supported');
  if (disk !== 0 || u16le(tail, e + 6) !== 0 || u16le(tail, e + 8) !== count) fail('split archives are not supported');
  if (count > MAX_MEMBERS) fail('the archive holds too many files');
  if (cdOff + cdSize !== eocd) fail('the archive\'s table of contents is damaged');
  const cd = await src.read(cdOff, cdSize);
  const entries = [];
  let o = 0;
  for (let k = 0; k < count; k++) {
    if (o + 46 > cd.length || u32le(cd, o) !== 0x02014b50) fail('the archive\'s table of contents is damaged');
    const nameLen = u16le(cd, o + 28);
    const extraLen = u16le(cd, o + 30);
    const commLen = u16le(cd, o + 32);
    const nameBytes = cd.slice(o + 46, o + 46 + nameLen);
    entries.push({
      flags: u16le(cd, o + 8), method: u16le(cd, o + 10), time: u16le(cd, o + 12), date: u16le(cd, o + 14),
      crc: u32le(cd, o + 16), csize: u32le(cd, o + 20), usize: u32le(cd, o + 24), nameBytes,
      name: utf8.decode(nameBytes), extraLen, commLen, attrs: u32le(cd, o + 38), local: u32le(cd, o + 42),
    });
    o += 46 + nameLen + extraLen + commLen;
  }
  if (o !== cd.length) fail('the archive\'s table of contents is damaged');
  return { entries, cdOff, commentLen };
}

/**
 * cleanZip cleans a ZIP archive (Office, OpenDocument or plain) into plan.
 * ctx.nested(bytes|Blob) cleans a member: {bytes, kind, findings, failed}.
 * @returns {Promise<{kind: string, findings: Findings}>}
 */
export async function cleanZip(src, plan, ctx) {
  const f = new Findings();
  const { entries, cdOff, commentLen } = await readCentral(src);
  if (commentLen) f.remove('Archive comment');
  // Local headers: the data of each member, in file order; nothing may overlap.
  const order = [...entries].sort((a, b) => a.local - b.local);
  let pos = 0;
  for (const e of order) {
    if (e.flags & 1) fail('the archive is encrypted');
    if (e.method !== 0 && e.method !== 8) fail('a file inside uses a compression sealdrop does not know');
    if (e.local < pos) fail('files inside the archive overlap');
    if (e.local > pos) f.remove(pos === 0 ? 'Data before the archive' : 'Hidden data between the files of the archive');
    const h = await src.read(e.local, 30);
    if (h.length < 30 || u32le(h, 0) !== 0x04034b50) fail('a file inside the archive is damaged');
    const nl = u16le(h, 26);
    const xl = u16le(h, 28);
    const name = await src.read(e.local + 30, nl);
    if (latin1(name) !== latin1(e.nameBytes)) fail('the archive\'s names do not match');
    if (xl || e.extraLen) e.hadExtra = true;
    e.data = e.local + 30 + nl + xl;
    pos = e.data + e.csize;
    if (e.flags & 8) {
      // A data descriptor follows (with or without its signature).
      const d = await src.read(pos, 16);
      pos += u32le(d, 0) === 0x08074b50 ? 16 : 12;
    }
    if (pos > cdOff) fail('a file inside the archive is cut short');
  }
  if (pos < cdOff) f.remove('Hidden data between the files of the archive');
  const names = new Set(entries.map((e) => e.name));
  let kind = 'zip';
  let rules = null;
  if (names.has('[Content_Types].xml')) {
    kind = names.has('word/document.xml') ? 'docx' : names.has('xl/workbook.xml') ? 'xlsx' : names.has('ppt/presentation.xml') ? 'pptx' : 'zip';
    rules = officePlan(names);
  } else if (order[0] && order[0].name === 'mimetype') {
    const m = latin1(await src.read(order[0].data, Math.min(order[0].csize, 100)));
    const od = /^application\/vnd\.oasis\.opendocument\.(text|spreadsheet|presentation|graphics)/.exec(m);
    if (od) {
      kind = { text: 'odt', spreadsheet: 'ods', presentation: 'odp', graphics: 'odg' }[od[1]];
      rules = odfPlan(names);
    } else if (m.startsWith('application/epub+zip')) {
      fail('e-books are not cleaned');
    }
  }
  // What becomes of each member.
  const out = [];
  for (const e of order) {
    const verdict = rules ? rules.verdict(e.name) : { keep: true };
    if (!verdict.keep) { if (verdict.label) f.remove(verdict.label); continue; }
    if (e.name.endsWith('/')) {
      if (e.usize !== 0) fail('a folder inside the archive holds data');
      out.push({ e, data: new Uint8Array(0), changed: false });
      continue;
    }
    let bytes = null;
    let member = null;
    const rewrite = rules && rules.rewrites(e.name);
    if (e.method === 0 && !rewrite) {
      if (e.csize !== e.usize) fail('a file inside the archive is damaged');
      member = src.blob ? src.slice(e.data, e.data + e.csize) : await src.read(e.data, e.csize);
    } else {
      if (e.usize > MAX_MEMBER) fail('a file inside the archive is too large to check here');
      const c = await src.read(e.data, e.csize);
      bytes = e.method === 0 ? c : await inflate(c, 'deflate-raw', Math.max(e.usize, 1));
      if (bytes.length !== e.usize || crc32(bytes) !== e.crc) fail(`${e.name} inside the archive is damaged`);
      member = bytes;
    }
    if (rewrite) {
      const r = await rules.rewrite(e.name, bytes, ctx);
      f.merge(r.findings);
      out.push({ e, data: r.bytes, changed: !sameBytes(r.bytes, bytes) });
      continue;
    }
    const r = await ctx.nested(member);
    if (r.failed) f.remain(`${e.name} (could not be checked: ${r.failed})`);
    else if (r.findings.remains.length) f.remain(`${e.name}: ${r.findings.remains.join('; ')}`);
    const changed = r.findings.removed.length > 0;
    for (const x of r.findings.removed) f.remove(`${x}, in ${e.name}`);
    if (changed) out.push({ e, data: r.bytes, changed: true });
    else {
      if (e.method === 0 && !bytes) {
        // Stored and checked from the original: its CRC is checked here, from what was read.
        const check = await new Source(member).all();
        if (crc32(check) !== e.crc) fail(`${e.name} inside the archive is damaged`);
      }
      out.push({ e, changed: false });
    }
  }
  if (rules && rules.finish) rules.finish(out, f);
  // Normalised names and headers: report what changes.
  for (const { e } of out) {
    if (e.time !== 0 || e.date !== DOS_DATE) f.remove('File dates and times inside the archive');
    if (e.hadExtra) f.remove('Extra details of the files inside the archive (owner ids, exact times)');
    if (e.commLen) f.remove('Comments on files inside the archive');
  }
  if (!f.removed.length) return { kind, findings: f };
  // Write the new archive.
  const central = [];
  let offset = 0;
  for (const o of out) {
    const e = o.e;
    let method = e.method;
    let crc = e.crc;
    let csize = e.csize;
    let usize = e.usize;
    let packed = null;
    if (o.changed) {
      usize = o.data.length;
      crc = crc32(o.data);
      if (e.method === 0) { packed = o.data; } else { packed = await deflate(o.data); method = 8; }
      csize = packed.length;
    }
    const utf = o.e.nameBytes.some((c) => c > 0x7f) ? 0x800 : 0;
    const lh = new Uint8Array(30 + e.nameBytes.length);
    put32le(lh, 0, 0x04034b50);
    put16le(lh, 4, method === 8 ? 20 : 10);
    put16le(lh, 6, utf);
    put16le(lh, 8, method);
    put16le(lh, 10, 0);
    put16le(lh, 12, DOS_DATE);
    put32le(lh, 14, crc);
    put32le(lh, 18, csize);
    put32le(lh, 22, usize);
    put16le(lh, 26, e.nameBytes.length);
    lh.set(e.nameBytes, 30);
    plan.bytes(lh);
    if (packed) plan.bytes(packed); else plan.copy(e.data, e.data + csize);
    const ch = new Uint8Array(46 + e.nameBytes.length);
    put32le(ch, 0, 0x02014b50);
    put16le(ch, 4, 20);
    put16le(ch, 6, method === 8 ? 20 : 10);
    put16le(ch, 8, utf);
    put16le(ch, 10, method);
    put16le(ch, 14, DOS_DATE);
    put32le(ch, 16, crc);
    put32le(ch, 20, csize);
    put32le(ch, 24, usize);
    put16le(ch, 28, e.nameBytes.length);
    put32le(ch, 38, e.name.endsWith('/') ? 0x10 : 0);
    put32le(ch, 42, offset);
    ch.set(e.nameBytes, 46);
    central.push(ch);
    offset += lh.length + csize;
  }
  let cdSize = 0;
  for (const c of central) { plan.bytes(c); cdSize += c.length; }
  const end = new Uint8Array(22);
  put32le(end, 0, 0x06054b50);
  put16le(end, 8, central.length);
  put16le(end, 10, central.length);
  put32le(end, 12, cdSize);
  put32le(end, 16, offset);
  plan.bytes(end);
  return { kind, findings: f };
}
