// The inbox, /i/{route}#inbox-fragment: the journalist's (or, for a reply box, the source's)
// page. Every call is proven with a fresh server challenge (drop-api.js); the scalars stay in
// this page's memory and in non-extractable CryptoKeys.
//
// The fragment is taken out of the address bar at once, like every link's key: the inbox link
// is the one secret that reads everything, and an address bar is seen over shoulders, kept in
// session restore and shown by screen sharing. A journalist who reloads is asked to paste the
// link again (from the password manager it should live in) rather than finding it still there.
//
// A message is fetched, decrypted, confirmed (wiped on the server) and only then shown, once:
// text as text, files as application/octet-stream downloads. Nothing is written to storage.

import { DROP_FLAG_REPLY, parseInboxFragment, checkRoute, routeId, openSubmission } from './drop-protocol.js';
import { api } from './api.js';
import { dropApi, deliver } from './drop-api.js';
import { pageLimits } from './limits.js';
import { $, show, hide, setText, progress, showError, clearError, errorMessage, size, renderDownloads, pageId } from './ui.js';
import { t } from './i18n.js';

let keys = null;
let inbox = null;
let ownFetches = 0; // fetches this page made since its last list: not a thief's
let last = null; // {fetched}: fetched_total at this page's previous list
let busy = false;
let replyTo = null;
// The limits a reply is sent with (its size, the price) come with the page (limits.js), and
// are asked afresh only once their token is old.
const pagelimits = pageLimits({ fetchLimits: api.limits });
const urls = [];

function age(hours) {
  if (hours < 1) return t('inbox.age_recent');
  if (hours < 48) return t('inbox.age_hours', { count: hours });
  return t('inbox.age_days', { count: Math.floor(hours / 24) });
}

function lost() {
  hide('inbox');
  hide('reader');
  hide('progress-box');
  showError(t('inbox.lost'));
}

function visitsText(v) {
  return t('inbox.visit', { day: v.day, count: v.fetched });
}

// The visit log is the theft signal no one can reset: every day someone listed this inbox,
// and how many messages were read after. The page cannot tell the journalist's visits from
// anyone else's, so it shows them all and says what to look for.
function renderVisits(visits) {
  const ul = $('visits');
  ul.replaceChildren();
  for (const v of visits || []) {
    const li = document.createElement('li');
    li.textContent = visitsText(v);
    ul.appendChild(li);
  }
  show('visits-box', Boolean(visits && visits.length));
}

function addItems(items) {
  const list = $('list');
  for (const it of items) {
    if (list.querySelector(`button[data-id="${CSS.escape(it.id)}"]`)) continue; // a page may repeat
    const li = document.createElement('li');
    const desc = document.createElement('span');
    desc.textContent = t('inbox.item', { age: age(it.age_hours), size: size(it.size) });
    li.appendChild(desc);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'primary read';
    b.textContent = t('inbox.read_once');
    b.dataset.id = it.id;
    b.addEventListener('click', () => read(it.id));
    li.appendChild(b);
    list.appendChild(li);
  }
}

function showCounts(l) {
  const shown = $('list').children.length;
  setText('pending', l.pending > shown
    ? t('inbox.pending_some', { count: l.pending, shown })
    : t('inbox.pending', { count: l.pending }));
  show('pending', l.pending > 0);
  show('more', Boolean(l.more));
  show('empty', shown === 0);
}

// checkReads warns when messages were read that this page did not read. On the first list
// only fetched_since_list can tell (anyone's list resets it: the visit log is the signal to
// trust); while the page is open, the process-wide total since its previous list cannot be
// reset by anyone.
function checkReads(l) {
  const theirs = last ? l.fetched_total - last.fetched - ownFetches : l.fetched_since_list;
  last = { fetched: l.fetched_total };
  ownFetches = 0;
  if (theirs > 0) {
    setText('theft-count', t('inbox.theft', { count: theirs }));
    show('theft');
  }
}

// refresh lists the inbox again; it resolves true when the list is shown.
async function refresh() {
  if (busy) return false;
  busy = true;
  clearError();
  hide('wiped');
  try {
    const l = await inbox.list();
    checkReads(l);
    renderVisits(l.visits);
    $('list').replaceChildren();
    addItems(l.submissions);
    showCounts(l);
    show('inbox');
    return true;
  } catch (e) {
    if (e && e.code === 'gone') { lost(); return false; }
    showError(errorMessage(e));
    return false;
  } finally {
    busy = false;
  }
}

// showInbox lists the inbox again and, once it shows, gives its heading the focus: the view
// that had it (the reader, the question, the link box) is gone.
async function showInbox() {
  if (await refresh()) $('inbox-heading').focus();
}

// more lists the page after the last message shown (from the oldest again when none is
// shown, or when the server no longer has that one; ids already shown are skipped).
async function more() {
  if (busy) return;
  busy = true;
  clearError();
  try {
    const buttons = $('list').querySelectorAll('button.read');
    const after = buttons.length ? buttons[buttons.length - 1].dataset.id : undefined;
    const l = await inbox.list(after);
    checkReads(l);
    renderVisits(l.visits);
    addItems(l.submissions);
    showCounts(l);
    // "More" hides itself after the last page: the focus goes to the first message it added.
    if ($('more').hidden) {
      const next = $('list').querySelectorAll('button.read')[buttons.length];
      (next || $('inbox-heading')).focus();
    }
  } catch (e) {
    if (e && e.code === 'gone') { lost(); return; }
    showError(errorMessage(e));
  } finally {
    busy = false;
  }
}

function renderMessage(m) {
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  $('msg-text').textContent = m.text || '';
  show('msg-text-box', Boolean(m.text));
  renderDownloads($('msg-files'), m.files, urls);
  show('msg-files-box', m.files.length > 0);
  replyTo = m.replyBox;
  $('reply-text').value = '';
  hide('reply-sent');
  hide('reply-progress');
  show('reply-form', Boolean(replyTo));
  hide('inbox');
  show('reader');
  $('reader-heading').focus();
}

async function read(id) {
  if (busy) return;
  busy = true;
  clearError();
  for (const b of document.querySelectorAll('#list button')) b.disabled = true;
  try {
    show('progress-box');
    progress('progress-download')(0, 1);
    progress('progress-decrypt')(0, 1);
    setText('progress-label', t('inbox.downloading'));
    const got = await inbox.fetch(id, { onProgress: progress('progress-download') });
    ownFetches++;
    setText('progress-label', t('progress.decrypting_here'));
    let m;
    try {
      m = await openSubmission({ keys, ciphertext: got.ciphertext, onProgress: progress('progress-decrypt') });
    } catch {
      hide('progress-box');
      showError(t('inbox.undecryptable'));
      return;
    }
    // Wiped on the server before it is shown: the page is now the only copy.
    await inbox.confirm(id, got.nonce).catch(() => {});
    hide('progress-box');
    const row = document.querySelector(`#list button[data-id="${CSS.escape(id)}"]`);
    if (row) row.closest('li').remove();
    renderMessage(m);
  } catch (e) {
    hide('progress-box');
    if (e && e.code === 'gone') {
      showError(t('inbox.message_gone'));
      busy = false;
      await refresh();
      return;
    }
    showError(errorMessage(e));
  } finally {
    busy = false;
    for (const b of document.querySelectorAll('#list button')) b.disabled = false;
  }
}

async function sendReply(ev) {
  ev.preventDefault();
  if (!replyTo || busy) return;
  clearError();
  const text = $('reply-text').value;
  if (!text) { showError(t('inbox.reply_empty')); return; }
  busy = true;
  $('reply-send').disabled = true;
  const bar = progress('progress-reply');
  try {
    const limits = await pagelimits.current();
    show('reply-progress');
    const labels = { encrypt: () => t('progress.encrypting'), pow: () => t('progress.pow_short'), upload: () => t('progress.uploading') };
    await deliver({
      drop: replyTo,
      text,
      files: [],
      limits,
      steps: (step, done, total) => { setText('reply-progress-label', labels[step]()); bar(done, total); },
    });
    replyTo = null;
    hide('reply-form');
    $('reply-text').value = '';
    show('reply-sent');
    $('reply-sent').focus(); // the form that had it is gone; the next Tab is "Back to the inbox"
  } catch (e) {
    hide('reply-progress');
    if (e && e.code === 'gone') {
      replyTo = null;
      hide('reply-form');
      showError(t('inbox.reply_used'));
      return;
    }
    showError(errorMessage(e));
  } finally {
    busy = false;
    $('reply-send').disabled = false;
  }
}

async function wipeAll() {
  if (busy) return;
  busy = true;
  clearError();
  hide('wipe-confirm');
  try {
    const r = await inbox.wipe();
    setText('wiped', t('inbox.wiped', { count: r.wiped }));
    busy = false;
    if (await refresh()) {
      show('wiped');
      $('inbox-heading').focus(); // "Yes, delete them all" that had it is hidden
    }
  } catch (e) {
    if (e && e.code === 'gone') { lost(); return; }
    showError(errorMessage(e));
  } finally {
    busy = false;
  }
}

async function useLink(frag) {
  try {
    keys = await parseInboxFragment(frag);
  } catch {
    showError(t('inbox.damaged'));
    show('paste');
    return false;
  }
  const route = await routeId(keys);
  try {
    await checkRoute(pageId(), keys);
  } catch {
    // A pasted link of another drop box: this page serves any route, so move to its own.
    history.replaceState(null, '', `/i/${route}`);
  }
  if (keys.flags & DROP_FLAG_REPLY) {
    setText('inbox-heading', t('inbox.reply_box_heading'));
    document.title = t('inbox.reply_box_title');
  }
  inbox = await dropApi(keys);
  hide('paste');
  return refresh();
}

function start() {
  const frag = location.hash.replace(/^#/, '');
  if (location.hash) history.replaceState(null, '', location.pathname);
  // The same link opened again in this tab only changes the fragment: start afresh with it.
  window.addEventListener('hashchange', () => location.reload());
  show('app');
  $('refresh').addEventListener('click', refresh);
  $('more').addEventListener('click', more);
  // The question takes the focus to Cancel: Enter twice deletes nothing.
  $('wipe').addEventListener('click', () => { show('wipe-confirm'); $('wipe-no').focus(); });
  $('wipe-no').addEventListener('click', () => { hide('wipe-confirm'); $('wipe').focus(); });
  $('wipe-yes').addEventListener('click', wipeAll);
  $('reply-form').addEventListener('submit', sendReply);
  $('back').addEventListener('click', () => {
    hide('reader');
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    $('msg-text').textContent = '';
    $('msg-files').replaceChildren();
    showInbox();
  });
  $('paste').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const v = $('paste-link').value.trim();
    $('paste-link').value = '';
    const i = v.indexOf('#');
    if (await useLink(i >= 0 ? v.slice(i + 1) : v)) $('inbox-heading').focus();
  });
  if (frag) useLink(frag);
  else show('paste');
}

start();
