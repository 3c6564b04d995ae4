// The sender's private page, /m/{id}#manage-secret: is the note still waiting, opened, gone?
// The manage secret stays in the address bar on purpose, so the sender can reload to check
// again; it is sent only inside the JSON body of status and revoke, never in a URL.

import { parseManageFragment } from './protocol.js';
import { api, GoneError } from './api.js';
import { $, show, hide, setText, showError, clearError, errorMessage, duration, pageId } from './ui.js';

const id = pageId();
let manage = null;

const STATES = {
  pending: ['Not finished', 'The note was not completely uploaded, so nobody can open it.'],
  waiting: ['Waiting', 'Nobody has opened the note yet.'],
  opened: ['Opened', 'The note has been opened. It is deleted from the server.'],
  gone: ['Gone', 'This note is no longer available: it was opened, it expired, or it was deleted.'],
};

function render(state, expiresIn) {
  const [title, text] = STATES[state] || STATES.gone;
  const box = $('status');
  box.dataset.state = state;
  setText('status-title', title);
  setText('status-text', text);
  setText('status-expires', state === 'waiting' || state === 'pending'
    ? `If nobody opens it, it will be deleted in ${duration(expiresIn)}.` : '');
  show('revoke-box', state === 'waiting' || state === 'pending');
  if (state !== 'waiting' && state !== 'pending') hide('revoke-confirm');
}

async function refresh() {
  clearError();
  $('refresh').disabled = true;
  try {
    const s = await api.status(id, manage);
    render(s.state, s.expires_in);
  } catch (e) {
    if (e instanceof GoneError) render('gone', 0);
    else showError(errorMessage(e));
  } finally {
    $('refresh').disabled = false;
  }
}

async function revoke() {
  clearError();
  $('revoke-yes').disabled = true;
  try {
    await api.revoke(id, manage);
    hide('revoke-confirm');
    render('gone', 0);
    setText('status-text', 'You deleted the note. Nobody can open it now.');
  } catch (e) {
    if (e instanceof GoneError) { hide('revoke-confirm'); render('gone', 0); } else showError(errorMessage(e));
  } finally {
    $('revoke-yes').disabled = false;
  }
}

function start() {
  show('app');
  try {
    manage = parseManageFragment(location.hash.replace(/^#/, '')).secret;
  } catch {
    hide('status-box');
    showError('This manage link is incomplete or damaged. Check that you copied all of it.');
    return;
  }
  $('refresh').addEventListener('click', refresh);
  $('revoke').addEventListener('click', () => { show('revoke-confirm'); $('revoke-yes').focus(); });
  $('revoke-cancel').addEventListener('click', () => { hide('revoke-confirm'); $('revoke').focus(); });
  $('revoke-yes').addEventListener('click', revoke);
  refresh();
}

start();
