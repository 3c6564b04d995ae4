// SVG, HTML and other XML: the markup is rewritten as text, byte for byte except what is removed.
//
// Removed everywhere: comments (Word and Excel export their document properties inside
// conditional comments; browsers write "saved from url=" comments), processing instructions
// other than the XML declaration and style sheets (XMP packets, editors' notes), and every
// element or attribute in a metadata or editor namespace (RDF, Dublin Core, Creative Commons,
// XMP and all of Adobe's, Inkscape, Sodipodi, Sketch, Serif, Figma, Visio...), with their
// namespace declarations. SVG: <metadata> elements, links to files on the author's computer
// (file: URLs, which name the user's folders) and the hidden details of pictures embedded as
// data: URLs (cleaned by the image cleaners). HTML: every <meta> but charset, viewport, colour
// scheme, theme colour, referrer, robots and http-equiv, and <link rel="author">.
//
// Text is handled as Latin-1 so that every byte, UTF-8 or not, passes through unchanged.

import { fail, Findings } from './util.js';
import { cleanCSS } from './text.js';

const META_NS = [
  /^http:\/\/www\.w3\.org\/1999\/02\/22-rdf-syntax-ns#/, /^http:\/\/purl\.org\/dc\//,
  /^http:\/\/creativecommons\.org\/ns#/, /^http:\/\/web\.resource\.org\/cc\//, /^https?:\/\/ns\.adobe\.com\//,
  /^adobe:ns:meta/, /^http:\/\/www\.inkscape\.org\/namespaces\/inkscape/, /^http:\/\/sodipodi\.sourceforge\.net\//,
  /^http:\/\/inkscape\.sourceforge\.net\//, /^http:\/\/www\.bohemiancoding\.com\/sketch\/ns/, /^http:\/\/www\.serif\.com\//,
  /^https?:\/\/www\.figma\.com\//, /^https?:\/\/boxy-svg\.com/, /^http:\/\/schemas\.microsoft\.com\/visio\//,
  /^http:\/\/www\.corel\.com\//, /^http:\/\/www\.vectornator\.io\//, /^http:\/\/ns\.useplus\.org\//,
  /^http:\/\/iptc\.org\/std\//, /^http:\/\/ns\.microsoft\.com\/photo\//, /^http:\/\/www\.gimp\.org\//,
];
// Prefixes that are editors' own even when undeclared (such files exist, and browsers accept them).
const META_PREFIX = new Set(['inkscape', 'sodipodi', 'sketch', 'rdf', 'dc', 'cc', 'xmp', 'xmpMM', 'xmpRights',
  'stEvt', 'stRef', 'photoshop', 'xap', 'xapMM', 'i', 'x', 'a', 'graph', 'serif', 'figma', 'bx']);

const HTML_META_KEEP = new Set(['viewport', 'color-scheme', 'theme-color', 'referrer', 'robots', 'format-detection']);

const ATTR_RE = /([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>=`]+))?/g;

function parseAttrs(s) {
  const out = [];
  ATTR_RE.lastIndex = 0;
  let m;
  while ((m = ATTR_RE.exec(s))) {
    let v = m[2];
    if (v && (v[0] === '"' || v[0] === "'")) v = v.slice(1, -1);
    out.push({ name: m[1], value: v === undefined ? null : v, raw: m[0] });
  }
  return out;
}

const prefixOf = (name) => { const i = name.indexOf(':'); return i > 0 ? name.slice(0, i) : ''; };

/**
 * cleanMarkup cleans SVG/XML (mode 'xml') or HTML (mode 'html') text held as a Latin-1 string.
 * nested(bytes) cleans a picture embedded as a data: URL: -> {bytes, findings} or null.
 * @returns {Promise<{text: string, findings: Findings}>}
 */
export async function cleanMarkup(s, mode, nested) {
  const f = new Findings();
  const metaPrefixes = new Set();
  const keepPrefixes = new Set();
  const entities = new Map(); // Illustrator declares its namespaces as entities in the DOCTYPE
  for (const m of s.matchAll(/<!ENTITY\s+([\w.-]+)\s+("([^"]*)"|'([^']*)')/g)) entities.set(m[1], m[3] ?? m[4]);
  for (const m of s.matchAll(/xmlns:([\w.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
    const uri = (m[3] ?? m[4]).replace(/&([\w.-]+);/g, (all, n) => entities.get(n) ?? all);
    if (META_NS.some((re) => re.test(uri))) metaPrefixes.add(m[1]);
    else keepPrefixes.add(m[1]);
  }
  for (const p of META_PREFIX) if (!keepPrefixes.has(p)) metaPrefixes.add(p);
  // Office's web pages keep their document properties in o: elements (o:DocumentProperties).
  if (mode === 'html') metaPrefixes.add('o');
  const isMetaName = (name) => metaPrefixes.has(prefixOf(name));
  const out = [];
  let i = 0;
  let skipDepth = 0; // > 0 while inside a removed element
  let skipName = '';
  const rawText = mode === 'html' ? /^(script|style|textarea|title|xmp|plaintext)$/i : null;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    if (lt < 0) { if (!skipDepth) out.push(s.slice(i)); break; }
    if (lt > i && !skipDepth) out.push(s.slice(i, lt));
    i = lt;
    if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i + 4);
      if (end < 0) fail('a comment is not closed');
      if (!skipDepth) f.remove('Comments');
      i = end + 3;
      continue;
    }
    if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i);
      if (end < 0) fail('a CDATA section is not closed');
      if (!skipDepth) out.push(s.slice(i, end + 3));
      i = end + 3;
      continue;
    }
    if (s.startsWith('<?', i)) {
      const end = s.indexOf('?>', i);
      if (end < 0) fail('a processing instruction is not closed');
      const pi = s.slice(i, end + 2);
      if (!skipDepth) {
        if (/^<\?xml(-stylesheet)?[\s?]/.test(pi)) out.push(pi);
        else f.remove(/^<\?xpacket/.test(pi) ? 'Author, editing history and other details (XMP)' : 'Editor instructions (processing instructions)');
      }
      i = end + 2;
      continue;
    }
    if (mode === 'html' && s.startsWith('<!', i) && !/^<!doctype/i.test(s.slice(i, i + 9))) {
      // Anything else after "<!" is a bogus comment to a browser: it ends at the next '>'.
      const end = s.indexOf('>', i + 2);
      if (end < 0) fail('a comment is not closed');
      if (!skipDepth) f.remove('Comments');
      i = end + 1;
      continue;
    }
    if (s.startsWith('<!', i)) {
      // DOCTYPE, possibly with an internal subset in brackets.
      let j = i + 2;
      let depth = 0;
      for (; j < s.length; j++) {
        const c = s[j];
        if (c === '[') depth++;
        else if (c === ']') depth--;
        else if (c === '>' && depth <= 0) break;
        else if (c === '"' || c === "'") { const k = s.indexOf(c, j + 1); if (k < 0) fail('a declaration is not closed'); j = k; }
      }
      if (j >= s.length) fail('a declaration is not closed');
      if (!skipDepth) out.push(s.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    const m = /^<(\/?)([A-Za-z_][\w:.-]*)/.exec(s.slice(i, i + 256));
    if (!m) {
      if (mode === 'html') { if (!skipDepth) out.push('<'); i += 1; continue; }
      fail('a tag is damaged');
    }
    // Find the end of the tag, skipping quoted attribute values.
    let j = i + m[0].length;
    for (; j < s.length; j++) {
      const c = s[j];
      if (c === '>') break;
      if (c === '"' || c === "'") { const k = s.indexOf(c, j + 1); if (k < 0) fail('a tag is not closed'); j = k; }
    }
    if (j >= s.length) fail('a tag is not closed');
    const closing = m[1] === '/';
    const name = m[2];
    const body = s.slice(i + m[0].length, j);
    const selfClosing = body.trimEnd().endsWith('/');
    const tagEnd = j + 1;
    if (skipDepth) {
      if (name === skipName) {
        if (closing) skipDepth--;
        else if (!selfClosing) skipDepth++;
      }
      i = tagEnd;
      continue;
    }
    if (closing) {
      out.push(s.slice(i, tagEnd));
      i = tagEnd;
      continue;
    }
    const attrs = parseAttrs(selfClosing ? body.trimEnd().slice(0, -1) : body);
    const lname = name.toLowerCase();
    let drop = isMetaName(name) || (mode === 'xml' && lname === 'metadata')
      || attrs.some((a) => a.name === 'xmlns' && a.value !== null && META_NS.some((re) => re.test(a.value)));
    let label = lname === 'metadata' || isMetaName(name) ? 'Author, editor and other details (metadata elements)' : '';
    if (mode === 'html' && lname === 'meta') {
      const get = (k) => { const a = attrs.find((x) => x.name.toLowerCase() === k); return a ? (a.value || '') : null; };
      const key = (get('name') || get('property') || get('itemprop') || '').toLowerCase();
      const keep = get('charset') !== null || get('http-equiv') !== null || HTML_META_KEEP.has(key);
      if (!keep) { drop = true; label = 'Author, software and other details (meta tags)'; }
    }
    if (mode === 'html' && lname === 'link') {
      const rel = (attrs.find((x) => x.name.toLowerCase() === 'rel') || {}).value || '';
      if (/\bauthor\b/i.test(rel)) { drop = true; label = 'Author link'; }
    }
    if (drop) {
      f.remove(label || 'Author, editor and other details (metadata elements)');
      if (!selfClosing && !(mode === 'html' && /^(meta|link)$/.test(lname))) { skipDepth = 1; skipName = name; }
      i = tagEnd;
      continue;
    }
    // Keep the element; rewrite its attributes when some must go.
    let changed = false;
    const kept = [];
    for (const a of attrs) {
      const an = a.name;
      if (isMetaName(an) || (an.startsWith('xmlns:') && metaPrefixes.has(an.slice(6)))) {
        changed = true;
        f.remove('Editor details such as file paths and settings (editor attributes)');
        continue;
      }
      if ((an === 'href' || an === 'xlink:href' || an === 'src') && a.value !== null) {
        const v = a.value.trim();
        if (/^file:/i.test(v) || /^[a-z]:[\\/]/i.test(v) || /^\/(home|users)\//i.test(v)) {
          changed = true;
          f.remove('Links to files on the author\'s computer (they name folders and users)');
          continue;
        }
        const dm = /^data:image\/(png|jpeg|jpg|gif|webp);base64,([A-Za-z0-9+/=\s]+)$/i.exec(v);
        if (dm && nested) {
          let raw;
          try { raw = Uint8Array.from(atob(dm[2].replace(/\s+/g, '')), (c) => c.charCodeAt(0)); } catch { raw = null; }
          if (!raw) { f.remain('A picture inside the file that could not be read'); kept.push(a.raw); continue; }
          const r = await nested(raw);
          if (r.findings.remains.length) f.remain('Hidden details in a picture inside the file');
          if (r.findings.removed.length) {
            f.merge({ removed: r.findings.removed.map((x) => `${x}, in a picture inside the file`), remains: [] });
            let bin = '';
            for (let k = 0; k < r.bytes.length; k += 0x8000) bin += String.fromCharCode(...r.bytes.subarray(k, k + 0x8000));
            kept.push(`${an}="data:image/${dm[1].toLowerCase()};base64,${btoa(bin)}"`);
            changed = true;
            continue;
          }
        }
      }
      kept.push(a.raw);
    }
    if (changed) {
      out.push(`<${name}${kept.length ? ' ' + kept.join(' ') : ''}${selfClosing ? '/' : ''}>`);
    } else {
      out.push(s.slice(i, tagEnd));
    }
    i = tagEnd;
    if (!selfClosing && lname === 'style') {
      // Style sheets inside the page or picture: their /* comments */ go too.
      const close = /<\/style\s*>/i.exec(s.slice(i));
      if (!close) fail('a <style> element is not closed');
      const css = cleanCSS(s.slice(i, i + close.index));
      f.merge(css.findings);
      out.push(css.text);
      i += close.index;
      continue;
    }
    if (rawText && !selfClosing && rawText.test(name)) {
      const close = new RegExp(`</${name}\\s*>`, 'i');
      close.lastIndex = 0;
      const rest = s.slice(i);
      const cm = close.exec(rest);
      if (!cm) fail(`a <${name}> element is not closed`);
      out.push(rest.slice(0, cm.index));
      i += cm.index;
    }
  }
  if (skipDepth) fail('an element is not closed');
  return { text: out.join(''), findings: f };
}
