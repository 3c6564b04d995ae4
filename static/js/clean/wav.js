// WAV (RIFF WAVE): an allow-list of chunks: fmt, fact and data are kept (the audio by
// reference, never read). Removed: LIST (INFO: artist, software, dates, comments; adtl labels),
// bext (Broadcast WAV: originator, date and time, coding history), iXML, axml, XMP (_PMX), ID3
// chunks, cue points, padding (JUNK, which can hold old data) and anything else, and anything
// after the RIFF container.

import { fail, latin1, u32le, u32be, put32le, put32be, Findings } from './util.js';

const NAMES = {
  LIST: 'Title, artist, software and dates (LIST/INFO)', bext: 'Originator, recording date and time, coding history (bext)',
  iXML: 'Recorder and production details (iXML)', axml: 'Production details (axml)', _PMX: 'Author, editing history and other details (XMP)',
  'id3 ': 'Title, artist, comments and dates (ID3 tag)', 'ID3 ': 'Title, artist, comments and dates (ID3 tag)',
  'cue ': 'Cue points', JUNK: 'Unused space that can hold old data', junk: 'Unused space that can hold old data',
  PAD: 'Unused space that can hold old data', FLLR: 'Unused space that can hold old data',
};

export async function riffChunks(src, start, end, little) {
  const chunks = [];
  let i = start;
  while (i < end) {
    if (i + 8 > end) fail('a chunk is cut short');
    const h = await src.read(i, 8);
    const type = latin1(h, 0, 4);
    const len = (little ? u32le : u32be)(h, 4);
    const next = i + 8 + len + (len & 1);
    if (i + 8 + len > end) fail(`the ${type.trim()} chunk is cut short`);
    chunks.push({ type, at: i, len, next: Math.min(next, end) });
    i = next;
  }
  return chunks;
}

export function cleanWAV(src, plan) {
  return cleanChunks(src, plan, true, ['fmt ', 'fact', 'data'], NAMES,
    (has) => (!has('fmt ') || !has('data')) && 'the format or audio chunk is missing');
}

// cleanChunks cleans a RIFF (little-endian) or IFF FORM (big-endian) container: it keeps the
// chunks whose type is in keep, reports every other one by its name in names and anything after
// the container as removed, fails with missing(has, form)'s words when that finds a required
// chunk absent, and, when anything was removed, writes the header with the new size and copies
// the kept chunks.
export async function cleanChunks(src, plan, little, keep, names, missing) {
  const f = new Findings();
  const h = await src.read(0, 12);
  const end = 8 + (little ? u32le : u32be)(h, 4);
  if (end > src.size || end < 12) fail('the file ends too early');
  const chunks = await riffChunks(src, 12, end, little);
  const kept = [];
  for (const c of chunks) {
    if (keep.includes(c.type)) kept.push(c);
    else f.remove(names[c.type] || `Other embedded details (${c.type.trim()})`);
  }
  const why = missing((type) => kept.some((c) => c.type === type), latin1(h, 8, 4));
  if (why) fail(why);
  if (end < src.size) f.remove('Hidden data after the end of the audio');
  if (!f.removed.length) return f;
  let size = 4;
  for (const c of kept) size += c.next - c.at;
  const head = h.slice(0, 12);
  (little ? put32le : put32be)(head, 4, size);
  plan.bytes(head);
  for (const c of kept) plan.copy(c.at, c.next);
  return f;
}
