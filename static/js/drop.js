// Create a drop box: both key pairs are made here; the page shows the drop link (public) and
// the inbox link (the journalist's secret) and sends nothing to the server. The scalars are
// zeroed once the inbox link is written; the link then exists only in the field and the
// journalist's own copy.

import { newDropKeys, dropLink, inboxLink, wipeDropKeys, checkDropName, DROP_NAME_MAX, DROP_FLAG_SAFEST } from './drop-protocol.js';
import { encode, toSVG } from './qr.js';
import { $, show, hide, showError, clearError, errorMessage, copyButton } from './ui.js';
import { t } from './i18n.js';

// dropName is the name typed for the drop page to show ('' for none), or null after telling
// the journalist why it cannot be used.
function dropName() {
  const name = $('drop-name').value.normalize('NFC').trim();
  if (!name) return '';
  try {
    checkDropName(name);
  } catch {
    showError(t('drop.name_bad', { max: DROP_NAME_MAX }));
    $('drop-name').focus();
    return null;
  }
  return name;
}

async function make() {
  clearError();
  const name = dropName();
  if (name === null) return;
  const button = $('make');
  button.disabled = true;
  try {
    // Messages at Safest: offered only where the server allows them (the box is absent).
    const safest = $('drop-safest');
    const keys = await newDropKeys(safest && safest.checked ? DROP_FLAG_SAFEST : 0);
    keys.name = name; // in the drop link's fragment only: the server never sees it
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
