// The reader's page, /n/{id}#key. Nothing is sent before the reader clicks Reveal, so link
// previews and scanners that run scripts cannot burn the note either. The key is taken out of
// the address bar as soon as it is read, so a reload (or the history) cannot show it again.
//
// Decrypted content is shown as text only. Files become downloads whose blob type is always
// application/octet-stream: a decrypted HTML or SVG file must never render in this origin.

import { parseFragment, normalizePIN, readerTokens, openNote, newClaim, FLAG_PIN } from './protocol.js';
import { api, GoneError, WrongPinError } from './api.js';
import { $, show, hide, setText, progress, showError, clearError, errorMessage, renderDownloads, pageId } from './ui.js';
import { t } from './i18n.js';

const id = pageId();
let secret = null;
let needsPin = false;
let busy = false;

function gone() {
  for (const s of ['intro', 'pin-prompt', 'progress-box', 'note']) hide(s);
  clearError();
  show('gone');
  $('gone-heading').focus();
}

function readFragment() {
  const frag = location.hash.replace(/^#/, '');
  // Out of the address bar first, whatever the fragment holds.
  if (location.hash) history.replaceState(null, '', location.pathname);
  if (!frag) return null;
  try {
    return parseFragment(frag);
  } catch {
    return undefined;
  }
}

function renderNote(note) {
  const textBox = $('note-text');
  textBox.textContent = note.text || '';
  show('note-text-box', Boolean(note.text));
  renderDownloads($('note-files'), note.files || []);
  show('note-files-box', (note.files || []).length > 0);
  show('note');
  $('note-heading').focus();
}

async function reveal(pin) {
  if (busy) return;
  busy = true;
  clearError();
  $('reveal').disabled = true;
  $('pin-submit').disabled = true;
  try {
    const tokens = await readerTokens(secret, pin);
    const claim = await newClaim();
    show('progress-box');
    setText('progress-label', t('open.downloading'));
    const ciphertext = await api.open(id, { gate: tokens.gate, claim: claim.hash, open: tokens.open, destruct: tokens.destruct },
      { onProgress: progress('progress-download') });
    setText('progress-label', t('progress.decrypting_here'));
    let note;
    try {
      note = await openNote({ fragmentSecret: secret, pin, stretched: tokens.stretched, ciphertext, onProgress: progress('progress-decrypt') });
    } catch {
      hide('progress-box');
      hide('intro');
      hide('pin-prompt');
      showError(t('open.undecryptable'));
      return;
    }
    progress('progress-decrypt')(1, 1);
    hide('intro');
    hide('pin-prompt');
    hide('progress-box');
    renderNote(note);
    // Wipes it on the server now rather than when the claim window ends. The note is already
    // shown, so a failure here is not the reader's problem.
    api.confirm(id, tokens.gate, claim.nonce).catch(() => {});
  } catch (e) {
    hide('progress-box');
    if (e instanceof GoneError) { gone(); return; }
    if (e instanceof WrongPinError) {
      if (e.triesLeft <= 0) { gone(); return; }
      setText('tries-left', e.message);
      show('tries-left');
      $('pin-input').value = '';
      $('pin-input').focus();
      return;
    }
    showError(errorMessage(e));
  } finally {
    busy = false;
    $('reveal').disabled = false;
    $('pin-submit').disabled = false;
  }
}

function start() {
  const f = readFragment();
  show('app');
  if (f === null) { gone(); return; }
  if (f === undefined) {
    hide('intro');
    showError(t('link.damaged'));
    return;
  }
  secret = f.secret;
  needsPin = (f.flags & FLAG_PIN) !== 0;
  $('reveal').addEventListener('click', () => {
    if (needsPin) {
      hide('intro');
      show('pin-prompt');
      $('pin-input').focus();
      return;
    }
    reveal(null);
  });
  $('pin-prompt').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearError();
    let pin;
    try {
      pin = normalizePIN($('pin-input').value.trim());
    } catch (e) {
      showError(errorMessage(e));
      return;
    }
    reveal(pin);
  });
}

start();
