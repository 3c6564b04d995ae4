// The one-time chat page: /chat starts a chat, /c/{id}#fragment joins one (SECURITY.md,
// "One-time chat"). Keys and counters live only in this page's memory; sessionStorage keeps
// only what a reload needs to run a fresh handshake (id, role, session token, Km, the resume
// secret, the last epoch, the creator's manage secret), never K or a traffic key.

import * as P from './protocol.js';
import * as C from './chat-protocol.js';
import { utf8Encode, utf8Decode } from './bytes.js';
import { encode, toSVG } from './qr.js';
import { prepareFiles, renderFileReport } from './filereport.js';
import { payAndCreate, PRICE_CHAT } from './price.js';
import { makeHttp, GoneError } from './http.js';
import { t } from './i18n.js';

// CHAT_PRICE_LENGTH is the size a chat is priced at (Go: chat.PriceLength); the server names the
// bits (it prices the link's lifetime plus the session it may become).
const CHAT_PRICE_LENGTH = 8192;
import {
  $, show, hide, setText, showError, clearError, errorMessage, copyButton, enterSends, fileName, fileNameNode, textWithNode,
} from './ui.js';

const STORE = 'sealdrop-chat:';

const REASONS = {
  ended: () => t('chat.reason_ended'),
  idle: () => t('chat.reason_idle'),
  expired: () => t('chat.reason_expired'),
  revoked: () => t('chat.reason_revoked'),
};

let st = null; // {id, role, token, km, resume, epoch, manage}
let ws = null;
let mode = 'ws'; // 'poll' once the socket could not be kept open
let wsFailures = 0;
let polling = false;
let peerHere = null;
let hs = null; // handshake in progress
let peered = null; // the handshake that has taken a peer hello
let sess = null; // established session
let lastSeq = -1;
let chain = Promise.resolve(); // every handshake step and received record, one at a time
let postChain = Promise.resolve(); // fallback sends, one at a time, so records keep their order
const pending = []; // socket sends waiting for the server's answer, in order
let ended = false;
let lostNotice = false;
let sendChain = Promise.resolve();
const files = new Map();

// A socket that closes before opening, or within DROP_MS of opening, counts as a failure;
// after WS_FAILURES of them in a row the page uses the POST fallback for good.
const WS_FAILURES = 2;
const DROP_MS = 15000;
const RETRY_MS = 3000;

// A chat's refusals, worded for this page.
const http = makeHttp({
  words: {
    gone: t('chat.gone'),
    wrongPin: (n) => t('chat.wrong_pin', { count: Math.max(0, n) }),
    byCode: { price: t('chat.price') },
  },
});

function save() {
  const o = {
    id: st.id, role: st.role, token: st.token, km: P.b64uEncode(st.km), epoch: st.epoch,
    resume: st.resume ? P.b64uEncode(st.resume) : null, manage: st.manage ? P.b64uEncode(st.manage) : null,
  };
  sessionStorage.setItem(STORE + st.id, JSON.stringify(o));
}

function load(id) {
  try {
    const o = JSON.parse(sessionStorage.getItem(STORE + id) || 'null');
    if (!o) return null;
    return {
      id: o.id, role: o.role, token: o.token, km: P.b64uDecode(o.km), epoch: o.epoch || 0,
      resume: o.resume ? P.b64uDecode(o.resume) : null, manage: o.manage ? P.b64uDecode(o.manage) : null,
    };
  } catch {
    return null;
  }
}

function forget() {
  if (st) sessionStorage.removeItem(STORE + st.id);
}

const post = (path, body) => http.postJSON(path, body);

function line(who, text) {
  const li = document.createElement('li');
  li.className = who;
  const b = document.createElement('strong');
  b.textContent = who === 'me' ? `${t('chat.you')} ` : who === 'them' ? `${t('chat.them')} ` : '';
  li.appendChild(b);
  li.append(text); // text, or a node whose untrusted parts are text
  $('log').appendChild(li);
  return li;
}

function status(text) { setText('status', text); }

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

function hideAll() {
  hide('talk'); hide('invite'); hide('join'); hide('start');
}

function finish(reason) {
  if (ended) return;
  ended = true;
  forget();
  failPending(t('chat.has_ended'));
  if (ws) { try { ws.close(); } catch { /* closing */ } }
  sess = null;
  hideAll();
  setText('ended-reason', (Object.hasOwn(REASONS, reason) ? REASONS[reason] : REASONS.ended)());
  show('ended');
  $('ended-heading').focus();
}

// gone is the answer to a link that admits nobody (joined, ended, expired or never existed):
// the same view whatever the reason, as the server's answer is.
function gone() {
  ended = true;
  forget();
  hideAll();
  clearError();
  show('gone');
  $('gone-heading').focus();
}

function fatal(e) { showError(errorMessage(e)); }

// step runs fn after every earlier handshake step and received record.
function step(fn) {
  const p = chain.then(fn);
  chain = p.catch(fatal);
  return p;
}

// showTalk leaves the invitation for the conversation. When the view changes, the focus goes
// to the conversation's heading: the invitation's controls that may have had it are hidden.
function showTalk() {
  const moved = !$('invite').hidden || $('talk').hidden;
  hide('invite');
  show('talk');
  if (moved) $('talk-heading').focus();
}

function onPeer(here) {
  if (here === peerHere) return;
  peerHere = here;
  if (here) {
    showTalk();
    status(sess ? t('chat.connected') : t('chat.peer_here'));
  } else {
    status(st.role === C.ROLE_CREATOR && !sess ? t('chat.waiting') : t('chat.peer_away'));
  }
}

// ---- transport: WebSocket, or the POST fallback ----

function failPending(message) {
  while (pending.length) pending.shift().reject(Object.assign(new Error(message), { code: 'lost' }));
}

function connect() {
  if (ended) return;
  if (mode === 'poll') { startPoll().catch(fatal); return; }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${scheme}//${location.host}/api/v1/chats/${st.id}/ws`, ['sealdrop.v1', `sealdrop.v1.${st.token}`]);
  ws = sock;
  let openedAt = 0;
  sock.binaryType = 'arraybuffer';
  sock.addEventListener('open', () => {
    openedAt = Date.now();
    step(restart);
  });
  sock.addEventListener('message', (ev) => { step(() => onMessage(ev.data)); });
  sock.addEventListener('close', () => {
    if (ws !== sock) return;
    ws = null;
    if (ended) return;
    failPending(t('chat.lost'));
    wsFailures = !openedAt || Date.now() - openedAt < DROP_MS ? wsFailures + 1 : 0;
    if (wsFailures >= WS_FAILURES) {
      mode = 'poll';
      status(t('chat.slow'));
      startPoll().catch(fatal);
      return;
    }
    status(t('chat.reconnecting'));
    setTimeout(connect, RETRY_MS);
  });
  // An 'error' event is always followed by 'close'; handled there.
  sock.addEventListener('error', () => {});
}

// sendRecord relays one record and resolves once the server stored it; a refusal rejects
// with code "full", "busy", "too_large", "refused" or "lost".
function sendRecord(rec) {
  if (mode === 'poll') {
    const p = postChain.then(() => postRecord(rec));
    postChain = p.catch(() => {});
    return p;
  }
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      reject(Object.assign(new Error(t('chat.lost')), { code: 'lost' }));
      return;
    }
    pending.push({ resolve, reject });
    ws.send(rec);
  });
}

// sendControl sends a handshake record; a failure shows up as a handshake that never finishes.
function sendControl(rec) { sendRecord(rec).catch(() => {}); }

async function postRecord(rec) {
  if (ended) throw Object.assign(new Error(t('chat.has_ended')), { code: 'lost' });
  let res;
  try {
    res = await http.request(`/api/v1/chats/${st.id}/send`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'Sealdrop-Session': st.token }, body: rec,
    });
  } catch {
    throw Object.assign(new Error(t('chat.send_failed')), { code: 'lost' });
  }
  if (res.ok) return;
  if (res.status === 404) {
    finish('ended');
    throw Object.assign(new Error(t('chat.has_ended')), { code: 'lost' });
  }
  const code = { 507: 'full', 429: 'busy', 413: 'too_large' }[res.status] || 'refused';
  throw Object.assign(new Error(refusal(code)), { code });
}

function refusal(code) {
  return code === 'full' ? t('chat.refused_full') : t('chat.refused');
}

// startPoll is the fallback's receive loop: each poll acknowledges what arrived and waits
// for the next record.
async function startPoll() {
  if (polling || ended) return;
  polling = true;
  step(restart);
  while (!ended) {
    const body = { session: st.token, wait: true };
    if (lastSeq >= 0) body.ack = lastSeq;
    let res;
    try {
      res = await http.request(`/api/v1/chats/${st.id}/poll`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
    } catch {
      status(t('chat.retrying'));
      await sleep(RETRY_MS);
      continue;
    }
    if (res.status === 404) { finish('ended'); return; }
    if (res.status !== 200 && res.status !== 204) { await sleep(RETRY_MS); continue; }
    onPeer(res.headers.get('Sealdrop-Peer') === '1');
    if (res.status === 204) continue;
    const seq = Number(res.headers.get('Sealdrop-Seq'));
    const rec = new Uint8Array(await res.arrayBuffer());
    await step(() => received(seq, rec)).catch(() => {}); // shown by step
  }
}

async function restart() {
  if (ended) return;
  const r = await C.ChatHandshake.create({ id: P.b64uDecode(st.id), role: st.role, km: st.km, resume: st.resume, lastEpoch: st.epoch });
  hs = r.hs;
  sendControl(r.hello);
}

async function received(seq, rec) {
  if (!Number.isSafeInteger(seq) || seq <= lastSeq) return; // pushed again after a reconnect
  lastSeq = seq;
  await onRecord(rec);
}

async function onMessage(data) {
  if (typeof data === 'string') {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (m.t === 'peer' || m.t === 'nopeer') {
      onPeer(m.t === 'peer');
    } else if (m.t === 'sent' && pending.length) {
      pending.shift().resolve();
    } else if (m.t === 'error' && pending.length) {
      pending.shift().reject(Object.assign(new Error(refusal(m.error)), { code: m.error }));
    } else if (m.t === 'end') {
      finish(m.reason);
    }
    return;
  }
  if (data.byteLength < 8) return;
  const v = new DataView(data);
  const seq = v.getUint32(0) * 2 ** 32 + v.getUint32(4);
  await received(seq, new Uint8Array(data, 8));
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'ack', seq }));
}

async function onRecord(rec) {
  const t = C.recordType(rec);
  if (t === C.REC_HELLO) {
    if (st.resume && hs && !sess && C.helloEpoch(rec) < hs.proposal) return; // queued before a reconnect
    if (!hs || peered === hs) await restart();
    const conf = await hs.peer(rec);
    peered = hs;
    sendControl(conf);
  } else if (t === C.REC_CONFIRM) {
    if (!hs || peered !== hs) return;
    try {
      const s = await hs.finish(rec);
      sess = s;
      hs = null;
      st.resume = s.resume;
      st.epoch = s.epoch;
      save();
      setText('safety', await s.safetyCode());
      showTalk();
      status(t('chat.connected'));
    } catch (e) {
      if (e.code === 'handshake') showError(t('chat.handshake_failed'));
    }
  } else if (t === C.REC_DATA) {
    if (!sess) {
      if (!lostNotice) line('note', t('chat.unreadable_before_reconnect'));
      lostNotice = true;
      return;
    }
    let pt;
    try {
      pt = await sess.open(rec);
    } catch (e) {
      if (e.code === 'epoch') {
        if (!lostNotice) line('note', t('chat.unreadable_before_reconnect'));
        lostNotice = true;
      } else {
        line('note', t('chat.message_refused', { why: e.message }));
      }
      return;
    }
    onMessageBody(C.decodeMessage(pt));
  }
}

function onMessageBody({ type, body }) {
  if (type === C.MSG_TEXT) {
    line('them', utf8Decode(body));
  } else if (type === C.MSG_FILE_BEGIN) {
    let m;
    try { m = JSON.parse(utf8Decode(body)); } catch { return; }
    if (!m || typeof m.name !== 'string' || !Number.isSafeInteger(m.size) || m.size < 0) return;
    const li = line('them', textWithNode('chat.file', fileNameNode(m.name)));
    li.append(' ');
    const bar = document.createElement('progress');
    bar.max = m.size || 1;
    bar.value = 0;
    li.appendChild(bar);
    const f = { name: fileName(m.name), size: m.size, parts: [], got: 0, li, bar };
    files.set(m.id, f);
    if (m.size === 0) fileDone(m.id);
  } else if (type === C.MSG_FILE_CHUNK) {
    const id = new DataView(body.buffer, body.byteOffset, 4).getUint32(0);
    const f = files.get(id);
    if (!f || f.got + body.length - 4 > f.size) return;
    f.parts.push(body.slice(4));
    f.got += body.length - 4;
    f.bar.value = f.got;
    if (f.got === f.size) fileDone(id);
  } else if (type === C.MSG_BYE) {
    line('note', t('chat.bye'));
  }
}

function fileDone(id) {
  const f = files.get(id);
  files.delete(id);
  const a = document.createElement('a');
  // application/octet-stream: a received HTML or SVG file must never render in this origin.
  a.href = URL.createObjectURL(new Blob(f.parts, { type: 'application/octet-stream' }));
  a.download = f.name;
  a.textContent = t('chat.save');
  a.className = 'download';
  f.bar.replaceWith(a);
}

// ---- sending ----

async function sendMessage(type, body) {
  if (!sess) throw new Error(t('chat.not_ready'));
  const rec = await sess.seal(C.encodeMessage(type, body));
  for (;;) {
    try {
      await sendRecord(rec);
      return;
    } catch (e) {
      if (e.code !== 'busy') throw e;
      await new Promise((r) => { setTimeout(r, 1000); }); // the other side is behind: same record again
    }
  }
}

function queueSend(fn) {
  const p = sendChain.then(fn);
  sendChain = p.catch(() => {});
  return p;
}

// sendFile sends a file that went through the privacy filter: its cleaned bytes (a Blob) are
// read and sent one chunk at a time, never held whole.
async function sendFile(entry) {
  const data = entry.bytes;
  const total = data.size;
  const id = crypto.getRandomValues(new Uint32Array(1))[0];
  const li = line('me', textWithNode('chat.file', fileNameNode(entry.name)));
  li.append(' ');
  const bar = document.createElement('progress');
  bar.max = total || 1;
  li.appendChild(bar);
  await sendMessage(C.MSG_FILE_BEGIN, utf8Encode(JSON.stringify({ id, name: entry.name, type: entry.type, size: total })));
  for (let off = 0; off < total; off += C.FILE_CHUNK) {
    const end = Math.min(off + C.FILE_CHUNK, total);
    const part = new Uint8Array(await data.slice(off, end).arrayBuffer());
    const body = new Uint8Array(4 + part.length);
    new DataView(body.buffer).setUint32(0, id);
    body.set(part, 4);
    await sendMessage(C.MSG_FILE_CHUNK, body);
    bar.value = end;
  }
  bar.replaceWith(document.createTextNode(t('chat.file_sent')));
}

// A picked file is checked first; the person sees what was removed (or could not be) and its
// name, and sends it or not.
let reviewed = null;
let reviewPick = 0;

function closeReview() {
  reviewed = null;
  hide('file-review');
  $('file-report').replaceChildren();
  $('file').value = '';
}

async function reviewFile(f) {
  const pick = ++reviewPick;
  reviewed = null;
  $('file-send').disabled = true;
  setText('file-checking', t('report.checking_one'));
  show('file-checking');
  $('file-report').replaceChildren();
  show('file-review');
  const [entry] = await prepareFiles([f]);
  if (pick !== reviewPick) return;
  reviewed = entry;
  hide('file-checking');
  renderFileReport($('file-report'), [entry]);
  $('file-send').disabled = false;
}

function wireTalk() {
  $('send-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearError();
    const box = $('message');
    const text = box.value;
    if (!text) return;
    // Emptied now, not once the send is done: with Enter sending, the next message may be
    // typed while this one is still on its way, and must not be wiped by it.
    box.value = '';
    queueSend(async () => {
      await sendMessage(C.MSG_TEXT, utf8Encode(text));
      line('me', text);
    }).catch((e) => {
      // Not sent: the text goes back into the box, before anything typed since.
      box.value = box.value ? `${text}\n${box.value}` : text;
      fatal(e);
    });
  });
  // Enter sends, Shift+Enter adds a line; an IME's Enter is left to the IME.
  $('message').addEventListener('keydown', (ev) => {
    if (!enterSends(ev)) return;
    ev.preventDefault();
    $('send-form').requestSubmit();
  });
  $('file').addEventListener('change', () => {
    const f = $('file').files[0];
    if (!f) return;
    clearError();
    reviewFile(f).catch((e) => { closeReview(); fatal(e); });
  });
  $('file-send').addEventListener('click', () => {
    const entry = reviewed;
    if (!entry) return;
    closeReview();
    $('message').focus(); // the review that had the focus is closed: back to the conversation
    queueSend(() => sendFile(entry)).catch(fatal);
  });
  $('file-cancel').addEventListener('click', () => { reviewPick++; closeReview(); $('file').focus(); });
  // End asks first, with the focus on the answer that keeps the chat: a stray Enter (or two)
  // on End ends nothing.
  $('end').addEventListener('click', () => { show('end-confirm'); $('end-cancel').focus(); });
  $('end-cancel').addEventListener('click', () => { hide('end-confirm'); $('end').focus(); });
  $('end-yes').addEventListener('click', async () => {
    hide('end-confirm');
    if (mode === 'ws' && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ t: 'end' }));
    } else {
      try {
        await post(`/api/v1/chats/${st.id}/end`, { session: st.token });
      } catch (e) {
        if (!(e instanceof GoneError)) { fatal(e); return; }
      }
    }
    finish('ended');
  });
  $('revoke').addEventListener('click', async () => {
    try {
      await post(`/api/v1/chats/${st.id}/revoke`, { manage: P.b64uEncode(st.manage) });
    } catch (e) {
      if (!(e instanceof GoneError)) { fatal(e); return; }
    }
    finish('revoked');
  });
}

// ---- start and join ----

async function start(ev) {
  ev.preventDefault();
  clearError();
  const button = $('start-button');
  button.disabled = true;
  try {
    const pin = $('pin').value.trim();
    const dpin = $('dpin').value.trim();
    P.checkPINs(pin, dpin);
    const np = pin ? P.normalizePIN(pin) : '';
    const nd = dpin ? P.normalizePIN(dpin) : '';
    const K = P.randomBytes(32);
    const M = P.randomBytes(32);
    const Pk = np ? await P.stretchPIN(K, np) : null;
    const manageHash = await P.sha256(M);
    const body = {
      ttl: Number($('ttl').value),
      gate_hash: P.b64uEncode(await P.sha256(await P.gateToken(K))),
      manage_hash: P.b64uEncode(manageHash),
      destruct_hash: P.b64uEncode(await P.sha256(nd ? await P.destructToken(K, await P.stretchPIN(K, nd)) : P.randomBytes(32))),
    };
    if (Pk) body.open_hash = P.b64uEncode(await P.sha256(await P.openToken(K, Pk)));
    // Free while the server has room; when it is getting full, its answer says what to pay.
    const r = await payAndCreate((payment) => post('/api/v1/chats', { ...body, ...payment }),
      { kind: PRICE_CHAT, manage: manageHash, length: CHAT_PRICE_LENGTH, ttl: body.ttl }, null,
      { onWork: () => status(t('progress.pow_working')) });
    st = { id: r.id, role: C.ROLE_CREATOR, token: r.session, km: await C.chatMacKey(K, Pk), resume: null, epoch: 0, manage: M };
    save();
    const link = `${location.origin}/c/${r.id}#${P.encodeFragment({ version: 1, flags: Pk ? P.FLAG_PIN : 0, secret: K })}`;
    K.fill(0);
    history.replaceState(null, '', `/c/${r.id}`);
    hide('start');
    $('chat-link').value = link;
    $('qr').replaceChildren(toSVG(document, encode(link), { title: t('chat.qr_title') }));
    show('invite');
    $('invite-heading').focus();
    connect();
  } catch (e) {
    fatal(e);
  } finally {
    button.disabled = false;
  }
}

function joinPage(id) {
  const frag = location.hash.replace(/^#/, '');
  if (location.hash) history.replaceState(null, '', location.pathname);
  let f;
  try {
    f = P.parseFragment(frag);
  } catch {
    showError(t('chat.link_incomplete'));
    return;
  }
  if (f.flags & P.FLAG_PIN) show('join-pin-field');
  show('join');
  $('join-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const button = $('join-button');
    button.disabled = true;
    try {
      const K = f.secret;
      const body = { gate: P.b64uEncode(await P.gateToken(K)) };
      let Pk = null;
      if (f.flags & P.FLAG_PIN) {
        const typed = P.normalizePIN($('join-pin').value.trim());
        $('join-pin').value = ''; // read once: not left on screen for someone beside the reader
        Pk = await P.stretchPIN(K, typed);
        body.open = P.b64uEncode(await P.openToken(K, Pk));
        body.destruct = P.b64uEncode(await P.destructToken(K, Pk));
      }
      const r = await post(`/api/v1/chats/${id}/join`, body);
      st = { id, role: C.ROLE_JOINER, token: r.session, km: await C.chatMacKey(K, Pk), resume: null, epoch: 0, manage: null };
      save();
      hide('join');
      show('talk');
      $('talk-heading').focus();
      status(t('chat.joined'));
      connect();
    } catch (e) {
      if (e instanceof GoneError) gone();
      else fatal(e);
    } finally {
      button.disabled = false;
    }
  });
}

function main() {
  show('app');
  wireTalk();
  copyButton('copy-link', 'chat-link');
  const m = location.pathname.match(/^\/c\/([A-Za-z0-9_-]{22})$/);
  if (!m) {
    show('start');
    $('start-form').addEventListener('submit', start);
    return;
  }
  const saved = load(m[1]);
  if (saved) { // a reload: a fresh handshake in a new epoch
    st = saved;
    if (location.hash) history.replaceState(null, '', location.pathname);
    show('talk');
    status(t('chat.reloading'));
    connect();
    return;
  }
  joinPage(m[1]);
}

main();
