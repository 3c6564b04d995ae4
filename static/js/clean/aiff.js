// AIFF and AIFF-C: an allow-list of chunks: COMM (format), SSND (the audio, by reference) and
// FVER (required by AIFF-C). Removed: NAME, AUTH, (c), ANNO, COMT (comments with dates), MARK,
// INST, APPL (application data), ID3 tags and anything else, and anything after the container.

import { fail, latin1, u32be, put32be, Findings } from './util.js';
import { riffChunks } from './wav.js';

const NAMES = {
  NAME: 'Title (NAME)', AUTH: 'Author (AUTH)', '(c) ': 'Copyright holder', ANNO: 'Annotations', COMT: 'Comments with dates',
  MARK: 'Markers', INST: 'Instrument settings', APPL: 'Application data', 'ID3 ': 'Title, artist, comments and dates (ID3 tag)',
};

export async function cleanAIFF(src, plan) {
  const f = new Findings();
  const h = await src.read(0, 12);
  const end = 8 + u32be(h, 4);
  if (end > src.size || end < 12) fail('the file ends too early');
  const form = latin1(h, 8, 4);
  const chunks = await riffChunks(src, 12, end, false);
  const kept = [];
  for (const c of chunks) {
    if (c.type === 'COMM' || c.type === 'SSND' || c.type === 'FVER') kept.push(c);
    else f.remove(NAMES[c.type] || `Other embedded details (${c.type.trim()})`);
  }
  if (!kept.some((c) => c.type === 'COMM') || (form === 'AIFC' && !kept.some((c) => c.type === 'FVER'))) fail('the format chunk is missing');
  if (end < src.size) f.remove('Hidden data after the end of the audio');
  if (!f.removed.length) return f;
  let size = 4;
  for (const c of kept) size += c.next - c.at;
  const head = h.slice(0, 12);
  put32be(head, 4, size);
  plan.bytes(head);
  for (const c of kept) plan.copy(c.at, c.next);
  return f;
}
