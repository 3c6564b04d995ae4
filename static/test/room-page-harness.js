// A harness that runs the real room page (static/js/room.js) in Node against a hostile relay:
// a small fake DOM built from templates/room.html's ids, a fake location and history, a fake
// WebSocket the test drives (the relay), a fake fetch (the HTTP API), and honest peers made
// with room-protocol.js (the other members). Review 25p (the room page). No dependency: the
// DOM is only what room.js and ui.js touch.
//
// Each page is a fresh instance of room.js (imported with a query string); a test ends it
// (relay "end") so that no timer of it outlives the test.
import { readFileSync } from 'node:fs';
import * as R from '../js/room-protocol.js';
import * as P from '../js/protocol.js';

const TEMPLATE = readFileSync(new URL('../../templates/room.html', import.meta.url), 'utf8');

// ---- a small DOM ----

class Text {
  constructor(s) { this.nodeType = 3; this.data = String(s); this.parent = null; }
  get textContent() { return this.data; }
  set textContent(v) { this.data = String(v); }
  replaceWith(x) { replaceNode(this, x); }
}

function toNode(x) { return typeof x === 'string' ? new Text(x) : x; }

function replaceNode(old, x) {
  const p = old.parent;
  if (!p) return;
  const n = toNode(x);
  if (n.parent) n.parent.removeChild(n);
  const i = p.children.indexOf(old);
  p.children[i] = n;
  n.parent = p;
  old.parent = null;
}

// A compound selector: tag? (.class)* ([attr="v"])*.
function parseCompound(s) {
  const m = { tag: null, classes: [], attrs: [] };
  const re = /^([a-z0-9]+)|\.([\w-]+)|\[([\w-]+)="([^"]*)"\]/gi;
  let x;
  while ((x = re.exec(s)) !== null) {
    if (x[1]) m.tag = x[1].toUpperCase();
    else if (x[2]) m.classes.push(x[2]);
    else m.attrs.push([x[3], x[4]]);
  }
  return m;
}

function matches(el, c) {
  if (el.nodeType !== 1) return false;
  if (c.tag && el.tagName !== c.tag) return false;
  const cls = el.className.split(/\s+/);
  if (!c.classes.every((k) => cls.includes(k))) return false;
  return c.attrs.every(([a, v]) => el.getAttribute(a) === v);
}

class Element {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.nodeType = 1;
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parent = null;
    this.id = '';
    this.className = '';
    this.hidden = false;
    this.dataset = {};
    this.value = '';
    this.disabled = false;
    this.readOnly = false;
    this.listeners = {};
    this.attrs = {};
    this.files = [];
  }

  get textContent() { return this.children.map((c) => c.textContent).join(''); }
  set textContent(v) { this.replaceChildren(); if (String(v) !== '') this.append(String(v)); }
  get isFragment() { return this.tagName === '#FRAGMENT'; }

  setAttribute(a, v) { this.attrs[a] = String(v); }
  getAttribute(a) {
    if (a === 'id') return this.id;
    if (a.startsWith('data-')) {
      const k = a.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase());
      return Object.hasOwn(this.dataset, k) ? this.dataset[k] : null;
    }
    if (a === 'download' && this.download !== undefined) return this.download;
    return Object.hasOwn(this.attrs, a) ? this.attrs[a] : null;
  }

  appendChild(x) {
    const n = toNode(x);
    if (n.isFragment) {
      for (const c of [...n.children]) this.appendChild(c);
      return n;
    }
    if (n.parent) n.parent.removeChild(n);
    n.parent = this;
    this.children.push(n);
    return n;
  }

  append(...xs) { for (const x of xs) this.appendChild(x); }
  removeChild(n) { this.children = this.children.filter((c) => c !== n); n.parent = null; return n; }
  replaceChildren(...xs) { for (const c of this.children) c.parent = null; this.children = []; this.append(...xs); }
  replaceWith(x) { replaceNode(this, x); }

  *descendants() {
    for (const c of this.children) {
      if (c.nodeType !== 1) continue;
      yield c;
      yield* c.descendants();
    }
  }

  querySelectorAll(sel) {
    const parts = sel.split('>').map((s) => parseCompound(s.trim()));
    const last = parts.pop();
    const out = [];
    for (const el of this.descendants()) {
      if (!matches(el, last)) continue;
      let cur = el;
      let ok = true;
      for (let i = parts.length - 1; i >= 0; i--) {
        cur = cur.parent;
        if (!cur || cur === this.parent || !matches(cur, parts[i])) { ok = false; break; }
      }
      if (ok) out.push(el);
    }
    return out;
  }

  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }

  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  dispatch(type, ev = {}) {
    const e = { type, target: this, preventDefault() {}, key: '', ...ev };
    for (const fn of this.listeners[type] || []) fn(e);
  }

  focus() { this.ownerDocument.activeElement = this; }
  select() {}
  click() { this.dispatch('click'); }
  requestSubmit() { this.dispatch('submit'); }
}

export function makeDocument() {
  const doc = {
    documentElement: { lang: 'en' },
    activeElement: null,
    title: '',
    createElement: (tag) => new Element(doc, tag),
    createElementNS: (_ns, tag) => new Element(doc, tag),
    createDocumentFragment: () => new Element(doc, '#fragment'),
    createTextNode: (s) => new Text(s),
    execCommand: () => false,
    getElementById(id) {
      for (const el of doc.body.descendants()) if (el.id === id) return el;
      return null;
    },
    querySelectorAll: (sel) => doc.body.querySelectorAll(sel),
    querySelector: (sel) => doc.body.querySelector(sel),
  };
  doc.body = new Element(doc, 'body');
  // Every element of the template that has an id, flat under body, hidden as the template says.
  const re = /<(\w+)([^>]*?)\bid="([^"{}]+)"([^>]*)>/g;
  let m;
  while ((m = re.exec(TEMPLATE)) !== null) {
    const el = new Element(doc, m[1]);
    el.id = m[3];
    el.hidden = /\bhidden\b/.test(m[2] + m[4]);
    const v = /\bvalue="([^"]*)"/.exec(m[2] + m[4]);
    if (v) el.value = v[1];
    doc.body.appendChild(el);
  }
  return doc;
}

// ---- the relay: a fake WebSocket driven by the test ----

const tick = () => new Promise((r) => { setImmediate(r); });

/** until polls cond (sync or async) until it is truthy, or fails after ms of real time. */
export async function until(cond, what = 'condition', ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

export function makeRelay() {
  const relay = {
    sockets: [],
    autoSent: true, // answer every binary send with {"t":"sent"}
    refuseAll: false, // close every new socket at once (the relay or the network refuses it)
    seq: 0,
    get sock() { return relay.sockets[relay.sockets.length - 1]; },
  };

  class FakeWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;

    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = FakeWebSocket.OPEN;
      this.binaryType = 'blob';
      this.listeners = {};
      this.sent = []; // what the page sent: strings and Uint8Arrays
      relay.sockets.push(this);
      if (relay.refuseAll) {
        this.readyState = FakeWebSocket.CLOSED;
        setImmediate(() => this.fire('error', {}));
        setImmediate(() => this.fire('close', { code: 1006 }));
      }
    }

    addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
    fire(type, ev) { for (const fn of this.listeners[type] || []) fn(ev); }

    send(d) {
      if (this.readyState !== FakeWebSocket.OPEN) throw new Error('send on a closed socket');
      const v = typeof d === 'string' ? d : new Uint8Array(d.buffer ? d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) : d);
      this.sent.push(v);
      if (typeof d !== 'string' && relay.autoSent) setImmediate(() => this.text({ t: 'sent', seq: relay.seq }));
    }

    close() {
      if (this.readyState === FakeWebSocket.CLOSED) return;
      this.readyState = FakeWebSocket.CLOSED;
      setImmediate(() => this.fire('close', { code: 1000 }));
    }

    // ---- the relay's side ----
    text(obj) { if (this.readyState === FakeWebSocket.OPEN) this.fire('message', { data: JSON.stringify(obj) }); }
    bin(from, rec, seq = relay.seq++) {
      const b = new Uint8Array(9 + rec.length);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, Math.floor(seq / 2 ** 32));
      dv.setUint32(4, seq % 2 ** 32);
      b[8] = from;
      b.set(rec, 9);
      if (this.readyState === FakeWebSocket.OPEN) this.fire('message', { data: b.buffer });
    }
    records() { return this.sent.filter((x) => typeof x !== 'string'); }
    drop() { this.readyState = FakeWebSocket.CLOSED; setImmediate(() => this.fire('close', { code: 1006 })); }
  }

  relay.WebSocket = FakeWebSocket;
  return relay;
}

// ---- a page ----

let instances = 0;

/**
 * openJoinPage installs a fresh document, location, history, WebSocket and fetch, and loads
 * room.js at /g/<id>#<invite> of a room without a PIN (or with pin: the invite's flag).
 * api(path, body) answers the page's fetches ({status, body}); by default a join gets a session.
 * at: another path (and fragment) to open instead, as '/room' for the create page.
 */
export async function openJoinPage({ seat = 2, pin = false, api, pathSuffix = '', at = null } = {}) {
  const idBytes = P.randomBytes(16);
  const id = P.b64uEncode(idBytes);
  const Kr = P.randomBytes(32);
  const Ks = P.randomBytes(32);
  const frag = R.encodeRoomInvite({ flags: pin ? R.FLAG_PIN : 0, seat, seatKey: Ks, roomKey: Kr });
  const doc = makeDocument();
  const relay = makeRelay();
  let href = `http://sealdropxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion${at === null ? `/g/${id}${pathSuffix}#${frag}` : at}`;
  const history = [];
  const location = {
    get href() { return href; },
    get protocol() { return new URL(href).protocol; },
    get host() { return new URL(href).host; },
    get origin() { return new URL(href).origin; },
    get pathname() { return new URL(href).pathname; },
    get hash() { return new URL(href).hash; },
    get search() { return new URL(href).search; },
  };
  const hist = {
    replaceState(_s, _t, url) { href = new URL(url, href).href; history.push(['replace', href]); },
    pushState(_s, _t, url) { href = new URL(url, href).href; history.push(['push', href]); },
  };
  const calls = [];
  const fetchImpl = async (url, init = {}) => {
    const path = new URL(url, href).pathname;
    const body = init.body ? JSON.parse(init.body) : null;
    calls.push({ path, body });
    let ans = api ? await api(path, body) : null;
    if (!ans) {
      if (/\/join$/.test(path)) ans = { status: 200, body: { session: P.b64uEncode(P.randomBytes(32)) } };
      else if (/\/leave$/.test(path) || /\/revoke$/.test(path)) ans = { status: 204, body: null };
      else ans = { status: 404, body: { error: 'gone' } };
    }
    return new Response(ans.body === null ? null : JSON.stringify(ans.body), { status: ans.status, headers: { 'Content-Type': 'application/json' } });
  };
  const urls = { made: [], revoked: [] };
  const realCreate = URL.createObjectURL;
  const realRevoke = URL.revokeObjectURL;
  URL.createObjectURL = (b) => { const u = realCreate(b); urls.made.push(u); return u; };
  URL.revokeObjectURL = (u) => { urls.revoked.push(u); realRevoke(u); };
  Object.assign(globalThis, { document: doc, location, history: hist, WebSocket: relay.WebSocket, fetch: fetchImpl });
  globalThis.navigator = globalThis.navigator || {};
  await import(`../js/room.js?page=${++instances}`);
  const km = await R.roomMacKey(Kr, null);
  return { doc, relay, id, idBytes, Kr, Ks, km, seat, frag, location, history, calls, urls, $: (x) => doc.getElementById(x) };
}

/** join fills in the name (and PIN) and submits the join form; it waits for the socket. */
export async function join(page, { name = '', pin = '' } = {}) {
  page.$('join-name').value = name;
  if (pin) page.$('join-pin').value = pin;
  page.$('join-form').dispatch('submit');
  await until(() => page.relay.sockets.length > 0, 'the room socket');
}

/** sentRecords: the records the page sent on every socket, of one type (R.REC_*), in order. */
export function sentRecords(page, type) {
  const out = [];
  for (const s of page.relay.sockets) for (const r of s.records()) if (type === undefined || r[0] === type) out.push(r);
  return out;
}

/**
 * completeVersion brings the page into a complete version v with honest peers (seats), the page's seat
 * included in list: {peers, hellos}. Records the page sends are opened by every peer.
 */
export async function completeVersion(page, peers, v, list, out = []) {
  const sock = page.relay.sock;
  const before = sentRecords(page, R.REC_HELLO).length;
  sock.text({ t: 'seats', v, in: list, out });
  const hellos = {};
  for (const [s, m] of Object.entries(peers)) hellos[s] = (await m.seats(v, list, out)).hello;
  const pageHello = await until(() => sentRecords(page, R.REC_HELLO)[before], 'the page\'s hello');
  const keys = {};
  // Every hello to every peer (the page's, and each other's).
  for (const [s, m] of Object.entries(peers)) {
    const r = await m.open(page.seat, pageHello);
    if (r.send) keys[s] = r.send;
    for (const [t, h] of Object.entries(hellos)) {
      if (t === s) continue;
      const r2 = await m.open(Number(t), h);
      if (r2.send) keys[s] = r2.send;
    }
  }
  const keysBefore = sentRecords(page, R.REC_KEYS).length;
  for (const [s, h] of Object.entries(hellos)) sock.bin(Number(s), h);
  const pageKeys = await until(() => sentRecords(page, R.REC_KEYS)[keysBefore], 'the page\'s keys');
  for (const [s, m] of Object.entries(peers)) {
    await m.open(page.seat, pageKeys);
    for (const [t, k] of Object.entries(keys)) if (t !== s) await m.open(Number(t), k);
  }
  for (const [s, k] of Object.entries(keys)) sock.bin(Number(s), k);
  await until(() => page.$('status').textContent.startsWith('Ready.'), 'the page\'s "Ready."');
  return { hellos, keys, pageHello, pageKeys };
}

/** peers makes honest members of the page's room for seats. */
export async function makePeers(page, seats) {
  const out = {};
  for (const s of seats) out[s] = await R.RoomMember.create({ id: page.idBytes, seat: s, km: page.km });
  return out;
}

/** endPage tells the page the room ended, so that none of its timers outlives the test. */
export async function endPage(page) {
  for (const s of page.relay.sockets) {
    if (s.readyState === 1) s.text({ t: 'end', reason: 'revoked' });
  }
  await until(() => !page.$('ended').hidden || !page.$('gone').hidden || page.relay.sockets.every((s) => s.readyState !== 1), 'the page to end', 3000).catch(() => {});
}

export { R, P };
