// Create a drop box: both key pairs are made here; the page shows the drop link (public) and
// the inbox link (the journalist's secret) and sends nothing to the server. The scalars are
// zeroed once the inbox link is written; the link then exists only in the field and the
// journalist's own copy.

import { newDropKeys, dropLink, inboxLink, wipeDropKeys } from './drop-protocol.js';
import { encode, toSVG } from './qr.js';
import { $, show, hide, showError, clearError, errorMessage, copyButton } from './ui.js';
import { t } from './i18n.js';

async function make() {
  clearError();
  const button = $('make');
  button.disabled = true;
  try {
    const keys = await newDropKeys(0);
    const drop = await dropLink(location.origin, keys);
    const inbox = await inboxLink(location.origin, keys);
    wipeDropKeys(keys);
    $('drop-link').value = drop;
    $('inbox-link').value = inbox;
    $('drop-link-text').textContent = drop;
    $('qr').replaceChildren(toSVG(document, encode(drop), { title: t('drop.qr_title') }));
    hide('intro');
    show('result');
    $('result-heading').focus();
  } catch (e) {
    showError(errorMessage(e));
  } finally {
    button.disabled = false;
  }
}

function start() {
  show('app');
  $('make').addEventListener('click', make);
  $('print').addEventListener('click', () => window.print());
  copyButton('copy-drop', 'drop-link');
  copyButton('copy-inbox', 'inbox-link');
}

start();
