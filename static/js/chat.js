// The one-time chat page: /chat starts a chat, /c/{id}#fragment joins one (SECURITY.md,
// "One-time chat"). Keys and counters live only in this page's memory; sessionStorage keeps
// only what a reload needs to run a fresh handshake (id, role, session token, Km, the resume
// secret, the last epoch, the creator's manage secret), never K or a traffic key.

import * as P from './protocol.js';
import * as C from './chat-protocol.js';
import { encode, toSVG } from './qr.js';
import { prepareFiles, renderFileReport } from './filereport.js';
import { payAndCreate, PRICE_CHAT } from './price.js';

// CHAT_PRICE_LENGTH is the size a chat is priced at (Go: chat.PriceLength); the server names the
// bits (it prices the link's lifetime plus the session it may become).
const CHAT_PRICE_LENGTH = 8192;
import { $, show, hide, setText, showError, clearError, errorMessage, copyButton } from './ui.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: false });
const STORE = 'sealdrop-chat:';

const REASONS = {
  ended: 'The chat was ended.',
  idle: 'The chat ended because nobody wrote for a while.',
  expired: 'The chat reached its time limit.',
  revoked: 'The chat was cancelled.',
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

const fetchOpts = { credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', redirect: 'error' };

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

async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), ...fetchOpts,
    });
  } catch {
    throw new Error('The connection to the server failed. Check that Tor Browser is connected, then try again.');
  }
  if (res.status === 204) return null;
  let j = null;
  try { j = await res.json(); } catch { /* not JSON */ }
  if (res.status === 404) throw Object.assign(new Error('This chat link is no longer available.'), { gone: true });
  if (res.status === 403 && j && j.error === 'wrong_pin') {
    const n = Number(j.tries_left) || 0;
    throw new Error(n > 0 ? `Wrong PIN. ${n} ${n === 1 ? 'try' : 'tries'} left.` : 'Wrong PIN. The chat has been deleted.');
  }
  if (res.status === 402 && j && j.error === 'price') {
    throw Object.assign(new Error('The server asked for an anti-spam check.'), { price: { bits: Number(j.bits), token: j.token } });
  }
  if (!res.ok) throw new Error((j && j.message) || `The server refused the request (error ${res.status}).`);
  return j;
}

function line(who, text) {
  const li = document.createElement('li');
  li.className = who;
  const b = document.createElement('strong');
  b.textContent = who === 'me' ? 'You: ' : who === 'them' ? 'Them: ' : '';
  li.appendChild(b);
  li.appendChild(document.createTextNode(text));
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
  failPending('The chat has ended.');
  if (ws) { try { ws.close(); } catch { /* closing */ } }
  sess = null;
  hideAll();
  setText('ended-reason', REASONS[reason] || REASONS.ended);
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

function onPeer(here) {
  if (here === peerHere) return;
  peerHere = here;
  if (here) {
    hide('invite');
    show('talk');
    status(sess ? 'Connected. Messages are end-to-end encrypted.' : 'The other person is here. Setting up encryption…');
  } else {
    status(st.role === C.ROLE_CREATOR && !sess ? 'Waiting for the other person to join…' : 'The other person is not connected right now. Messages wait for them.');
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
    failPending('The connection was lost.');
    wsFailures = !openedAt || Date.now() - openedAt < DROP_MS ? wsFailures + 1 : 0;
    if (wsFailures >= WS_FAILURES) {
      mode = 'poll';
      status('Using a slower connection…');
      startPoll().catch(fatal);
      return;
    }
    status('Connection lost. Reconnecting…');
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
      reject(Object.assign(new Error('The connection was lost.'), { code: 'lost' }));
      return;
    }
    pending.push({ resolve, reject });
    ws.send(rec);
  });
}

// sendControl sends a handshake record; a failure shows up as a handshake that never finishes.
function sendControl(rec) { sendRecord(rec).catch(() => {}); }

async function postRecord(rec) {
  if (ended) throw Object.assign(new Error('The chat has ended.'), { code: 'lost' });
  let res;
  try {
    res = await fetch(`/api/v1/chats/${st.id}/send`, {
      method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'Sealdrop-Session': st.token }, body: rec, ...fetchOpts,
    });
  } catch {
    throw Object.assign(new Error('The connection to the server failed.'), { code: 'lost' });
  }
  if (res.ok) return;
  if (res.status === 404) {
    finish('ended');
    throw Object.assign(new Error('The chat has ended.'), { code: 'lost' });
  }
  const code = { 507: 'full', 429: 'busy', 413: 'too_large' }[res.status] || 'refused';
  throw Object.assign(new Error(refusal(code)), { code });
}

function refusal(code) {
  return code === 'full' ? 'The server is full: the message was not sent.' : 'The message was refused.';
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
      res = await fetch(`/api/v1/chats/${st.id}/poll`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), ...fetchOpts,
      });
    } catch {
      status('Connection lost. Retrying…');
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
      hide('invite');
      show('talk');
      status('Connected. Messages are end-to-end encrypted.');
    } catch (e) {
      if (e.code === 'handshake') showError('The encrypted connection could not be set up: someone without the link (or the PIN) may be in the middle. Do not trust this chat; end it.');
    }
  } else if (t === C.REC_DATA) {
    if (!sess) {
      if (!lostNotice) line('note', 'Some messages sent before the reconnect could not be read.');
      lostNotice = true;
      return;
    }
    let pt;
    try {
      pt = await sess.open(rec);
    } catch (e) {
      if (e.code === 'epoch') {
        if (!lostNotice) line('note', 'Some messages sent before the reconnect could not be read.');
        lostNotice = true;
      } else {
        line('note', `A message was refused: ${e.message}. Someone may be interfering.`);
      }
      return;
    }
    onMessageBody(C.decodeMessage(pt));
  }
}

function onMessageBody({ type, body }) {
  if (type === C.MSG_TEXT) {
    line('them', dec.decode(body));
  } else if (type === C.MSG_FILE_BEGIN) {
    let m;
    try { m = JSON.parse(dec.decode(body)); } catch { return; }
    if (!m || typeof m.name !== 'string' || !Number.isSafeInteger(m.size) || m.size < 0) return;
    const li = line('them', `File ${m.name} `);
    const bar = document.createElement('progress');
    bar.max = m.size || 1;
    bar.value = 0;
    li.appendChild(bar);
    const f = { name: m.name, size: m.size, parts: [], got: 0, li, bar };
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
    line('note', 'The other person said goodbye.');
  }
}

function fileDone(id) {
  const f = files.get(id);
  files.delete(id);
  const a = document.createElement('a');
  // application/octet-stream: a received HTML or SVG file must never render in this origin.
  a.href = URL.createObjectURL(new Blob(f.parts, { type: 'application/octet-stream' }));
  a.download = f.name;
  a.textContent = 'Save';
  a.className = 'download';
  f.bar.replaceWith(a);
}

// ---- sending ----

async function sendMessage(type, body) {
  if (!sess) throw new Error('The encrypted connection is not ready yet.');
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
  const li = line('me', `File ${entry.name} `);
  const bar = document.createElement('progress');
  bar.max = total || 1;
  li.appendChild(bar);
  await sendMessage(C.MSG_FILE_BEGIN, enc.encode(JSON.stringify({ id, name: entry.name, type: entry.type, size: total })));
  for (let off = 0; off < total; off += C.FILE_CHUNK) {
    const end = Math.min(off + C.FILE_CHUNK, total);
    const part = new Uint8Array(await data.slice(off, end).arrayBuffer());
    const body = new Uint8Array(4 + part.length);
    new DataView(body.buffer).setUint32(0, id);
    body.set(part, 4);
    await sendMessage(C.MSG_FILE_CHUNK, body);
    bar.value = end;
  }
  bar.replaceWith(document.createTextNode('sent'));
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
  setText('file-checking', 'Checking the file for hidden details…');
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
    const text = $('message').value;
    if (!text) return;
    queueSend(async () => {
      await sendMessage(C.MSG_TEXT, enc.encode(text));
      line('me', text);
      $('message').value = '';
    }).catch(fatal);
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
    queueSend(() => sendFile(entry)).catch(fatal);
  });
  $('file-cancel').addEventListener('click', () => { reviewPick++; closeReview(); });
  $('end').addEventListener('click', async () => {
    if (mode === 'ws' && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ t: 'end' }));
    } else {
      try {
        await post(`/api/v1/chats/${st.id}/end`, { session: st.token });
      } catch (e) {
        if (!e.gone) { fatal(e); return; }
      }
    }
    finish('ended');
  });
  $('revoke').addEventListener('click', async () => {
    try {
      await post(`/api/v1/chats/${st.id}/revoke`, { manage: P.b64uEncode(st.manage) });
    } catch (e) {
      if (!e.gone) { fatal(e); return; }
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
      { onWork: () => status('The server is getting full: your browser does a little work first, so that nobody can fill it cheaply…') });
    st = { id: r.id, role: C.ROLE_CREATOR, token: r.session, km: await C.chatMacKey(K, Pk), resume: null, epoch: 0, manage: M };
    save();
    const link = `${location.origin}/c/${r.id}#${P.encodeFragment({ version: 1, flags: Pk ? P.FLAG_PIN : 0, secret: K })}`;
    K.fill(0);
    history.replaceState(null, '', `/c/${r.id}`);
    hide('start');
    $('chat-link').value = link;
    $('qr').replaceChildren(toSVG(document, encode(link), { title: 'QR code of the chat link' }));
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
    showError('This chat link is incomplete. Ask for the whole link, including everything after the # sign.');
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
        Pk = await P.stretchPIN(K, typed);
        body.open = P.b64uEncode(await P.openToken(K, Pk));
        body.destruct = P.b64uEncode(await P.destructToken(K, Pk));
      }
      const r = await post(`/api/v1/chats/${id}/join`, body);
      st = { id, role: C.ROLE_JOINER, token: r.session, km: await C.chatMacKey(K, Pk), resume: null, epoch: 0, manage: null };
      save();
      hide('join');
      show('talk');
      status('Joined. Setting up encryption…');
      connect();
    } catch (e) {
      if (e.gone) gone();
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
    status('Reconnecting…');
    connect();
    return;
  }
  joinPage(m[1]);
}

main();
