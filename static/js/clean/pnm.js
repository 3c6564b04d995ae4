// Netpbm pictures (PBM, PGM, PPM, PAM): their headers may hold comments ("# CREATOR: GIMP PNM
// Filter", a file name, a user's note). Comments are removed; the picture data is kept as is.

import { fail, latin1, Findings } from './util.js';

export function cleanPNM(b, plan) {
  const f = new Findings();
  const type = b[1] - 0x30;
  if (b[0] !== 0x50 || type < 1 || type > 7) fail('this is not a Netpbm picture');
  const isWS = (c) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
  if (type === 7) {
    // PAM: header lines up to ENDHDR; lines starting with # are comments.
    let i = 3;
    if (b[2] !== 0x0a) fail('the picture header is damaged');
    plan.copy(0, 3);
    for (;;) {
      const nl = b.indexOf(0x0a, i);
      if (nl < 0) fail('the picture header is not closed');
      const line = latin1(b, i, nl - i);
      if (line.trimStart().startsWith('#')) f.remove('Comments');
      else plan.copy(i, nl + 1);
      i = nl + 1;
      if (line.trim() === 'ENDHDR') break;
    }
    plan.copy(i, b.length);
    return f;
  }
  const fields = type === 1 || type === 4 ? 2 : 3;
  let i = 2;
  let seen = 0;
  plan.copy(0, 2);
  while (seen < fields) {
    if (i >= b.length) fail('the picture header is cut short');
    if (b[i] === 0x23) {
      const nl = b.indexOf(0x0a, i);
      if (nl < 0) fail('the picture header is cut short');
      f.remove('Comments');
      i = nl; // the newline stays as white space
      continue;
    }
    if (isWS(b[i])) { plan.copy(i, i + 1); i++; continue; }
    const start = i;
    while (i < b.length && b[i] >= 0x30 && b[i] <= 0x39) i++;
    if (i === start) fail('the picture header is damaged');
    plan.copy(start, i);
    seen++;
  }
  if (type >= 4) {
    // Exactly one white-space byte, then binary picture data up to the end.
    if (!isWS(b[i])) fail('the picture header is damaged');
    plan.copy(i, b.length);
    return f;
  }
  // Plain (ASCII) formats: comments are removed from the picture data as well.
  while (i < b.length) {
    if (b[i] === 0x23) {
      const nl = b.indexOf(0x0a, i);
      f.remove('Comments');
      i = nl < 0 ? b.length : nl;
      continue;
    }
    const j = b.indexOf(0x23, i);
    const end = j < 0 ? b.length : j;
    for (let k = i; k < end; k++) if (!isWS(b[k]) && !(b[k] >= 0x30 && b[k] <= 0x39)) fail('the picture data is damaged');
    plan.copy(i, end);
    i = end;
  }
  return f;
}
