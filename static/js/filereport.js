// The files a person is about to send, after the privacy filter (clean/index.js): what was
// removed from each, what could not be, and under which name it will be sent. Used by the note,
// drop and chat pages. Everything user-supplied goes in as text, never as markup. What the
// filter found is in its own words (clean/); what this report says around them is the catalog's.

import { cleanFile, neutralName, mimeType } from './clean/index.js';
import { t } from './i18n.js';
import { show, hide, showError, clearError, errorMessage } from './ui.js';

/**
 * prepareFiles runs each picked file through the privacy filter, one after another.
 * @param {File[]} picked
 * @returns {Promise<Array<{original: string, name: string, type: string, kind: string, what: string,
 *   status: string, removed: string[], remains: string[], warning?: string, bytes: Blob, neutral: boolean}>>}
 *   bytes is what will be encrypted (a Blob: the cleaned file, made of slices of the original).
 */
export async function prepareFiles(picked, onEach) {
  const out = [];
  for (const f of picked) {
    const r = await cleanFile(f);
    out.push({
      original: f.name, name: f.name, type: f.type || 'application/octet-stream', ownType: f.type || 'application/octet-stream', kind: r.kind, what: r.what,
      status: r.status, removed: r.removed, remains: r.remains, warning: r.warning, bytes: r.blob, neutral: false,
    });
    if (onEach) onEach(out.length, picked.length);
  }
  return out;
}

/** useNeutralName switches a file between its neutral name ("photo-1.jpg") and its own. */
export function useNeutralName(entry, n, on) {
  entry.neutral = on;
  entry.name = on ? neutralName(entry.kind, n) : entry.original;
  entry.type = on ? mimeType(entry.kind) : entry.ownType;
}

function summary(e) {
  if (e.status === 'warn') {
    return e.removed.length ? t('report.warn_removed', { warning: e.warning, removed: e.removed.join('; ') }) : e.warning;
  }
  if (e.status === 'cleaned') return t('report.removed', { removed: e.removed.join('; ') });
  if (e.kind === 'text') return t('report.plain_text');
  if (e.kind === 'empty') return t('report.empty');
  return t('report.nothing_found');
}

/**
 * renderFileReport fills box with one item per file: its name, what was removed or may remain,
 * and a button to send it under a neutral name. onChange runs after a name is switched.
 */
export function renderFileReport(box, entries, onChange) {
  box.replaceChildren();
  if (!entries.length) { box.hidden = true; return; }
  const h = document.createElement('h3');
  h.textContent = t('report.heading');
  box.appendChild(h);
  const ul = document.createElement('ul');
  entries.forEach((e, i) => {
    const li = document.createElement('li');
    li.className = e.status === 'warn' ? 'warn' : 'ok';
    const name = document.createElement('strong');
    name.className = 'file-name';
    name.textContent = e.original;
    li.appendChild(name);
    const what = document.createElement('span');
    what.textContent = ` ${t('report.kind', { kind: e.what, summary: summary(e) })}`;
    li.appendChild(what);
    const naming = document.createElement('div');
    naming.className = 'file-naming';
    const note = document.createElement('span');
    note.textContent = e.neutral ? t('report.sent_as', { name: e.name }) : `${t('report.own_name_sent')} `;
    naming.appendChild(note);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'neutral-name';
    button.textContent = e.neutral ? t('report.use_own_name') : t('report.send_as', { name: neutralName(e.kind, i + 1) });
    button.addEventListener('click', () => {
      useNeutralName(e, i + 1, !e.neutral);
      renderFileReport(box, entries, onChange);
      if (onChange) onChange();
      const again = box.querySelectorAll('button.neutral-name')[i];
      if (again) again.focus();
    });
    naming.appendChild(button);
    li.appendChild(naming);
    ul.appendChild(li);
  });
  box.appendChild(ul);
  box.hidden = false;
}

/**
 * fileChooser runs the files picked in input through the filter and shows the report in box;
 * a pick made while an earlier one is still being checked wins. files() waits for the latest
 * pick and gives its entries (with the names the person chose); clear() forgets them.
 * @param {HTMLInputElement} input
 * @param {HTMLElement} box
 */
export function fileChooser(input, box) {
  let files = [];
  let checking = Promise.resolve();
  let picks = 0;
  input.addEventListener('change', async () => {
    clearError();
    const picked = [...input.files];
    files = [];
    box.replaceChildren();
    if (picked.length) {
      const p = document.createElement('p');
      p.textContent = t('report.checking');
      box.appendChild(p);
      show(box);
    } else {
      hide(box);
    }
    const pick = ++picks;
    checking = (async () => {
      const out = await prepareFiles(picked);
      if (pick !== picks) return;
      files = out;
      renderFileReport(box, out);
    })().catch((e) => { files = []; hide(box); showError(t('report.read_failed', { why: errorMessage(e) })); });
    await checking;
  });
  return {
    async files() {
      await checking;
      return files;
    },
    clear() { files = []; },
  };
}
