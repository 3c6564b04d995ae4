// The source's page, /d/{route}#drop-fragment. The fragment carries the drop's public keys;
// the page checks that they hash to the route in the path before it seals anything, so
// neither the server nor a mangled link can pair this route with other keys.
//
// With "I would like a reply", a reply box is made here and its drop link goes inside the
// sealed submission; its inbox link is shown once and its scalars are then zeroed.

import { DROP_FLAG_REPLY, parseDropFragment, checkRoute, newDropKeys, replyLink, wipeDropKeys } from './drop-protocol.js';
import { api } from './api.js';
import { deliver } from './drop-api.js';
import { pageLimits } from './limits.js';
import { fileChooser } from './filereport.js';
import { $, show, hide, setText, progress, showError, clearError, errorMessage, copyButton, duration, size, pageId } from './ui.js';
import { t } from './i18n.js';

let drop = null;
let chooser = null; // the picked files, after the privacy filter (filereport.js)
// The limits (append size, the drop's size and lifetime, the price) come with the page
// (limits.js): nothing is asked at load.
const pagelimits = pageLimits({ fetchLimits: api.limits });

function gone(message) {
  hide('compose');
  hide('progress-box');
  clearError();
  if (message) setText('gone-text', message);
  show('gone');
  $('gone-heading').focus();
}

const STEP_LABELS = {
  encrypt: () => t('progress.encrypting_here'),
  pow: () => t('submit.pow'),
  upload: () => t('submit.uploading'),
};

async function onSend(ev) {
  ev.preventDefault();
  clearError();
  const button = $('send');
  button.disabled = true;
  let reply = null;
  try {
    const files = await chooser.files();
    const text = $('text').value;
    if (!text && files.length === 0) throw new Error(t('compose.empty'));
    const limits = await pagelimits.current();
    if ($('want-reply').checked) reply = await newDropKeys(DROP_FLAG_REPLY);
    for (const id of ['progress-encrypt', 'progress-pow', 'progress-upload']) progress(id)(0, 1);
    hide('pow-box');
    show('progress-box');
    const bars = { encrypt: progress('progress-encrypt'), pow: progress('progress-pow'), upload: progress('progress-upload') };
    let last = '';
    const done = await deliver({
      drop,
      text,
      files,
      replyBox: reply,
      limits,
      steps: (step, d, t) => {
        if (step !== last) { last = step; setText('progress-label', STEP_LABELS[step]()); }
        if (step === 'pow') show('pow-box');
        bars[step](d, t);
      },
    });
    let link = '';
    if (reply) link = await replyLink(location.origin, reply);
    showSent(done.expiresIn, link);
  } catch (e) {
    hide('progress-box');
    if (e && e.code === 'gone') {
      gone(drop.flags & DROP_FLAG_REPLY ? t('submit.reply_box_used') : t('submit.gone'));
      return;
    }
    showError(errorMessage(e));
  } finally {
    if (reply) wipeDropKeys(reply);
    button.disabled = false;
  }
}

function showSent(expiresIn, replyLink) {
  setText('expires', duration(expiresIn));
  if (replyLink) {
    $('reply-link').value = replyLink;
    show('reply-box');
  }
  hide('compose');
  hide('progress-box');
  show('sent');
  $('text').value = '';
  $('files').value = '';
  chooser.clear();
  $('sent-heading').focus();
}

// featuredDrops reads the front page's list, which the server puts in every drop page (it is
// public): [{route, name}].
function featuredDrops() {
  const out = [];
  for (const li of document.querySelectorAll('#featured-drops li')) {
    const m = /\/d\/([A-Za-z0-9_-]+)#/.exec(li.dataset.link || '');
    if (m) out.push({ route: m[1], name: li.dataset.name || '' });
  }
  return out;
}

const sameName = (a, b) => a.normalize('NFKC').toLowerCase() === b.normalize('NFKC').toLowerCase();

// showRecipient says who receives the message: the name this server's front page lists for
// this drop (vouched for by the server), or the name the link claims (anyone can write one,
// so the page says so, and warns when it copies a listed name), or that the link names nobody.
// A reply box, answered by the journalist, names nobody and says nothing.
function showRecipient() {
  const featured = featuredDrops();
  const listed = featured.find((f) => f.route === pageId());
  if (listed) {
    setText('recipient-name', listed.name);
    show('recipient');
  } else if (drop.name) {
    setText('claimed-name', drop.name);
    show('claimed');
    if (featured.some((f) => sameName(f.name, drop.name))) show('impostor');
  } else if (!(drop.flags & DROP_FLAG_REPLY)) {
    show('no-recipient');
  }
}

async function start() {
  const frag = location.hash.replace(/^#/, '');
  // The drop link is public, but it has no business in the history or on screen either.
  if (location.hash) history.replaceState(null, '', location.pathname);
  // The same link opened again in this tab only changes the fragment: start afresh with it.
  window.addEventListener('hashchange', () => location.reload());
  show('app');
  if (!frag) { gone(t('submit.no_fragment')); return; }
  try {
    drop = await parseDropFragment(frag);
    await checkRoute(pageId(), drop);
  } catch {
    gone(t('link.damaged'));
    return;
  }
  showRecipient();
  show('compose'); // only once the link is known to be whole and its own
  chooser = fileChooser($('files'), $('strip-report'));
  $('submit-form').addEventListener('submit', onSend);
  copyButton('copy-reply', 'reply-link');
  const showLimit = (l) => setText('limit', l.max_entry ? t('submit.limit', { size: size(l.max_entry) }) : '');
  if (pagelimits.carried) showLimit(pagelimits.carried);
  else pagelimits.current().then(showLimit).catch(() => {});
}

start();
