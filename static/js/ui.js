// Small page helpers shared by the pages. Everything user-supplied goes in as text
// (textContent), never as markup; every text of the page's own comes from the catalog (t).

import { t } from './i18n.js';

export const $ = (id) => document.getElementById(id);

export function show(el, on = true) {
  const e = typeof el === 'string' ? $(el) : el;
  if (e) e.hidden = !on;
}

export function hide(el) { show(el, false); }

export function setText(el, text) {
  const e = typeof el === 'string' ? $(el) : el;
  if (e) e.textContent = text;
}

/** progress returns an onProgress(done, total) callback for a <progress> element. */
export function progress(id) {
  const bar = $(id);
  return (done, total) => {
    if (!bar) return;
    bar.max = total > 0 ? total : 1;
    bar.value = Math.min(done, bar.max);
    bar.textContent = t('common.percent', { n: Math.round((100 * bar.value) / bar.max) });
  };
}

/** showError puts a plain message in the #error box (role=alert) and reveals it. */
export function showError(message) {
  const box = $('error');
  if (!box) return;
  box.textContent = message;
  box.hidden = false;
  box.focus();
}

export function clearError() {
  const box = $('error');
  if (box) { box.textContent = ''; box.hidden = true; }
}

/**
 * enterSends tells whether a keydown in a message box sends the message: Enter does, Shift+Enter
 * adds a line, and the Enter that ends an IME composition belongs to the IME (isComposing, or
 * keyCode 229 where a browser reports a composition's keys so).
 */
export function enterSends(ev) {
  return ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229;
}

/** errorMessage turns anything thrown into a sentence a frightened person can act on. */
export function errorMessage(e) {
  if (e && typeof e.message === 'string' && e.message && e.name !== 'TypeError' && e.name !== 'OperationError') {
    return e.message;
  }
  return t('error.generic');
}

/**
 * copyButton makes a button copy the value of a text field. navigator.clipboard needs a secure
 * context (onion sites are one in Tor Browser); otherwise the text is selected for Ctrl+C.
 */
export function copyButton(buttonId, fieldId) {
  const button = $(buttonId);
  const field = $(fieldId);
  if (!button || !field) return;
  const label = button.textContent;
  button.addEventListener('click', async () => {
    let ok = false;
    try {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        await navigator.clipboard.writeText(field.value);
        ok = true;
      }
    } catch { /* fall back to selecting the text */ }
    field.focus();
    field.select();
    if (!ok) {
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    button.textContent = ok ? t('copy.done') : t('copy.manual');
    setTimeout(() => { button.textContent = label; }, 2500);
  });
}

/** duration says how long in plain words: "6 days", "3 hours", "4 minutes". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s >= 86400) return t('duration.days', { count: Math.floor(s / 86400) });
  if (s >= 3600) return t('duration.hours', { count: Math.floor(s / 3600) });
  if (s >= 60) return t('duration.minutes', { count: Math.floor(s / 60) });
  return t('duration.seconds', { count: s });
}

/** size says how big in plain units. */
export function size(bytes) {
  if (bytes >= 1 << 30) return t('size.gb', { n: (bytes / (1 << 30)).toFixed(1) });
  if (bytes >= 1 << 20) return t('size.mb', { n: (bytes / (1 << 20)).toFixed(1) });
  if (bytes >= 1 << 10) return t('size.kb', { n: Math.ceil(bytes / (1 << 10)) });
  return t('size.bytes', { n: bytes });
}

// FILE_NAME_MAX: the most UTF-16 units a received file's name keeps (a file system's usual
// limit).
export const FILE_NAME_MAX = 255;

// Characters a received file's name may not keep: controls (line breaks included), format
// characters (the bidi overrides and isolates, U+061C, U+200E/F: an RLO makes
// "report<RLO>fdp.exe" read "reportexe.pdf"), line and paragraph separators, lone surrogates,
// and path separators.
const FILE_NAME_BAD = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}/\\]/gu;

/**
 * fileName is a file name that came from someone else (a note's, a chat's or a room's sender),
 * made safe to show and to save: each character FILE_NAME_BAD names becomes "_", and a name
 * longer than FILE_NAME_MAX is cut in its middle with "…", keeping its extension (up to 16
 * characters). An empty name is download.unnamed. Shown, it goes in <bdi> (fileNameNode).
 */
export function fileName(name) {
  const s = String(name ?? '').replace(FILE_NAME_BAD, '_').trim();
  if (!s) return t('download.unnamed');
  if (s.length <= FILE_NAME_MAX) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
  const stem = [...s.slice(0, s.length - ext.length)];
  while (stem.length && stem.join('').length + 1 + ext.length > FILE_NAME_MAX) stem.pop();
  return `${stem.join('')}…${ext}`;
}

/** fileNameNode is fileName(name) in a <bdi>: a right-to-left name cannot move the words around it. */
export function fileNameNode(name) {
  const b = document.createElement('bdi');
  b.textContent = fileName(name);
  return b;
}

/**
 * textWithNode is the catalog text key with its {name} replaced by node (the catalog's words as
 * text around it): a name never becomes part of a text it could reorder.
 */
export function textWithNode(key, node, vars = {}) {
  const mark = '\uE001'; // a private-use character: no translation holds one
  const frag = document.createDocumentFragment();
  const [before, ...after] = t(key, { ...vars, name: mark }).split(mark);
  frag.append(before);
  if (after.length) frag.append(node, after.join(''));
  return frag;
}

/**
 * renderDownloads lists decrypted files in list as downloads, each with its size. A blob's
 * type is always application/octet-stream: a decrypted HTML or SVG file must never render in
 * this origin. Each object URL is pushed to urls, for the page to revoke when it is done.
 */
export function renderDownloads(list, files, urls = []) {
  list.replaceChildren();
  for (const f of files) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    const u = URL.createObjectURL(new Blob([f.bytes], { type: 'application/octet-stream' }));
    urls.push(u);
    a.href = u;
    a.download = fileName(f.name);
    a.append(fileNameNode(f.name));
    a.rel = 'noopener';
    li.appendChild(a);
    const s = document.createElement('span');
    s.className = 'size';
    s.textContent = ` ${t('download.size', { size: size(f.bytes.length) })}`;
    li.appendChild(s);
    list.appendChild(li);
  }
}

/** pageId reads the note id from a /n/{id} or /m/{id} path. */
export function pageId() {
  const parts = location.pathname.split('/');
  return parts[parts.length - 1] || '';
}
