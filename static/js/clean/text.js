// Text files: what kind of text a file is, judged from its contents (never its name), and CSS.
//
// Plain text is the only kind reported clean without being rewritten. Markup (SVG, HTML, XML),
// RTF and CSS carry comments and metadata and are cleaned by their own modules; PostScript and
// e-mail messages are recognised and warned about, as their headers name people, machines and
// dates and sealdrop does not rewrite them.

import { fail, Findings } from './util.js';

/** textKind classifies a text file held as a Latin-1 string. */
export function textKind(s) {
  const head = s.slice(0, 8192).replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
  const start = head.replace(/^(\s|<!--[\s\S]*?-->)+/, '');
  if (start.startsWith('{\\rtf')) return 'rtf';
  if (/^%!PS/.test(start)) return 'postscript';
  if (/^<\?xml[\s?]/.test(start) || /^<(!DOCTYPE\s+)?(svg|html)\b/i.test(start) || /^<(head|body|meta|title)\b/i.test(start) || /^<[A-Za-z_]/.test(start)) {
    if (/<html\b|<!DOCTYPE\s+html/i.test(head)) return 'html';
    if (/<svg\b/.test(head)) return 'svg';
    return 'xml';
  }
  if (/^(From |(Received|Return-Path|Delivered-To|Message-ID|MIME-Version|From|To|Subject|Date|X-[\w-]+): )/i.test(start)
    && /^(Received|Message-ID|MIME-Version|Date|From):/im.test(head)) return 'email';
  if (looksLikeCSS(start)) return 'css';
  // Markup that does not start the file (a damaged header, a page saved with text before it)
  // is still markup: it is cleaned as a web page, whose rules are forgiving.
  if (/<!--|<\?xml|<\?xpacket|<(svg|html|head|meta|body|rdf:RDF|x:xmpmeta|metadata)\b|<!DOCTYPE/i.test(head)) return 'html';
  if (/\/\*[\s\S]*?\*\//.test(head) && /[^{};]+\{[^{}]*:[^{}]*\}/.test(head)) return 'css';
  return 'text';
}

function looksLikeCSS(s) {
  const t = s.replace(/\/\*[\s\S]*?\*\//g, ' ').trimStart();
  if (/^@(charset|import|media|font-face|namespace|supports|keyframes|layer|page)\b/.test(t)) return true;
  const m = /^([^{};=]*)\{\s*(--)?[A-Za-z-]+\s*:[^{};]+(;|\})/.exec(t);
  return Boolean(m) && !/[=]|\b(function|var|let|const|if|for|while|class|return)\b/.test(m[1]);
}

/** cleanCSS removes /* comments *\/ outside strings from CSS held as a Latin-1 string. */
export function cleanCSS(s) {
  const f = new Findings();
  const out = [];
  let i = 0;
  let last = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < s.length && s[j] !== c) { if (s[j] === '\\') j++; if (s[j] === '\n') break; j++; }
      i = j + 1;
      continue;
    }
    if (c === '/' && s[i + 1] === '*') {
      const end = s.indexOf('*/', i + 2);
      if (end < 0) fail('a comment is not closed');
      out.push(s.slice(last, i));
      f.remove('Comments');
      i = end + 2;
      last = i;
      continue;
    }
    i++;
  }
  out.push(s.slice(last));
  return { text: out.join(''), findings: f };
}
