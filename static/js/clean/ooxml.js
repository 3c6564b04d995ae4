// Office Open XML (Word .docx, Excel .xlsx, PowerPoint .pptx): which parts of the package go,
// and how the XML parts that stay are cleaned. zip.js rewrites the archive.
//
// Parts removed (with their relationships and content-type overrides): document properties
// (docProps: author, last editor, company, manager, dates, editing time, revision number,
// template, custom properties, the first-page thumbnail), custom XML data (document ids, server
// properties), printer settings (printer names), people.xml (names and account ids of editors),
// shared-workbook revision logs and parts kept in [trash]. In the XML that stays: rsids (which
// tie the file to editing sessions), the names, initials and dates of comment and tracked-change
// authors (the comments and changes themselves are content and stay), the attached template's
// path, document variables and ids, Excel's saved-in folder (absPath), revision pointer and
// file-sharing user name, PowerPoint comment authors, and XML comments. Pictures and files
// inside are cleaned by their own cleaners.

import { Findings, latin1, fromLatin1 } from './util.js';

const DROP = [
  [/^docProps\/core\.xml$/i, 'Author, last editor, title, dates and revision number (core properties)'],
  [/^docProps\/app\.xml$/i, 'Company, manager, software, editing time and template (app properties)'],
  [/^docProps\/custom\.xml$/i, 'Custom document properties'],
  [/^docProps\//i, 'Preview picture of the first page (thumbnail)'],
  [/^customXml\//i, 'Stored document data (custom XML: document ids, server properties)'],
  [/(^|\/)printerSettings\//i, 'Printer settings (they name the printer)'],
  [/^word\/people\.xml$/i, 'Names and account ids of the people who edited or commented'],
  [/^xl\/revisions\//i, 'Shared-workbook history with user names and dates'],
  [/^\[trash\]\//i, 'Deleted parts still kept in the file'],
];

const AUTHORS = 'Names and initials of comment and tracked-change authors';
const DATES = 'Dates of comments and tracked changes';

// xmlDecode for attribute values (part names may be escaped).
const xmlDecode = (v) => v.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'");

function resolve(base, target) {
  let t = xmlDecode(target);
  try { t = decodeURIComponent(t); } catch { /* keep as is */ }
  const parts = (t.startsWith('/') ? t.slice(1) : base + t).split('/');
  const out = [];
  for (const p of parts) {
    if (p === '..') out.pop();
    else if (p !== '.' && p !== '') out.push(p);
  }
  return out.join('/');
}

// Text edits on XML held as Latin-1. Each returns the new text and reports what changed.
export function edit(s, f, re, rep, label) {
  const t = s.replace(re, rep);
  if (t !== s && label) f.remove(label);
  return t;
}

// blankAttrs sets the named attributes of every <element> to value.
export function blankAttrs(s, f, element, names, value, label) {
  const el = new RegExp(`<${element.replace(':', '\\:')}\\b[^>]*>`, 'g');
  const at = new RegExp(`(\\s(?:${names.join('|')})\\s*=\\s*")([^"]*)(")`, 'g');
  return s.replace(el, (tag) => tag.replace(at, (all, a, v, z) => {
    if (v === value) return all;
    f.remove(label);
    return a + value + z;
  }));
}

export function dropXMLComments(s, f) {
  return edit(s, f, /<!--[\s\S]*?-->/g, '', 'Comments hidden in the file\'s XML');
}

// removeElement drops <name .../> and <name ...>...</name> (not nested in itself).
export function removeElement(s, f, name, label) {
  const n = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let t = s.replace(new RegExp(`<${n}(\\s[^>]*)?/>`, 'g'), '');
  t = t.replace(new RegExp(`<${n}(\\s[^>]*)?>[\\s\\S]*?</${n}>`, 'g'), '');
  if (t !== s) f.remove(label);
  return t;
}

export function officePlan(names) {
  const dropped = new Map();
  for (const n of names) {
    for (const [re, label] of DROP) if (re.test(n)) { dropped.set(n.toLowerCase(), label); break; }
  }
  return {
    verdict(name) {
      const label = dropped.get(name.toLowerCase());
      return label ? { keep: false, label } : { keep: true };
    },
    rewrites: (name) => /\.(xml|rels|vml)$/i.test(name),
    async rewrite(name, bytes) {
      const f = new Findings();
      let s = latin1(bytes);
      s = dropXMLComments(s, f);
      if (name === '[Content_Types].xml') {
        s = s.replace(/<Override\b[^>]*?PartName\s*=\s*"([^"]*)"[^>]*?\/>/g, (all, p) => (dropped.has(resolve('', p).toLowerCase()) ? '' : all));
      } else if (/\.rels$/i.test(name)) {
        const m = /^(.*?)_rels\/[^/]*\.rels$/i.exec(name);
        const base = m ? m[1] : '';
        s = s.replace(/<Relationship\b[^>]*?\/>/g, (rel) => {
          const target = (/\bTarget\s*=\s*"([^"]*)"/.exec(rel) || [])[1] || '';
          const type = (/\bType\s*=\s*"([^"]*)"/.exec(rel) || [])[1] || '';
          const external = /\bTargetMode\s*=\s*"External"/i.test(rel);
          if (/\/attachedTemplate$/.test(type)) { f.remove('Path of the template on the author\'s computer'); return ''; }
          if (!external && dropped.has(resolve(base, target).toLowerCase())) return '';
          if (external && (/^file:/i.test(target) || /^[a-z]:[\\/]/i.test(target) || /^\\\\/.test(target))) {
            f.remove('Links to files on the author\'s computer (they name folders and users)');
            return rel.replace(/\bTarget\s*=\s*"[^"]*"/, 'Target="file:///"');
          }
          return rel;
        });
      } else {
        s = edit(s, f, /\sw:rsid\w*\s*=\s*"[^"]*"/g, '', 'Editing-session identifiers (rsids)');
        s = removeElement(s, f, 'w:rsids', 'Editing-session identifiers (rsids)');
        s = edit(s, f, /(\sw:author\s*=\s*")[^"]+(")/g, '$1$2', AUTHORS);
        s = edit(s, f, /(\sw:initials\s*=\s*")[^"]+(")/g, '$1$2', AUTHORS);
        s = edit(s, f, /\s(w:date|w16cex:dateUtc)\s*=\s*"[^"]*"/g, '', DATES);
        s = removeElement(s, f, 'w:attachedTemplate', 'Path of the template on the author\'s computer');
        s = removeElement(s, f, 'w:docVars', 'Document variables');
        s = removeElement(s, f, 'w14:docId', 'Document identifiers');
        s = removeElement(s, f, 'w15:docId', 'Document identifiers');
        if (/^xl\//i.test(name)) {
          s = s.replace(/<mc:AlternateContent\b[^>]*>(?:(?!<\/mc:AlternateContent>)[\s\S])*?x15ac:absPath[\s\S]*?<\/mc:AlternateContent>/g, () => { f.remove('Folder the file was saved in (it names the user)'); return ''; });
          s = removeElement(s, f, 'x15ac:absPath', 'Folder the file was saved in (it names the user)');
          s = removeElement(s, f, 'xr:revisionPtr', 'Document identifier and revision (revisionPtr)');
          s = edit(s, f, /(<fileSharing\b[^>]*?)\suserName\s*=\s*"[^"]*"/g, '$1', 'Name of the person who reserved the file');
          s = edit(s, f, /(<author>)[^<]+(<\/author>)/g, '$1$2', AUTHORS);
          s = edit(s, f, /(<person\b[^>]*?\sdisplayName\s*=\s*")[^"]+(")/g, '$1$2', AUTHORS);
          s = edit(s, f, /(<person\b[^>]*?\suserId\s*=\s*")[^"]+(")/g, '$1$2', 'Account ids of comment authors');
          s = edit(s, f, /(<person\b[^>]*?\sproviderId\s*=\s*")(?!None")[^"]*(")/g, '$1None$2', 'Account ids of comment authors');
          s = edit(s, f, /(<threadedComment\b[^>]*?)\sdT\s*=\s*"[^"]*"/g, '$1', DATES);
        }
        if (/^ppt\//i.test(name)) {
          s = blankAttrs(s, f, 'p:cmAuthor', ['name', 'initials'], '', AUTHORS);
          s = blankAttrs(s, f, 'p188:author', ['name', 'initials', 'userId'], '', AUTHORS);
          s = blankAttrs(s, f, 'p188:cm', ['created'], '1970-01-01T00:00:00.000', DATES);
          s = edit(s, f, /(<p:cm\b[^>]*?)\sdt\s*=\s*"[^"]*"/g, '$1', DATES);
        }
      }
      return { bytes: fromLatin1(s), findings: f };
    },
  };
}
