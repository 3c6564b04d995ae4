// Small page helpers shared by the note pages. Everything user-supplied goes in as text
// (textContent), never as markup.

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
    bar.textContent = `${Math.round((100 * bar.value) / bar.max)}%`;
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

/** errorMessage turns anything thrown into a sentence a frightened person can act on. */
export function errorMessage(e) {
  if (e && typeof e.message === 'string' && e.message && e.name !== 'TypeError' && e.name !== 'OperationError') {
    return e.message;
  }
  return 'Something went wrong. Nothing was lost: try again.';
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
    button.textContent = ok ? 'Copied' : 'Press Ctrl+C to copy';
    setTimeout(() => { button.textContent = label; }, 2500);
  });
}

/** duration says how long in plain words: "6 days", "3 hours", "4 minutes". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const unit = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (s >= 86400) return unit(Math.floor(s / 86400), 'day');
  if (s >= 3600) return unit(Math.floor(s / 3600), 'hour');
  if (s >= 60) return unit(Math.floor(s / 60), 'minute');
  return unit(s, 'second');
}

/** size says how big in plain units. */
export function size(bytes) {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(1)} GB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  if (bytes >= 1 << 10) return `${Math.ceil(bytes / (1 << 10))} KB`;
  return `${bytes} bytes`;
}

/** pageId reads the note id from a /n/{id} or /m/{id} path. */
export function pageId() {
  const parts = location.pathname.split('/');
  return parts[parts.length - 1] || '';
}
