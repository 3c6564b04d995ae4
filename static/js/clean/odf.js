// OpenDocument (odt, ods, odp, odg): which members go, and how the XML that stays is cleaned.
// zip.js rewrites the archive.
//
// Removed (with their manifest entries): meta.xml (author, initial creator, dates, editing
// time and cycles, software, template, statistics), the first-page thumbnail, settings.xml
// (printer name and setup, view settings, rsid seeds), the layout cache, embedded objects'
// own meta.xml and their cached preview drawings (which LibreOffice redraws). In content.xml
// and styles.xml: rsids, the names, initials and dates of tracked-change and comment authors
// (the changes and comments stay), and XML comments. Pictures inside are cleaned by their own
// cleaners. Encrypted (password-protected) documents are not cleaned: the sender is warned.

import { Findings, latin1, fail, fromLatin1 } from './util.js';
import { edit, dropXMLComments } from './ooxml.js';

const DROP = [
  [/(^|\/)meta\.xml$/, 'Author, dates, editing time, software and statistics (meta.xml)'],
  [/^Thumbnails\//, 'Preview picture of the first page (thumbnail)'],
  [/^settings\.xml$/, 'Printer name and setup, view settings (settings.xml)'],
  [/^layout-cache$/, 'Layout cache'],
  [/^ObjectReplacements\//, 'Cached preview drawings of embedded objects'],
];

const AUTHORS = 'Names and initials of comment and tracked-change authors';
const DATES = 'Dates of comments and tracked changes';

export function odfPlan(names) {
  const dropped = new Map();
  for (const n of names) for (const [re, label] of DROP) if (re.test(n)) { dropped.set(n, label); break; }
  return {
    verdict(name) {
      const label = dropped.get(name);
      return label ? { keep: false, label } : { keep: true };
    },
    rewrites: (name) => /\.xml$/.test(name) || name === 'manifest.rdf',
    async rewrite(name, bytes) {
      const f = new Findings();
      let s = latin1(bytes);
      if (name === 'manifest.rdf') return { bytes, findings: f }; // lists the parts' types only
      s = dropXMLComments(s, f);
      if (name === 'META-INF/manifest.xml') {
        if (/<manifest:encryption-data\b/.test(s)) fail('the document is protected by a password');
        s = s.replace(/<manifest:file-entry\b[^>]*?manifest:full-path\s*=\s*"([^"]*)"[^>]*?\/>/g, (all, p) => {
          const path = p.replace(/&amp;/g, '&');
          return dropped.has(path) || (path.endsWith('/') && [...dropped.keys()].some((k) => k.startsWith(path)) && ![...names].some((n) => n.startsWith(path) && !dropped.has(n) && n !== path)) ? '' : all;
        });
        return { bytes: fromLatin1(s), findings: f };
      }
      s = edit(s, f, /\s(officeooo:rsid|officeooo:paragraph-rsid|loext:rsid)\s*=\s*"[^"]*"/g, '', 'Editing-session identifiers (rsids)');
      s = edit(s, f, /(<dc:creator>)[^<]+(<\/dc:creator>)/g, '$1$2', AUTHORS);
      s = edit(s, f, /(<meta:creator-initials>)[^<]+(<\/meta:creator-initials>)/g, '$1$2', AUTHORS);
      s = edit(s, f, /(<dc:date>)(?!1970-01-01T00:00:00<)[^<]+(<\/dc:date>)/g, '$11970-01-01T00:00:00$2', DATES);
      s = edit(s, f, /(<loext:sender-initials>)[^<]+(<\/loext:sender-initials>)/g, '$1$2', AUTHORS);
      return { bytes: fromLatin1(s), findings: f };
    },
  };
}
