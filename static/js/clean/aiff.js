// AIFF and AIFF-C: an allow-list of chunks: COMM (format), SSND (the audio, by reference) and
// FVER (required by AIFF-C). Removed: NAME, AUTH, (c), ANNO, COMT (comments with dates), MARK,
// INST, APPL (application data), ID3 tags and anything else, and anything after the container.

import { cleanChunks } from './wav.js';

const NAMES = {
  NAME: 'Title (NAME)', AUTH: 'Author (AUTH)', '(c) ': 'Copyright holder', ANNO: 'Annotations', COMT: 'Comments with dates',
  MARK: 'Markers', INST: 'Instrument settings', APPL: 'Application data', 'ID3 ': 'Title, artist, comments and dates (ID3 tag)',
};

export function cleanAIFF(src, plan) {
  return cleanChunks(src, plan, false, ['COMM', 'SSND', 'FVER'], NAMES,
    (has, form) => (!has('COMM') || (form === 'AIFC' && !has('FVER'))) && 'the format chunk is missing');
}
