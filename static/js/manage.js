// The sender's private page, /m/{id}#manage-secret: is the note still waiting, opened, gone?
// The manage secret stays in the address bar on purpose, so the sender can reload to check
// again; it is sent only inside the JSON body of status and revoke, never in a URL.

import { parseManageFragment } from './protocol.js';
import { api, GoneError } from './api.js';
import { $, show, hide, setText, showError, clearError, errorMessage, duration, pageId } from './ui.js';
import { t } from './i18n.js';

const id = pageId();
let manage = null;

const STATES = {
  pending: () => [t('manage.pending_title'), t('manage.pending_text')],
  waiting: () => [t('manage.waiting_title'), t('manage.waiting_text')],
  opened: () => [t('manage.opened_title'), t('manage.opened_text')],
  gone: () => [t('manage.gone_title'), t('manage.gone_text')],
};

function render(state, expiresIn) {
  const [title, text] = (Object.hasOwn(STATES, state) ? STATES[state] : STATES.gone)();
  const box = $('status');
  box.dataset.state = state;
  setText('status-title', title);
  setText('status-text', text);
  setText('status-expires', state === 'waiting' || state === 'pending'
    ? t('manage.expires', { duration: duration(expiresIn) }) : '');
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
    setText('status-text', t('manage.revoked'));
    $('status-heading').focus(); // the buttons that had the focus are hidden
  } catch (e) {
    if (e instanceof GoneError) {
      hide('revoke-confirm');
      render('gone', 0);
      $('status-heading').focus();
    } else showError(errorMessage(e));
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
    showError(t('manage.damaged'));
    return;
  }
  $('refresh').addEventListener('click', refresh);
  // The question takes the focus to the answer that keeps the note: Enter twice deletes nothing.
  $('revoke').addEventListener('click', () => { show('revoke-confirm'); $('revoke-cancel').focus(); });
  $('revoke-cancel').addEventListener('click', () => { hide('revoke-confirm'); $('revoke').focus(); });
  $('revoke-yes').addEventListener('click', revoke);
  refresh();
}

start();
