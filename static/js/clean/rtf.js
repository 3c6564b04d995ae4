// RTF: the document is tokenised (groups, control words, \bin data) and rewritten.
//
// Removed: the {\info} group (author, operator, company, title, dates, editing time, revision
// count), the generator, revision-author and rsid tables, user properties, document variables,
// the data store, annotation authors, ids and dates, and every rsid, revision-author and
// revision-date control word. Pictures stored as JPEG or PNG ({\pict\jpegblip ...}) are cleaned
// by the image cleaners. Embedded objects ({\object}) are not checked: the sender is told.

import { fail, Findings } from './util.js';

const DROP_GROUPS = {
  info: 'Author, company, title and dates (document information)',
  generator: 'Name and version of the software that wrote the file',
  rsidtbl: 'Editing-session identifiers (rsids)',
  revtbl: 'Names of the people who made tracked changes',
  userprops: 'Custom document properties',
  docvar: 'Document variables',
  datastore: 'Stored document data (properties and identifiers)',
  atnauthor: 'Names of comment authors',
  atnid: 'Initials of comment authors',
  atndate: 'Dates of comments',
  passwordhash: 'Protection password hash',
  password: 'Protection password hash',
};

const DROP_WORD = /^(rsid|insrsid|charrsid|delrsid|pararsid|sectrsid|tblrsid|styrsid|rsidroot|revauth|revauthdel|revdttm|revdttmdel|crauth|crdate|pnrauth|pnrdate|pnrrgb|pnrnot|pnrxst|pnrstart|pnrstop|pnrnfc)$/;

/** cleanRTF cleans RTF text held as a Latin-1 string. nested(bytes) cleans a picture. */
export async function cleanRTF(s, nested) {
  const f = new Findings();
  if (!s.startsWith('{\\rtf')) fail('this is not an RTF document');
  const out = [];
  const stack = []; // per open group: {start: out index, dest: name or '', pict: {}}
  let i = 0;
  let depth = 0;
  let skip = 0; // depth at which a dropped group started (0: not skipping)
  let star = false;
  let firstInGroup = false;
  while (i < s.length) {
    const c = s[i];
    if (c === '{') {
      depth++;
      stack.push({ at: out.length, dest: '', pict: null });
      if (!skip) out.push('{');
      i++;
      firstInGroup = true;
      star = false;
      continue;
    }
    if (c === '}') {
      if (depth === 0) fail('a group is closed twice');
      const g = stack.pop();
      if (skip === depth) { skip = 0; }
      else if (!skip) {
        out.push('}');
        if (g.pict) await finishPict(out, g, f, nested);
      }
      depth--;
      i++;
      firstInGroup = false;
      if (depth === 0) {
        if (s.slice(i).replace(/[\s\0]+/g, '')) f.remove('Hidden data after the end of the document');
        break;
      }
      continue;
    }
    if (c === '\\') {
      const m = /^\\([a-zA-Z]{1,32})(-?\d{1,10})? ?/.exec(s.slice(i, i + 48));
      if (m) {
        const word = m[1];
        const g = stack[stack.length - 1];
        if (word === 'bin') {
          const n = Number(m[2] || 0);
          if (n < 0 || i + m[0].length + n > s.length) fail('binary data is cut short');
          if (!skip) out.push(s.slice(i, i + m[0].length + n));
          i += m[0].length + n;
          continue;
        }
        if (firstInGroup || (star && g && !g.dest)) {
          if (g) g.dest = word;
          if (!skip && g && word in DROP_GROUPS) {
            if (DROP_GROUPS[word]) f.remove(DROP_GROUPS[word]);
            skip = depth;
            out.length = g.at; // drop the group's '{' (and a \* already written)
          }
          if (!skip && g && word === 'pict') g.pict = { blip: '' };
          if (!skip && g && word === 'object') f.remain('Embedded objects (not checked)');
        }
        firstInGroup = false;
        star = false;
        if (!skip && DROP_WORD.test(word)) {
          if (/rsid/.test(word)) f.remove('Editing-session identifiers (rsids)');
          else f.remove('Authors and dates of tracked changes');
          i += m[0].length;
          continue;
        }
        if (!skip && g && g.pict && (word === 'jpegblip' || word === 'pngblip')) g.pict.blip = word;
        if (!skip) out.push(m[0]);
        i += m[0].length;
        continue;
      }
      const n = s[i + 1];
      if (n === undefined) fail('the document ends inside a control word');
      if (n === '*') { star = true; if (!skip) out.push('\\*'); i += 2; continue; }
      if (n === "'") { if (!skip) out.push(s.slice(i, i + 4)); i += 4; firstInGroup = false; continue; }
      if (!skip) out.push(s.slice(i, i + 2));
      i += 2;
      firstInGroup = false;
      continue;
    }
    // Plain text up to the next special character.
    let j = i;
    while (j < s.length && s[j] !== '{' && s[j] !== '}' && s[j] !== '\\') j++;
    if (!skip) out.push(s.slice(i, j));
    if (s.slice(i, j).trim()) firstInGroup = false;
    i = j;
  }
  if (depth !== 0) fail('the document ends inside a group');
  return { text: out.join(''), findings: f };
}

// finishPict cleans the hex data of a JPEG or PNG picture group that was just written out.
async function finishPict(out, g, f, nested) {
  if (!g.pict.blip || !nested) return;
  const text = out.slice(g.at).join('');
  // The hex data is the last run of hex digits (and whitespace) before the closing brace.
  const m = /([0-9a-fA-F\s]+)}$/.exec(text);
  if (!m) return;
  const hex = m[1].replace(/\s+/g, '');
  if (hex.length < 16 || hex.length % 2) { f.remain('A picture inside the document that could not be read'); return; }
  const bytes = new Uint8Array(hex.length / 2);
  for (let k = 0; k < bytes.length; k++) bytes[k] = parseInt(hex.substr(2 * k, 2), 16);
  const r = await nested(bytes);
  if (r.findings.remains.length) f.remain('Hidden details in a picture inside the document');
  if (!r.findings.removed.length) return;
  for (const x of r.findings.removed) f.remove(`${x}, in a picture inside the document`);
  let h = '';
  for (let k = 0; k < r.bytes.length; k++) {
    h += (r.bytes[k] < 16 ? '0' : '') + r.bytes[k].toString(16);
    if (k % 64 === 63) h += '\n';
  }
  const head = text.slice(0, text.length - m[0].length);
  out.length = g.at;
  out.push(`${head}\n${h}}`);
}
