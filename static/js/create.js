// The front page: write a note, attach files, encrypt here, upload ciphertext, show the links.
// The read key exists only in this page and in the link it shows; the server gets ciphertext
// and token hashes.

import { newNote, normalizePIN, checkPINs, padme, parseManageFragment, b64uDecode } from './protocol.js';
import { api } from './api.js';
import { prepareFiles, renderFileReport } from './filereport.js';
import { payAndCreate, PRICE_NOTE } from './price.js';
import { encode, toSVG } from './qr.js';
import { $, show, hide, setText, progress, showError, clearError, errorMessage, copyButton, duration, size } from './ui.js';

const TTL_LABELS = { 300: '5 minutes', 3600: '1 hour', 86400: '1 day', 604800: '7 days' };

let limits = null;
let files = []; // [{name, type, bytes: Blob}] after the privacy filter (filereport.js)
let stripping = Promise.resolve();
let picks = 0; // the latest pick wins when files are chosen again while being checked

function sealedEstimate(text, list) {
  // Mirrors SECURITY.md "Plaintext" and "Envelope"; the server has the last word (413).
  const manifest = JSON.stringify({ v: 1, text, files: list.map((f) => ({ name: f.name, type: f.type, size: f.bytes.size })) });
  let L = 4 + new TextEncoder().encode(manifest).length;
  for (const f of list) L += f.bytes.size;
  const padded = padme(L);
  return 25 + padded + 16 * Math.max(1, Math.ceil(padded / 65536));
}

function applyLimits(l) {
  limits = l;
  const select = $('ttl');
  const allowed = new Set((l.ttls || []).filter((t) => !l.max_ttl || t <= l.max_ttl));
  for (const t of allowed) {
    if (![...select.options].some((o) => Number(o.value) === t)) {
      const o = document.createElement('option');
      o.value = String(t);
      o.textContent = TTL_LABELS[t] || duration(t);
      select.appendChild(o);
    }
  }
  for (const o of [...select.options]) if (allowed.size && !allowed.has(Number(o.value))) o.remove();
  if (l.default_ttl && allowed.has(l.default_ttl)) select.value = String(l.default_ttl);
  const max = Math.min(l.max_entry || Infinity, l.free || Infinity);
  setText('limit', Number.isFinite(max) ? `Up to about ${size(max)} in total (text and files together).` : '');
}

async function onFiles() {
  clearError();
  const picked = [...$('files').files];
  const box = $('strip-report');
  files = [];
  box.replaceChildren();
  if (picked.length) {
    const p = document.createElement('p');
    p.textContent = 'Checking your files for hidden details…';
    box.appendChild(p);
    show(box);
  } else {
    hide(box);
  }
  const pick = ++picks;
  stripping = (async () => {
    const out = await prepareFiles(picked);
    if (pick !== picks) return;
    files = out;
    renderFileReport(box, out);
  })().catch((e) => { files = []; hide(box); showError(`Could not read the files: ${errorMessage(e)}`); });
  await stripping;
}

function readPINs() {
  const rawPin = $('pin').value.trim();
  const rawDpin = $('dpin').value.trim();
  if (!rawPin && rawDpin) throw new Error('A destruct PIN only works together with a PIN. Set a PIN too, or leave both empty.');
  const pin = rawPin ? normalizePIN(rawPin) : null;
  const dpin = rawDpin ? normalizePIN(rawDpin) : null;
  if (pin && dpin && pin === dpin) throw new Error('The destruct PIN must be different from the PIN.');
  if (pin) checkPINs(pin, dpin);
  return { pin, dpin };
}

async function onCreate(ev) {
  ev.preventDefault();
  clearError();
  const button = $('create');
  button.disabled = true;
  try {
    await stripping;
    const text = $('text').value;
    if (!text && files.length === 0) throw new Error('Write something or choose a file first.');
    const { pin, dpin } = readPINs();
    const ttl = Number($('ttl').value);
    if (!limits) limits = await api.limits();
    const need = sealedEstimate(text, files);
    if (limits.max_entry && need > limits.max_entry) {
      throw new Error(`This is too large: about ${size(need)}, and the server accepts up to ${size(limits.max_entry)}. Send fewer or smaller files.`);
    }
    if (limits.free && need > limits.free) {
      throw new Error('The server does not have enough room for this right now. Try again later, or send less.');
    }
    show('progress-box');
    hide('work-box');
    setText('progress-label', 'Encrypting on this device…');
    const note = await newNote({ text, files, pin, destructPin: dpin, onProgress: progress('progress-encrypt') });
    progress('progress-encrypt')(1, 1);
    const priceReq = {
      kind: PRICE_NOTE, manage: b64uDecode(note.create.manage_hash), length: note.ciphertext.length, ttl,
    };
    const hint = limits.price ? { level: (limits.price.levels || {}).note || 0, token: limits.price.token } : null;
    const created = await payAndCreate((payment) => api.create({ length: note.ciphertext.length, ttl, ...note.create }, payment), priceReq,
      hint, {
        onWork: (done, total) => {
          setText('progress-label', 'The server is getting full: your browser does a little work first, so that nobody can fill it cheaply…');
          show('work-box');
          progress('progress-work')(done, total);
        },
      });
    setText('progress-label', 'Uploading the encrypted note…');
    const manage = note.manageFragment.replace(/^#/, '');
    const M = parseManageFragment(manage).secret;
    await api.upload(created.id, M, note.ciphertext, { maxAppend: limits.max_append, onProgress: progress('progress-upload') });
    const done = await api.commit(created.id, M);
    showResult(created.id, note.fragment.replace(/^#/, ''), manage, done.expires_in || created.expires_in, Boolean(pin));
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
  setText('expires', `The note will be deleted when it is opened, or in ${duration(expiresIn)} if nobody opens it.`);
  show('pin-reminder', hasPin);
  const qr = $('qr');
  qr.replaceChildren(toSVG(document, encode(link), { title: 'QR code of the note link' }));
  hide('compose');
  hide('progress-box');
  show('result');
  // Clear what was typed: the page no longer needs it.
  $('text').value = '';
  $('pin').value = '';
  $('dpin').value = '';
  files = [];
  $('result-heading').focus();
}

function start() {
  show('app');
  $('files').addEventListener('change', onFiles);
  $('create-form').addEventListener('submit', onCreate);
  copyButton('copy-link', 'link');
  copyButton('copy-manage', 'manage-link');
  api.limits().then(applyLimits).catch(() => {
    setText('limit', 'The size limit could not be loaded; it is checked when you create the note.');
  });
}

start();
