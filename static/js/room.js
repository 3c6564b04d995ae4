// The one-time group room page: /room creates a room, /g/{id}#invite joins one (SECURITY.md,
// "One-time group rooms"). Every key lives only in this page's memory: nothing is written to
// sessionStorage, localStorage or IndexedDB. A reload therefore loses this member's place (the
// invite link was used at join, and the signing key is gone): the page says so, and the others
// see the seat go away. Keeping the signing key in IndexedDB across a reload (the design allows
// it) is not done yet.

import * as P from './protocol.js';
import * as R from './room-protocol.js';
import { MSG_TEXT, MSG_FILE_BEGIN, MSG_FILE_CHUNK, FILE_CHUNK } from './chat-protocol.js';
import { utf8Encode, utf8Decode } from './bytes.js';
import { encode, toSVG } from './qr.js';
import { prepareFiles, renderFileReport } from './filereport.js';
import { payAndCreate } from './price.js';
import { makeHttp, GoneError } from './http.js';
import { t } from './i18n.js';
import {
  $, show, hide, setText, showError, clearError, errorMessage, copyButton, enterSends, fileName, fileNameNode, textWithNode,
} from './ui.js';

// A room is priced as what it can hold, 2 MiB, for its lifetime (Go: room.PriceLength), kind 4.
const PRICE_ROOM = 4;
const ROOM_PRICE_LENGTH = 2 << 20;
// A lost or refused socket is tried again after RETRY_FIRST_MS, doubled after every socket
// that fails, up to RETRY_MAX_MS: a relay that refuses sockets, or a network that is down, never
// makes the page open one after another (every socket is a Tor stream). The wait starts again
// from the first only after a socket that stayed up for RETRY_RESET_MS.
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30000;
const RETRY_RESET_MS = 60000;

const REASONS = {
  left: () => t('room.reason_left'),
  dropped: () => t('room.reason_dropped'),
  idle: () => t('room.reason_idle'),
  expired: () => t('room.reason_expired'),
  revoked: () => t('room.reason_revoked'),
};

const http = makeHttp({
  words: {
    gone: t('room.gone'),
    wrongPin: (n) => t('room.wrong_pin', { count: Math.max(0, n) }),
    byCode: { price: t('room.price'), busy: t('room.busy') },
  },
});
const post = (path, body) => http.postJSON(path, body);

let st = null; // {id, seat, token, manage}
let member = null; // RoomMember
let myName = '';
let ws = null;
let ended = false;
// away: the relay's last member list left this member out (silent too long). While out, the
// page seals nothing: its sending chain is of a version the others have left behind (they
// would refuse the record as too late, while this page showed it as sent), and any record it
// sent would bring it back in behind the page's back. The way back in is a fresh socket (the
// relay takes a member that connects back in, in a new version); messages wait meanwhile.
let away = false;
let next = 0; // the relay's sequence number expected next: every record below it arrived
let chain = Promise.resolve(); // seats messages, received records and seals, one at a time
let sendChain = Promise.resolve(); // messages and files, one at a time
const pending = []; // records sent on the socket waiting for the server's answer
let expireTimer = 0;
let retryMs = RETRY_FIRST_MS; // the wait before the next socket
let retryTimer = 0;
let backNow = false; // comeBack closed the socket: the next one opens at once
// What the member list shows: the seats of this version, those away, those who left (with a
// signed bye) and those removed without one.
// safety: the last code computed (to see it change); a new list shows "not ready" in its place
// until the new list's code is known.
const view = { inSeats: [], out: [], left: new Set(), removed: new Set(), safety: '', changed: false, everComplete: false };
let nameSentIn = 0; // the version this member's name was last sent in
const files = new Map();
const urls = []; // the object URLs of received files, revoked at the end

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const fatal = (e) => showError(errorMessage(e));

function step(fn) {
  const p = chain.then(fn);
  chain = p.catch(() => {});
  return p;
}

function status(text) { setText('status', text); }

// allNames: [{seat, name, duplicate}] of every seat that sent a name, this member's own
// included; names equal after roomNameKey's folding are all marked duplicate.
function allNames() {
  const list = member ? member.names.map(({ seat, name }) => ({ seat, name })) : [];
  if (myName && st) list.push({ seat: st.seat, name: myName });
  const count = new Map();
  for (const n of list) count.set(R.roomNameKey(n.name), (count.get(R.roomNameKey(n.name)) || 0) + 1);
  return list.map((n) => ({ ...n, duplicate: count.get(R.roomNameKey(n.name)) > 1 }));
}

const nameOf = (seat) => allNames().find((x) => x.seat === seat);

// A name goes into the page only inside <bdi>, so that right-to-left text cannot move the
// place number that follows it.
function nameNode(seat) {
  const frag = document.createDocumentFragment();
  const n = nameOf(seat);
  if (n) {
    const b = document.createElement('bdi');
    b.textContent = n.name;
    frag.append(b, ` ${t('room.member_unnamed', { seat })}`);
  } else {
    frag.append(t('room.member_unnamed', { seat }));
  }
  return frag;
}

function line(kind, seat, text) {
  const li = document.createElement('li');
  li.className = kind;
  if (kind !== 'note') {
    const b = document.createElement('strong');
    if (kind === 'me') b.append(t('room.you_prefix'));
    else b.append(nameNode(seat));
    b.append(': ');
    li.appendChild(b);
    li.dataset.seat = String(seat);
  }
  const span = document.createElement('span');
  span.className = 'text';
  span.textContent = text;
  li.appendChild(span);
  $('log').appendChild(li);
  return li;
}

const note = (text) => line('note', 0, text);

// fileLine adds a line "File <name>" whose name is a received (or picked) file's, made safe
// (ui.js fileName) and in <bdi>.
function fileLine(kind, seat, name) {
  const li = line(kind, seat, '');
  li.querySelector('.text').append(textWithNode('room.file', fileNameNode(name)), ' ');
  return li;
}

// WHO stands for a member in a note's words ({who}) until the member's name node takes its
// place (a private-use character: no translation holds one).
const WHO = '\uE000';

// noteWho adds a note whose text names seat by WHO, with the name in <bdi> and its place
// outside it, as the member list shows it: a name never runs into the words around it, and a
// right-to-left name cannot move the place number.
function noteWho(text, seat) {
  const li = note('');
  const span = li.querySelector('.text');
  text.split(WHO).forEach((part, i) => {
    if (i) {
      // Named again when the seat's name comes (a member's name follows its keys, after the
      // "joined" note).
      const who = document.createElement('span');
      who.className = 'who';
      who.dataset.who = String(seat);
      who.append(nameNode(seat));
      span.append(who);
    }
    span.append(part);
  });
  return li;
}

function renderMembers() {
  const list = $('members');
  list.replaceChildren();
  const dup = new Set(allNames().filter((n) => n.duplicate).map((n) => n.seat));
  const seats = [...new Set([...view.inSeats, ...view.out, ...view.left, ...view.removed])].sort((a, b) => a - b);
  for (const s of seats) {
    const li = document.createElement('li');
    li.dataset.seat = String(s);
    li.append(nameNode(s));
    const marks = [];
    if (st && s === st.seat) marks.push(t('room.you'));
    if (dup.has(s)) marks.push(t('room.same_name'));
    if (view.left.has(s)) { marks.push(t('room.left')); li.className = 'gone'; }
    else if (view.removed.has(s)) { marks.push(t('room.removed')); li.className = 'gone'; }
    else if (view.out.includes(s)) { marks.push(t('room.away')); li.className = 'away'; }
    else li.className = 'in';
    if (marks.length) {
      const m = document.createElement('span');
      m.className = 'marks';
      m.textContent = ` (${marks.join('; ')})`;
      li.appendChild(m);
    }
    list.appendChild(li);
  }
}

async function updateSafety() {
  if (!member) return;
  let code;
  try { code = await member.safetyCode(); } catch { return; } // not every hello is in yet
  if (!member) return;
  if (view.safety && code !== view.safety && view.everComplete) view.changed = true;
  view.safety = code;
  setText('safety', code);
  show('safety-changed', view.changed);
}

// safetyPending: the member list changed; its code is not known until every hello of the new
// version is in, and the code of the list before must not stay beside it (a ghost seat the
// relay adds never sends a hello: the old code would be compared, and trusted, for it).
function safetyPending() {
  setText('safety', t('room.safety_pending'));
}

function scheduleExpire() {
  clearTimeout(expireTimer);
  if (!member || !member.deadline) return;
  expireTimer = setTimeout(() => { step(() => member.expire()).then(scheduleExpire); }, Math.max(0, member.deadline - Date.now()) + 50);
}

function hideAll() { for (const s of ['create', 'invites', 'join', 'room']) hide(s); }

// wipe empties what the page holds of the room once it is over: the received files (their
// object URLs revoked, partial ones dropped), the log, every name, the safety code, an unsent
// draft and the creator's invite links (seat keys and the room key).
function wipe() {
  clearTimeout(expireTimer);
  clearTimeout(retryTimer);
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  files.clear();
  for (const id of ['log', 'members', 'invite-list', 'file-report']) $(id).replaceChildren();
  setText('safety', '');
  hide('safety-changed');
  $('message').value = '';
  view.safety = '';
  member = null;
}

function finish(reason) {
  if (ended) return;
  ended = true;
  failPending(t('room.lost'));
  if (ws) { try { ws.close(); } catch { /* closing */ } }
  wipe();
  hideAll();
  setText('ended-reason', (Object.hasOwn(REASONS, reason) ? REASONS[reason] : REASONS.revoked)());
  show('ended');
  $('ended-heading').focus();
}

function gone() {
  ended = true;
  if (ws) { try { ws.close(); } catch { /* closing */ } }
  wipe();
  hideAll();
  clearError();
  show('gone');
  $('gone-heading').focus();
}

// ---- transport: the room's WebSocket ----

function failPending(message) {
  while (pending.length) pending.shift().reject(Object.assign(new Error(message), { code: 'lost' }));
}

function connect() {
  clearTimeout(retryTimer);
  if (ended || ws) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${scheme}//${location.host}/api/v1/rooms/${st.id}/ws`, ['sealdrop.v1', `sealdrop.v1.${st.token}`]);
  const opened = Date.now();
  ws = sock;
  sock.binaryType = 'arraybuffer';
  sock.addEventListener('message', (ev) => { step(() => onMessage(ev.data)).catch(fatal); });
  sock.addEventListener('close', () => {
    if (ws !== sock) return;
    ws = null;
    if (ended) return;
    failPending(t('room.lost'));
    if (backNow) { // closed by comeBack: straight back, once
      backNow = false;
      connect();
      return;
    }
    if (Date.now() - opened >= RETRY_RESET_MS) retryMs = RETRY_FIRST_MS;
    const wait = retryMs;
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    if (!away) status(t('room.reconnecting'));
    retryTimer = setTimeout(connect, wait);
  });
  sock.addEventListener('error', () => {}); // always followed by 'close'
}

// sendNow puts one record on the socket (in the order of the calls) and answers a promise of
// the server's answer; it must run inside step, after the seal, so that no seats message
// comes between a record's seal and its send.
function sendNow(rec) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(Object.assign(new Error(t('room.lost')), { code: 'lost' }));
  const p = new Promise((resolve, reject) => { pending.push({ resolve, reject }); });
  ws.send(rec);
  return p;
}

function sendControl(rec) { sendNow(rec).catch(() => {}); }

// comeBack: this member was left out; a new socket brings it back in (the relay's rule).
function comeBack() {
  if (ws) {
    backNow = true;
    try { ws.close(); } catch { /* closing */ }
  } else {
    connect();
  }
}

function refusal(code) {
  return { full: t('room.refused_full'), too_large: t('room.refused_too_large') }[code] || t('room.refused');
}

async function onMessage(data) {
  if (typeof data === 'string') {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (m.t === 'seats') await onSeats(m);
    else if (m.t === 'sent' && pending.length) pending.shift().resolve();
    else if (m.t === 'error' && pending.length) pending.shift().reject(Object.assign(new Error(refusal(m.error)), { code: m.error }));
    else if (m.t === 'end') finish(m.reason);
    return;
  }
  if (data.byteLength < 10) return;
  const dv = new DataView(data);
  const seq = dv.getUint32(0) * 2 ** 32 + dv.getUint32(4);
  const from = dv.getUint8(8);
  if (seq >= next) { // else pushed again after a reconnect
    next = seq + 1;
    await onRecord(from, new Uint8Array(data, 9));
  }
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'ack', next }));
}

async function onSeats(m) {
  const inSeats = Array.isArray(m.in) ? m.in : [];
  const out = Array.isArray(m.out) ? m.out : [];
  let r;
  try {
    r = await member.seats(m.v, inSeats, out);
  } catch (e) {
    if (e.code === 'epoch' && out.includes(st.seat)) {
      if (!away) {
        away = true;
        status(t('room.you_away'));
        comeBack();
      }
    } else {
      problem(e, 0);
    }
    return;
  }
  away = false;
  const before = new Set(view.inSeats);
  for (const s of r.left) { view.left.add(s); noteWho(t('room.bye', { who: WHO }), s); }
  for (const s of r.removed) { view.removed.add(s); noteWho(t('room.removed_note', { who: WHO }), s); }
  if (view.everComplete && (r.left.length || r.removed.length)) view.changed = true;
  view.inSeats = inSeats.slice();
  view.out = out.slice();
  for (const s of inSeats) if (!before.has(s) && s !== st.seat && before.size) noteWho(t('room.joined_note', { who: WHO }), s);
  if (r.hello) {
    sendControl(r.hello);
    status(t('room.setting_up'));
  } else {
    status(t('room.alone'));
  }
  show('safety-changed', view.changed);
  safetyPending();
  renderMembers();
  await updateSafety();
  scheduleExpire();
}

// Every refusal class of a received record, worded for people (room-protocol.js's codes).
// A {who} is the sender's seat (WHO: noteWho puts its name in).
const PROBLEMS = {
  format: () => t('room.bad_format'),
  reflect: () => t('room.bad_reflect'),
  epoch: () => t('room.bad_epoch'),
  ghost: () => t('room.bad_ghost'),
  replay: () => t('room.bad_replay'),
  order: () => t('room.bad_order'),
  view: () => t('room.bad_view'),
  handshake: () => t('room.bad_handshake', { who: WHO }),
  auth: () => t('room.bad_auth', { who: WHO }),
};

function problem(e, seat) {
  const code = e && e.code;
  if (!Object.hasOwn(PROBLEMS, code)) { fatal(e); return; }
  noteWho(PROBLEMS[code](), seat);
}

async function onRecord(from, rec) {
  let r;
  try {
    r = await member.open(from, rec);
  } catch (e) {
    problem(e, from);
    return;
  }
  if (r.ignored) return;
  // While left out, nothing is sent (the page's rule, see away): the record is opened, the keys
  // and the name wait for the version that takes this member back in.
  if (r.send && !away) sendControl(r.send); // this member's keys of the version
  if (r.missing) noteWho(t('room.gap', { count: r.missing, who: WHO }), r.seat);
  if (r.gap) noteWho(t('room.gap', { count: r.gap, who: WHO }), r.seat);
  if (r.send || r.type === R.REC_HELLO) await updateSafety();
  if (r.send && !away) await sendName();
  if (r.complete) {
    view.everComplete = true;
    status(t('room.ready'));
    await updateSafety();
    renderMembers();
  }
  if (r.type === R.REC_DATA) onBody(r);
  scheduleExpire();
}

// sendName seals this member's name once in every version, right after its keys.
async function sendName() {
  if (!myName || nameSentIn === member.version) return;
  nameSentIn = member.version;
  const rec = await member.seal(R.encodeRoomMessage(R.MSG_NAME, utf8Encode(myName)));
  sendControl(rec);
}

function onBody(r) {
  const s = r.seat;
  if (r.inner === R.MSG_NAME) {
    if (r.renamed) noteWho(t('room.renamed', { who: WHO }), s);
    renderMembers();
    for (const li of $('log').querySelectorAll(`li[data-seat="${s}"] > strong`)) {
      li.replaceChildren(nameNode(s), ': ');
    }
    for (const w of $('log').querySelectorAll(`.who[data-who="${s}"]`)) w.replaceChildren(nameNode(s));
  } else if (r.inner === MSG_TEXT) {
    line('them', s, utf8Decode(r.body));
  } else if (r.inner === MSG_FILE_BEGIN) {
    let m;
    try { m = JSON.parse(utf8Decode(r.body)); } catch { return; }
    if (!m || typeof m.name !== 'string' || !Number.isSafeInteger(m.size) || m.size < 0 || !Number.isSafeInteger(m.id)) return;
    const li = fileLine('them', s, m.name);
    const bar = document.createElement('progress');
    bar.max = m.size || 1;
    bar.value = 0;
    li.appendChild(bar);
    const key = `${s}:${m.id}`;
    files.set(key, { name: fileName(m.name), size: m.size, parts: [], got: 0, li, bar });
    if (m.size === 0) fileDone(key);
  } else if (r.inner === MSG_FILE_CHUNK) {
    if (r.body.length < 4) return;
    const id = new DataView(r.body.buffer, r.body.byteOffset, 4).getUint32(0);
    const key = `${s}:${id}`;
    const f = files.get(key);
    if (!f || f.got + r.body.length - 4 > f.size) return;
    f.parts.push(r.body.slice(4));
    f.got += r.body.length - 4;
    f.bar.value = f.got;
    if (f.got === f.size) fileDone(key);
  }
  // MSG_BYE: shown when the seat leaves the member list (seatsNow's left).
}

function fileDone(key) {
  const f = files.get(key);
  files.delete(key);
  const a = document.createElement('a');
  // application/octet-stream: a received HTML or SVG file must never render in this origin.
  const u = URL.createObjectURL(new Blob(f.parts, { type: 'application/octet-stream' }));
  urls.push(u);
  a.href = u;
  a.download = f.name;
  a.textContent = t('room.save');
  a.className = 'download';
  f.bar.replaceWith(a);
}

// ---- sending ----

// sendMessage seals and sends one inner message, waiting while this member's keys of the
// version are not out yet or it is left out (away: it seals nothing until it is back in, with
// the keys of its new version), and sending the same record again while the room is busy.
async function sendMessage(type, body) {
  const inner = R.encodeRoomMessage(type, body);
  let rec = null;
  for (let tries = 0; !rec; tries++) {
    if (ended || !member) throw new Error(t('room.lost'));
    try {
      rec = await step(() => {
        if (away) throw Object.assign(new Error(t('room.not_ready')), { code: 'wait' });
        return member.seal(inner);
      });
    } catch (e) {
      if (e.code !== 'wait' || tries > 120) throw e.code === 'wait' ? new Error(t('room.not_ready')) : e;
      await sleep(500);
    }
  }
  let waited = null; // the status before "waiting", put back once the record is taken
  for (;;) {
    // The record goes on the socket inside step; its answer is awaited outside, since the
    // answer itself comes through step.
    const { sent } = await step(() => ({ sent: sendNow(rec) }));
    try {
      await sent;
      if (waited !== null && $('status').textContent === t('room.waiting')) status(waited);
      return;
    } catch (e) {
      if (e.code !== 'busy') throw e;
      if (waited === null) waited = $('status').textContent;
      status(t('room.waiting'));
      await sleep(1000); // the others are behind: the same record again
    }
  }
}

function queueSend(fn) {
  const p = sendChain.then(fn);
  sendChain = p.catch(() => {});
  return p;
}

async function sendFile(entry) {
  const data = entry.bytes;
  const total = data.size;
  const id = crypto.getRandomValues(new Uint32Array(1))[0];
  const li = fileLine('me', st.seat, entry.name);
  const bar = document.createElement('progress');
  bar.max = total || 1;
  li.appendChild(bar);
  await sendMessage(MSG_FILE_BEGIN, utf8Encode(JSON.stringify({ id, name: entry.name, type: entry.type, size: total })));
  for (let off = 0; off < total; off += FILE_CHUNK) {
    const end = Math.min(off + FILE_CHUNK, total);
    const part = new Uint8Array(await data.slice(off, end).arrayBuffer());
    const body = new Uint8Array(4 + part.length);
    new DataView(body.buffer).setUint32(0, id);
    body.set(part, 4);
    await sendMessage(MSG_FILE_CHUNK, body);
    bar.value = end;
  }
  bar.replaceWith(document.createTextNode(t('room.file_sent')));
}

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

// confirmFirst makes button ask first, with the focus on the answer that keeps things as they
// are: a stray Enter (or two) on the button ends nothing.
function confirmFirst(button, box, yes, no, act) {
  $(button).addEventListener('click', () => { show(box); $(no).focus(); });
  $(no).addEventListener('click', () => { hide(box); $(button).focus(); });
  $(yes).addEventListener('click', () => { hide(box); act().catch(fatal); });
}

async function leave() {
  try {
    // No keys yet, or left out (a bye on the old chain would only bring this member back in
    // for a moment): nothing to sign, and the others see the seat removed.
    const bye = await step(() => (away ? null : member.bye().catch(() => null)));
    if (bye) {
      const { sent } = await step(() => ({ sent: sendNow(bye) }));
      await sent.catch(() => {});
    }
  } finally {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ t: 'leave' }));
    } else {
      try { await post(`/api/v1/rooms/${st.id}/leave`, { session: st.token }); } catch (e) { if (!(e instanceof GoneError)) throw e; }
    }
    finish('left');
  }
}

async function endForAll() {
  try {
    await post(`/api/v1/rooms/${st.id}/revoke`, { manage: P.b64uEncode(st.manage) });
  } catch (e) {
    if (!(e instanceof GoneError)) throw e;
  }
  finish('revoked');
}

function wireRoom() {
  $('send-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearError();
    const box = $('message');
    const text = box.value;
    if (!text) return;
    box.value = '';
    queueSend(async () => {
      await sendMessage(MSG_TEXT, utf8Encode(text));
      line('me', st.seat, text);
    }).catch((e) => {
      box.value = box.value ? `${text}\n${box.value}` : text;
      fatal(e);
    });
  });
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
    $('message').focus();
    queueSend(() => sendFile(entry)).catch(fatal);
  });
  $('file-cancel').addEventListener('click', () => { reviewPick++; closeReview(); $('file').focus(); });
  confirmFirst('leave', 'leave-confirm', 'leave-yes', 'leave-cancel', leave);
  confirmFirst('end-all', 'end-confirm', 'end-yes', 'end-cancel', endForAll);
  // The invite list and the room are two views, one at a time (one h1 on the screen); the
  // room goes on behind the list.
  $('invites-done').addEventListener('click', () => { hide('invites'); show('room'); show('show-invites'); $('room-heading').focus(); });
  $('show-invites').addEventListener('click', () => { hide('room'); show('invites'); $('invites-heading').focus(); });
}

// readName checks the optional display name; '' when none.
function readName(field) {
  const name = $(field).value.trim();
  if (!name) return '';
  try {
    R.checkRoomName(name);
  } catch {
    throw new Error(t('room.bad_name'));
  }
  return name;
}

async function enter(id, seat, token, km, manage) {
  st = { id, seat, token, manage };
  member = await R.RoomMember.create({ id: P.b64uDecode(id), seat, km });
  km.fill(0);
  status(t('room.connecting'));
  if ($('invites').hidden) show('room'); // the creator sees the invite list first
  connect();
}

// ---- create and join ----

async function create(ev) {
  ev.preventDefault();
  clearError();
  const button = $('create-button');
  button.disabled = true;
  try {
    const n = Number($('seats').value);
    if (!Number.isInteger(n) || n < R.MIN_SEATS || n > R.MAX_SEATS) throw new Error(t('error.generic'));
    myName = readName('create-name');
    const pin = $('pin').value.trim();
    const dpin = $('dpin').value.trim();
    P.checkPINs(pin, dpin);
    const np = pin ? P.normalizePIN(pin) : '';
    const nd = dpin ? P.normalizePIN(dpin) : '';
    const Kr = P.randomBytes(32);
    const M = P.randomBytes(32);
    const Pk = np ? await R.roomStretchPIN(Kr, np) : null;
    const Pd = nd ? await R.roomStretchPIN(Kr, nd) : null;
    const seatKeys = [];
    const seats = [];
    for (let s = 1; s <= n; s++) {
      const Ks = P.randomBytes(32);
      seatKeys.push(Ks);
      const e = { gate_hash: P.b64uEncode(await P.sha256(await R.roomGateToken(Ks))) };
      if (Pk) e.open_hash = P.b64uEncode(await P.sha256(await R.roomOpenToken(Ks, Pk)));
      if (Pd) e.destruct_hash = P.b64uEncode(await P.sha256(await R.roomDestructToken(Ks, Pd)));
      seats.push(e);
    }
    const manageHash = await P.sha256(M);
    const ttl = Number($('ttl').value);
    const body = { seats, ttl, manage_hash: P.b64uEncode(manageHash) };
    const r = await payAndCreate((payment) => post('/api/v1/rooms', { ...body, ...payment }),
      { kind: PRICE_ROOM, manage: manageHash, length: ROOM_PRICE_LENGTH, ttl }, null,
      { onWork: () => status(t('progress.pow_working')) });
    // The room exists: its PINs are not left in the (hidden) form for the tab's life; the
    // destruct PIN above all, which must pass for a typo.
    $('pin').value = '';
    $('dpin').value = '';
    // The creator's page takes seat 1 at once.
    const joined = await post(`/api/v1/rooms/${r.id}/join`, await joinBody(1, seatKeys[0], Pk));
    const flags = Pk ? R.FLAG_PIN : 0;
    const list = $('invite-list');
    list.replaceChildren();
    for (let s = 2; s <= n; s++) {
      const link = `${location.origin}/g/${r.id}#${R.encodeRoomInvite({ flags, seat: s, seatKey: seatKeys[s - 1], roomKey: Kr })}`;
      list.appendChild(inviteItem(s, link));
    }
    for (const k of seatKeys) k.fill(0);
    history.replaceState(null, '', `/g/${r.id}`);
    hide('create');
    show('end-all');
    show('invites');
    $('invites-heading').focus();
    await enter(r.id, 1, joined.session, await R.roomMacKey(Kr, Pk), M);
    Kr.fill(0);
  } catch (e) {
    fatal(e);
  } finally {
    button.disabled = false;
  }
}

function inviteItem(seat, link) {
  const li = document.createElement('li');
  const label = document.createElement('label');
  label.htmlFor = `invite-${seat}`;
  label.textContent = t('room.invite_label', { seat });
  const input = document.createElement('input');
  input.id = `invite-${seat}`;
  input.type = 'text';
  input.readOnly = true;
  input.value = link;
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.id = `copy-${seat}`;
  copy.textContent = t('chat.copy');
  const qr = document.createElement('div');
  qr.className = 'qr';
  qr.appendChild(toSVG(document, encode(link), { title: t('room.invite_qr', { seat }) }));
  li.append(label, input, copy, qr);
  queueMicrotask(() => copyButton(copy.id, input.id));
  return li;
}

// joinBody: the seat's gate, and with a PIN the open and destruct tokens of what was typed (the
// server tells them apart; a typo is a wrong PIN, the destruct PIN looks like one).
async function joinBody(seat, Ks, Pk) {
  const body = { seat, gate: P.b64uEncode(await R.roomGateToken(Ks)) };
  if (Pk) {
    body.open = P.b64uEncode(await R.roomOpenToken(Ks, Pk));
    body.destruct = P.b64uEncode(await R.roomDestructToken(Ks, Pk));
  }
  return body;
}

function joinPage(id) {
  const frag = location.hash.replace(/^#/, '');
  if (location.hash) history.replaceState(null, '', location.pathname);
  let f;
  try {
    f = R.parseRoomInvite(frag);
  } catch {
    showError(t('room.link_incomplete'));
    return;
  }
  if (f.flags & R.FLAG_PIN) show('join-pin-field');
  show('join');
  $('join-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const button = $('join-button');
    button.disabled = true;
    try {
      myName = readName('join-name');
      let Pk = null;
      if (f.flags & R.FLAG_PIN) {
        const typed = P.normalizePIN($('join-pin').value.trim());
        $('join-pin').value = ''; // read once: not left on screen for someone beside the reader
        Pk = await R.roomStretchPIN(f.roomKey, typed);
      }
      const r = await post(`/api/v1/rooms/${id}/join`, await joinBody(f.seat, f.seatKey, Pk));
      f.seatKey.fill(0);
      hide('join');
      const km = await R.roomMacKey(f.roomKey, Pk);
      f.roomKey.fill(0);
      await enter(id, f.seat, r.session, km, null);
      $('room-heading').focus();
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
  wireRoom();
  const m = location.pathname.match(/^\/g\/([A-Za-z0-9_-]{22})$/);
  if (!m) {
    show('create');
    $('create-form').addEventListener('submit', create);
    return;
  }
  joinPage(m[1]);
}

main();
