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
import { $, show, hide, setText, progress, showError, clearError, errorMessage, size, pageId } from './ui.js';

let keys = null;
let inbox = null;
let ownFetches = 0; // fetches this page made since its last list: not a thief's
let last = null; // {fetched}: fetched_total at this page's previous list
let busy = false;
let replyTo = null;
const urls = [];

function age(hours) {
  if (hours < 1) return 'less than an hour ago';
  if (hours < 48) return `about ${hours} hour${hours === 1 ? '' : 's'} ago`;
  return `about ${Math.floor(hours / 24)} days ago`;
}

function lost() {
  hide('inbox');
  hide('reader');
  hide('progress-box');
  showError('The server does not accept this inbox link: it is wrong or incomplete, or the server no longer knows this drop box. Nothing was read or deleted.');
}

function visitsText(v) {
  return `${v.day}: ${v.fetched === 0 ? 'no messages' : v.fetched === 1 ? '1 message' : `${v.fetched} messages`} read`;
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
    desc.textContent = `Received ${age(it.age_hours)}, up to ${size(it.size)}`;
    li.appendChild(desc);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'primary read';
    b.textContent = 'Read once';
    b.dataset.id = it.id;
    b.addEventListener('click', () => read(it.id));
    li.appendChild(b);
    list.appendChild(li);
  }
}

function showCounts(l) {
  const shown = $('list').children.length;
  setText('pending', l.pending > shown
    ? `${l.pending} messages are waiting; the oldest ${shown} are shown.`
    : `${l.pending} message${l.pending === 1 ? ' is' : 's are'} waiting.`);
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
    setText('theft-count', `Warning: ${theirs} message${theirs === 1 ? ' was' : 's were'} read since your last visit.`);
    show('theft');
  }
}

async function refresh() {
  if (busy) return;
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
  } catch (e) {
    if (e && e.code === 'gone') { lost(); return; }
    showError(errorMessage(e));
  } finally {
    busy = false;
  }
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
  const list = $('msg-files');
  list.replaceChildren();
  for (const f of m.files) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    const u = URL.createObjectURL(new Blob([f.bytes], { type: 'application/octet-stream' }));
    urls.push(u);
    a.href = u;
    a.download = f.name || 'file';
    a.textContent = f.name || 'file';
    a.rel = 'noopener';
    li.appendChild(a);
    const s = document.createElement('span');
    s.className = 'size';
    s.textContent = ` (${size(f.bytes.length)})`;
    li.appendChild(s);
    list.appendChild(li);
  }
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
    setText('progress-label', 'Downloading the encrypted message…');
    const got = await inbox.fetch(id, { onProgress: progress('progress-download') });
    ownFetches++;
    setText('progress-label', 'Decrypting on this device…');
    let m;
    try {
      m = await openSubmission({ keys, ciphertext: got.ciphertext, onProgress: progress('progress-decrypt') });
    } catch {
      hide('progress-box');
      showError('This message could not be decrypted: it was damaged or changed on the way. It was not marked as read and is deleted when the claim window ends.');
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
      showError('This message is no longer available: it was already read or has expired.');
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
  if (!text) { showError('Write a reply first.'); return; }
  busy = true;
  $('reply-send').disabled = true;
  const bar = progress('progress-reply');
  try {
    const limits = await api.limits();
    show('reply-progress');
    const labels = { encrypt: 'Encrypting', pow: 'Anti-spam check', upload: 'Uploading' };
    await deliver({
      drop: replyTo,
      text,
      files: [],
      limits,
      steps: (step, d, t) => { setText('reply-progress-label', labels[step]); bar(d, t); },
    });
    replyTo = null;
    hide('reply-form');
    $('reply-text').value = '';
    show('reply-sent');
  } catch (e) {
    hide('reply-progress');
    if (e && e.code === 'gone') {
      replyTo = null;
      hide('reply-form');
      showError('The source’s reply box was already used: a reply box takes exactly one message.');
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
    setText('wiped', `Deleted ${r.wiped} waiting message${r.wiped === 1 ? '' : 's'}.`);
    busy = false;
    await refresh();
    show('wiped');
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
    showError('This inbox link is incomplete or damaged. Check that you copied all of it.');
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
    setText('inbox-heading', 'Your reply box');
    document.title = 'sealdrop: reply';
  }
  inbox = await dropApi(keys);
  hide('paste');
  await refresh();
  return true;
}

function start() {
  const frag = location.hash.replace(/^#/, '');
  if (location.hash) history.replaceState(null, '', location.pathname);
  // The same link opened again in this tab only changes the fragment: start afresh with it.
  window.addEventListener('hashchange', () => location.reload());
  show('app');
  $('refresh').addEventListener('click', refresh);
  $('more').addEventListener('click', more);
  $('wipe').addEventListener('click', () => { show('wipe-confirm'); $('wipe-no').focus(); });
  $('wipe-no').addEventListener('click', () => hide('wipe-confirm'));
  $('wipe-yes').addEventListener('click', wipeAll);
  $('reply-form').addEventListener('submit', sendReply);
  $('back').addEventListener('click', () => {
    hide('reader');
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    $('msg-text').textContent = '';
    $('msg-files').replaceChildren();
    refresh();
  });
  $('paste').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const v = $('paste-link').value.trim();
    $('paste-link').value = '';
    const i = v.indexOf('#');
    await useLink(i >= 0 ? v.slice(i + 1) : v);
  });
  if (frag) useLink(frag);
  else show('paste');
}

start();
