// Ogg Vorbis and Ogg Opus: the comment header is replaced by an empty one and the pages are
// laid out again, with their sequence numbers and checksums fixed.
//
// Removed: every comment (title, artist, dates, the encoder's name, cover pictures stored as
// METADATA_BLOCK_PICTURE, ReplayGain notes) and the vendor string naming the encoding software.
// Kept: the identification and setup headers and every audio packet, byte for byte. Files with
// several streams (video, chained files) are not cleaned: the sender is warned.

import { fail, startsWith, u32le, put32le, Findings, concat } from './util.js';

const OGG_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? ((r << 1) ^ 0x04c11db7) >>> 0 : (r << 1) >>> 0;
    t[i] = r >>> 0;
  }
  return t;
})();

function oggCRC(page) {
  let c = 0;
  for (let i = 0; i < page.length; i++) c = ((c << 8) ^ OGG_TABLE[((c >>> 24) ^ page[i]) & 0xff]) >>> 0;
  return c;
}

function readPage(b, i) {
  if (i + 27 > b.length || !startsWith(b, 'OggS', i) || b[i + 4] !== 0) fail('a page is damaged');
  const nseg = b[i + 26];
  if (i + 27 + nseg > b.length) fail('a page is cut short');
  let len = 0;
  for (let k = 0; k < nseg; k++) len += b[i + 27 + k];
  const end = i + 27 + nseg + len;
  if (end > b.length) fail('a page is cut short');
  const page = b.slice(i, end);
  const crc = u32le(page, 22);
  page.fill(0, 22, 26);
  if (oggCRC(page) !== crc) fail('a page is damaged (wrong checksum)');
  return {
    at: i, end, flags: b[i + 5], serial: u32le(b, i + 14), seq: u32le(b, i + 18),
    lacing: b.subarray(i + 27, i + 27 + nseg), body: b.subarray(i + 27 + nseg, end),
  };
}

function makePage(flags, granule, serial, seq, lacing, body) {
  const p = new Uint8Array(27 + lacing.length + body.length);
  p.set([0x4f, 0x67, 0x67, 0x53, 0, flags]);
  p.set(granule, 6);
  put32le(p, 14, serial);
  put32le(p, 18, seq);
  p[26] = lacing.length;
  p.set(lacing, 27);
  p.set(body, 27 + lacing.length);
  put32le(p, 22, oggCRC(p));
  return p;
}

// pagesFor lays packets out on pages (header pages: granule 0).
function pagesFor(packets, serial, firstSeq) {
  const pages = [];
  let seq = firstSeq;
  let lacing = [];
  let parts = [];
  let cont = false;
  const flush = (nextCont) => {
    pages.push(makePage(cont ? 1 : 0, new Uint8Array(8), serial, seq++, lacing, concat(parts)));
    lacing = []; parts = []; cont = nextCont;
  };
  for (const pkt of packets) {
    let off = 0;
    for (;;) {
      const n = Math.min(255, pkt.length - off);
      if (lacing.length === 255) flush(true);
      lacing.push(n);
      parts.push(pkt.subarray(off, off + n));
      off += n;
      if (n < 255) break;
    }
    flush(false);
  }
  return pages;
}

export async function cleanOgg(src, plan) {
  const f = new Findings();
  const b = await src.all();
  const first = readPage(b, 0);
  const id = first.body;
  let codec;
  if (startsWith(id, [1, 0x76, 0x6f, 0x72, 0x62, 0x69, 0x73])) codec = 'vorbis';
  else if (startsWith(id, 'OpusHead')) codec = 'opus';
  else fail('only Ogg Vorbis and Ogg Opus audio can be cleaned');
  if (!(first.flags & 2) || first.lacing.length !== 1 || first.lacing[0] === 255) fail('the first page is damaged');
  const serial = first.serial;
  const need = codec === 'vorbis' ? 2 : 1; // header packets after the identification header
  const packets = [];
  let cur = [];
  let i = first.end;
  let audioStart = -1;
  while (packets.length < need) {
    if (i >= b.length) fail('the headers are cut short');
    const p = readPage(b, i);
    if (p.serial !== serial) fail('the file holds more than one stream');
    let off = 0;
    for (const l of p.lacing) {
      cur.push(p.body.subarray(off, off + l));
      off += l;
      if (l < 255) { packets.push(concat(cur)); cur = []; }
    }
    i = p.end;
    if (packets.length > need || (packets.length === need && cur.length)) fail('audio starts on a header page');
  }
  audioStart = i;
  const comment = packets[0];
  if (codec === 'vorbis' && !startsWith(comment, [3, 0x76, 0x6f, 0x72, 0x62, 0x69, 0x73])) fail('the comment header is missing');
  if (codec === 'opus' && !startsWith(comment, 'OpusTags')) fail('the comment header is missing');
  const base = codec === 'vorbis' ? 7 : 8;
  if (base + 8 > comment.length) fail('the comment header is damaged');
  const vendor = u32le(comment, base);
  if (base + 4 + vendor + 4 > comment.length) fail('the comment header is damaged');
  const count = u32le(comment, base + 4 + vendor);
  const fresh = new Uint8Array(base + 8 + (codec === 'vorbis' ? 1 : 0));
  fresh.set(comment.subarray(0, base));
  if (codec === 'vorbis') fresh[fresh.length - 1] = 1; // framing bit
  if (count > 0) f.remove(codec === 'vorbis' ? 'Title, artist, dates and other details (Vorbis comments)' : 'Title, artist, dates and other details (Opus tags)');
  if (vendor > 0) f.remove('Name of the encoding software');
  if (comment.length > base + 4 + vendor + 4 && count === 0 && vendor === 0 && comment.length !== fresh.length) f.remove('Extra data in the comment header');
  // Walk the audio pages to check them and see where the stream ends.
  const audio = [];
  for (let k = audioStart; k < b.length;) {
    if (!startsWith(b, 'OggS', k)) {
      if (b.subarray(k).every((x) => x === 0)) break;
      fail('unknown data between pages');
    }
    const p = readPage(b, k);
    if (p.serial !== serial) fail('the file holds more than one stream');
    audio.push(p);
    k = p.end;
  }
  const last = audio.length ? audio[audio.length - 1].end : audioStart;
  if (last < b.length) f.remove('Hidden data after the end of the audio');
  if (!f.removed.length) return f;
  const headerPages = pagesFor([fresh, ...packets.slice(1)], serial, 1);
  const oldHeaderPages = audio.length ? audio[0].seq - 1 : headerPages.length;
  plan.copy(0, first.end);
  for (const p of headerPages) plan.bytes(p);
  const delta = headerPages.length - oldHeaderPages;
  for (const p of audio) {
    if (delta === 0) { plan.copy(p.at, p.end); continue; }
    const page = b.slice(p.at, p.end);
    put32le(page, 18, (p.seq + delta) >>> 0);
    page.fill(0, 22, 26);
    put32le(page, 22, oggCRC(page));
    plan.bytes(page);
  }
  return f;
}
