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
    a.download = f.name || t('download.unnamed');
    a.textContent = f.name || t('download.unnamed');
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
