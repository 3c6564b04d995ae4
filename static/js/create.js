// The front page: write a note, attach files, encrypt here, upload ciphertext, show the links.
// The read key exists only in this page and in the link it shows; the server gets ciphertext
// and token hashes.

import { newNote, normalizePIN, checkPINs, padme, parseManageFragment, b64uDecode } from './protocol.js';
import { api } from './api.js';
import { utf8Encode } from './bytes.js';
import { fileChooser } from './filereport.js';
import { payAndCreate, PRICE_NOTE } from './price.js';
import { pageLimits } from './limits.js';
import { encode, toSVG } from './qr.js';
import { $, show, hide, setText, progress, showError, clearError, errorMessage, copyButton, duration, size } from './ui.js';
import { t } from './i18n.js';

const TTL_LABELS = { 300: () => t('ttl.5m'), 3600: () => t('ttl.1h'), 86400: () => t('ttl.1d'), 604800: () => t('ttl.7d') };

// The limits come with the page (limits.js): nothing is asked at load.
const pagelimits = pageLimits({ fetchLimits: api.limits });
let chooser = null; // the picked files, after the privacy filter (filereport.js)

function sealedEstimate(text, list) {
  // Mirrors SECURITY.md "Plaintext" and "Envelope"; the server has the last word (413).
  const manifest = JSON.stringify({ v: 1, text, files: list.map((f) => ({ name: f.name, type: f.type, size: f.bytes.size })) });
  let L = 4 + utf8Encode(manifest).length;
  for (const f of list) L += f.bytes.size;
  const padded = padme(L);
  return 25 + padded + 16 * Math.max(1, Math.ceil(padded / 65536));
}

function applyLimits(l) {
  const select = $('ttl');
  const allowed = new Set((l.ttls || []).filter((ttl) => !l.max_ttl || ttl <= l.max_ttl));
  for (const ttl of allowed) {
    if (![...select.options].some((o) => Number(o.value) === ttl)) {
      const o = document.createElement('option');
      o.value = String(ttl);
      o.textContent = TTL_LABELS[ttl] ? TTL_LABELS[ttl]() : duration(ttl);
      select.appendChild(o);
    }
  }
  for (const o of [...select.options]) if (allowed.size && !allowed.has(Number(o.value))) o.remove();
  if (l.default_ttl && allowed.has(l.default_ttl)) select.value = String(l.default_ttl);
  const max = Math.min(l.max_entry || Infinity, l.free || Infinity);
  setText('limit', Number.isFinite(max) ? t('create.limit', { size: size(max) }) : '');
}

function readPINs() {
  const rawPin = $('pin').value.trim();
  const rawDpin = $('dpin').value.trim();
  if (!rawPin && rawDpin) throw new Error(t('create.dpin_needs_pin'));
  const pin = rawPin ? normalizePIN(rawPin) : null;
  const dpin = rawDpin ? normalizePIN(rawDpin) : null;
  if (pin && dpin && pin === dpin) throw new Error(t('create.dpin_same'));
  if (pin) checkPINs(pin, dpin);
  return { pin, dpin };
}

async function onCreate(ev) {
  ev.preventDefault();
  clearError();
  const button = $('create');
  button.disabled = true;
  try {
    const files = await chooser.files();
    const text = $('text').value;
    if (!text && files.length === 0) throw new Error(t('compose.empty'));
    const { pin, dpin } = readPINs();
    const ttl = Number($('ttl').value);
    const limits = await pagelimits.current();
    const need = sealedEstimate(text, files);
    if (limits.max_entry && need > limits.max_entry) {
      throw new Error(t('create.too_large', { size: size(need), max: size(limits.max_entry) }));
    }
    if (limits.free && need > limits.free) {
      throw new Error(t('create.no_room'));
    }
    show('progress-box');
    hide('pow-box');
    setText('progress-label', t('progress.encrypting_here'));
    const note = await newNote({ text, files, pin, destructPin: dpin, onProgress: progress('progress-encrypt') });
    progress('progress-encrypt')(1, 1);
    const priceReq = {
      kind: PRICE_NOTE, manage: b64uDecode(note.create.manage_hash), length: note.ciphertext.length, ttl,
    };
    const hint = limits.price ? { level: (limits.price.levels || {}).note || 0, token: limits.price.token } : null;
    const manage = note.manageFragment.replace(/^#/, '');
    const M = parseManageFragment(manage).secret;
    // One request for a note up to max_append: the create carries the ciphertext.
    const created = await payAndCreate((payment) => {
      setText('progress-label', t('create.uploading'));
      return api.put({ ttl, ...note.create }, M, note.ciphertext, payment,
        { maxAppend: limits.max_append, onProgress: progress('progress-upload') });
    }, priceReq, hint, {
      onWork: (done, total) => {
        setText('progress-label', t('progress.pow_working'));
        show('pow-box');
        progress('progress-pow')(done, total);
      },
      bindToken: true,
    });
    showResult(created.id, note.fragment.replace(/^#/, ''), manage, created.expires_in, Boolean(pin));
  } catch (e) {
    showError(errorMessage(e));
    hide('progress-box');
  } finally {
    button.disabled = false;
  }
}

function showResult(id, fragment, manageFragment, expiresIn, hasPin) {
  const link = `${location.origin}/n/${id}#${fragment}`;
  const manage = `${location.origin}/m/${id}#${manageFragment}`;
  $('link').value = link;
  $('manage-link').value = manage;
  setText('expires', t('create.expires', { duration: duration(expiresIn) }));
  show('pin-reminder', hasPin);
  const qr = $('qr');
  qr.replaceChildren(toSVG(document, encode(link), { title: t('create.qr_title') }));
  hide('compose');
  hide('progress-box');
  show('result');
  // Clear what was typed: the page no longer needs it.
  $('text').value = '';
  $('pin').value = '';
  $('dpin').value = '';
  chooser.clear();
  $('result-heading').focus();
}

function start() {
  show('app');
  chooser = fileChooser($('files'), $('strip-report'));
  $('create-form').addEventListener('submit', onCreate);
  copyButton('copy-link', 'link');
  copyButton('copy-manage', 'manage-link');
  if (pagelimits.carried) applyLimits(pagelimits.carried);
  else pagelimits.current().then(applyLimits).catch(() => setText('limit', t('create.limit_unknown')));
}

start();
