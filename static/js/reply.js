// The source's reply page, /r/{route}#reply-box-keys: the link a source was given when they
// asked for a reply. It reads the one reply, once, and shows nothing of a journalist's inbox
// (no visit log, no "wipe all", no command-line advice). The calls are the inbox's
// (drop-api.js): every one proven with a fresh server challenge; the keys stay in this page.
//
// The fragment leaves the address bar at once; a reload asks for the link again. The reply
// is fetched, decrypted, confirmed (wiped on the server) and only then shown.

import { DROP_FLAG_REPLY, parseInboxFragment, checkRoute, routeId, openSubmission } from './drop-protocol.js';
import { dropApi } from './drop-api.js';
import { $, show, hide, setText, progress, clearError, showError, errorMessage, renderDownloads, pageId } from './ui.js';
import { t } from './i18n.js';

const STATES = ['paste', 'waiting', 'ready', 'reader', 'gone'];
let keys = null;
let box = null;
let replyId = null;
let busy = false;
const urls = [];

// state shows one of the page's states and moves focus to its heading.
function state(name) {
  for (const s of STATES) show(s, s === name);
  hide('progress-box');
  $(`${name}-heading`).focus();
}

function gone(text) {
  setText('gone-text', text);
  state('gone');
}

// check lists the reply box: one reply waiting, none yet, or one already read (here or by
// whoever else holds the link: the list's counter says a read happened, not by whom).
async function check() {
  if (busy) return;
  busy = true;
  clearError();
  try {
    const l = await box.list();
    const items = l.submissions || [];
    if (items.length > 0) {
      replyId = items[0].id;
      state('ready');
    } else if ((l.fetched_total || 0) > 0) {
      gone(t('reply.already_read'));
    } else {
      state('waiting');
    }
  } catch (e) {
    if (e && e.code === 'gone') gone(t('reply.gone_text'));
    else showError(errorMessage(e));
  } finally {
    busy = false;
  }
}

async function read() {
  if (busy || !replyId) return;
  busy = true;
  clearError();
  $('read').disabled = true;
  try {
    show('progress-box');
    progress('progress-download')(0, 1);
    progress('progress-decrypt')(0, 1);
    setText('progress-label', t('reply.downloading'));
    const got = await box.fetch(replyId, { onProgress: progress('progress-download') });
    setText('progress-label', t('progress.decrypting_here'));
    let m;
    try {
      m = await openSubmission({ keys, ciphertext: got.ciphertext, onProgress: progress('progress-decrypt') });
    } catch {
      hide('progress-box');
      showError(t('reply.undecryptable'));
      return;
    }
    // Wiped on the server before it is shown: the page is now the only copy.
    await box.confirm(replyId, got.nonce).catch(() => {});
    replyId = null;
    $('msg-text').textContent = m.text || '';
    renderDownloads($('msg-files'), m.files, urls);
    show('msg-files-box', m.files.length > 0);
    state('reader');
  } catch (e) {
    hide('progress-box');
    if (e && e.code === 'gone') gone(t('reply.already_read'));
    else showError(errorMessage(e));
  } finally {
    busy = false;
    $('read').disabled = false;
  }
}

async function useLink(frag) {
  try {
    keys = await parseInboxFragment(frag);
    if (!(keys.flags & DROP_FLAG_REPLY)) throw new RangeError(); // an inbox link: not this page's
  } catch {
    keys = null;
    showError(t('reply.damaged'));
    state('paste');
    return;
  }
  try {
    await checkRoute(pageId(), keys);
  } catch {
    // A pasted reply link of another reply box: this page serves any route, so move to its own.
    history.replaceState(null, '', `/r/${await routeId(keys)}`);
  }
  box = await dropApi(keys);
  await check();
}

function start() {
  const frag = location.hash.replace(/^#/, '');
  if (location.hash) history.replaceState(null, '', location.pathname);
  window.addEventListener('hashchange', () => location.reload());
  show('app');
  $('check').addEventListener('click', check);
  $('read').addEventListener('click', read);
  $('paste').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const v = $('paste-link').value.trim();
    $('paste-link').value = '';
    const i = v.indexOf('#');
    await useLink(i >= 0 ? v.slice(i + 1) : v);
  });
  if (frag) useLink(frag);
  else state('paste');
}

start();
