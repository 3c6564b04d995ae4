// sealdrop one-time group rooms, browser side (SECURITY.md, "One-time group rooms", is the
// specification).
//
// Native WebCrypto only (ECDH and ECDSA P-256, SHA-256, HKDF, HMAC, AES-GCM, PBKDF2). The Go
// package internal/protocol (room.go) implements the same records; both check
// internal/protocol/testdata/room-vectors.json.
//
// The signing key and the ephemeral keys are non-extractable CryptoKeys; chain keys are bytes
// held only by a RoomMember (an HMAC ratchet needs them), zeroed as they advance: nothing here
// writes them anywhere (no storage, no network).
//
// Errors are ProtocolErrors with a code: "format", "reflect", "epoch", "ghost", "replay",
// "order", "view", "handshake", "auth"; "wait" for a seal before this member's keys went out;
// "fragment" for an invite link; "name" for a display name.

import { ProtocolError, VERSION, stretchPINSalt } from './protocol.js';
import { EMPTY, concat, equal, utf8Encode, b64uEncode, b64uDecode, u32, readU32, u64 } from './bytes.js';
import {
  P256, ECDSA_P256, hkdf, hmac, sha256, aesGcmKey, ecdh, importP256Public, importP256Private,
  importEcdsaPublic, importEcdsaPrivate, ecdsaSign, ecdsaVerify,
} from './webcrypto.js';
import { encodeInner, decodeInner, safetyDigits, MSG_BYE } from './chat-protocol.js';
import { checkName } from './drop-protocol.js';

export const REC_HELLO = 1;
export const REC_KEYS = 2;
export const REC_DATA = 3;
export const MIN_SEATS = 2;
export const MAX_SEATS = 8;
export const ID_SIZE = 16;
const POINT = 65;
const SIG = 64;
export const HELLO_HEADER = 1 + 4 + 1 + POINT + POINT; // 136
export const HELLO_SIZE = HELLO_HEADER + SIG + 32; // 232
export const KEYS_HEADER = 7;
export const KEYS_ENTRY = 1 + 32 + 16; // 49
export const DATA_HEADER = 14;
export const MAX_SEQ = 2 ** 53 - 1;
export const MSG_NAME = MSG_BYE + 1; // 5
export const NAME_MAX = 40;
export const INVITE_LEN = 90;
export const FLAG_PIN = 0x01;

const subtle = globalThis.crypto.subtle;
const TRANSCRIPT = utf8Encode('sealdrop/v1 room');
const HELLO_LABEL = utf8Encode('sealdrop/v1 room hello');
const ZERO_IV = new Uint8Array(12);

const fail = (code, message) => { throw new ProtocolError(code, message || `room: ${code}`); };
const validSeat = (s) => Number.isInteger(s) && s >= 1 && s <= MAX_SEATS;
const key32 = (k, what) => { if (!(k instanceof Uint8Array) || k.length !== 32) fail('format', `${what} must be 32 bytes`); };

// ---- invite links and derivations ----

/** encodeRoomInvite gives the 90 characters after '#': base64url(0x01 ‖ flags ‖ seat ‖ K_s ‖ Kr). */
export function encodeRoomInvite({ flags, seat, seatKey, roomKey }) {
  if ((flags & ~FLAG_PIN) !== 0 || !validSeat(seat)) fail('fragment', 'bad invite');
  key32(seatKey, 'K_s');
  key32(roomKey, 'Kr');
  return b64uEncode(concat(Uint8Array.of(VERSION, flags, seat), seatKey, roomKey));
}

/** parseRoomInvite accepts the fragment with or without '#'; it refuses another length, version, unknown flags, a seat outside 1 … 8. */
export function parseRoomInvite(s) {
  if (typeof s !== 'string') fail('fragment', 'this invite is incomplete');
  if (s.startsWith('#')) s = s.slice(1);
  if (s.length !== INVITE_LEN) fail('fragment', 'this invite is incomplete or damaged');
  let b;
  try {
    b = b64uDecode(s);
  } catch {
    fail('fragment', 'this invite is damaged');
  }
  if (b[0] !== VERSION || (b[1] & ~FLAG_PIN) !== 0) fail('fragment', 'this invite was made by another version of sealdrop');
  if (!validSeat(b[2])) fail('fragment', 'this invite names no seat');
  return { flags: b[1], seat: b[2], seatKey: b.slice(3, 35), roomKey: b.slice(35, 67) };
}

/** roomPINSalt is HKDF(Kr, "", "sealdrop/v1 room pin-salt", 16). */
export async function roomPINSalt(Kr) { key32(Kr, 'Kr'); return hkdf(Kr, EMPTY, 'sealdrop/v1 room pin-salt', 16); }
/** roomStretchPIN is P = PBKDF2(PIN, roomPINSalt(Kr), 300000, 32). */
export async function roomStretchPIN(Kr, pin) { return stretchPINSalt(pin, await roomPINSalt(Kr)); }
/** roomGateToken is G_s = HKDF(K_s, "", "sealdrop/v1 room gate", 32). */
export async function roomGateToken(Ks) { key32(Ks, 'K_s'); return hkdf(Ks, EMPTY, 'sealdrop/v1 room gate', 32); }
/** roomOpenToken is O_s = HKDF(K_s, P, "sealdrop/v1 room open", 32). */
export async function roomOpenToken(Ks, P) { key32(Ks, 'K_s'); return hkdf(Ks, P, 'sealdrop/v1 room open', 32); }
/** roomDestructToken is D_s = HKDF(K_s, P, "sealdrop/v1 room destruct", 32). */
export async function roomDestructToken(Ks, P) { key32(Ks, 'K_s'); return hkdf(Ks, P, 'sealdrop/v1 room destruct', 32); }
/** roomMacKey is Km = HKDF(Kr, P or "", "sealdrop/v1 room mac", 32). */
export async function roomMacKey(Kr, P) { key32(Kr, 'Kr'); return hkdf(Kr, P || EMPTY, 'sealdrop/v1 room mac', 32); }

/** checkRoomName: the rules of a drop's name, at most 40 characters ("name" errors). */
export const checkRoomName = (name) => checkName(name, NAME_MAX);

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** encodeRoomMessage is the chat's inner message with one more type, MSG_NAME (checkRoomName). */
export function encodeRoomMessage(type, body = EMPTY) {
  if (type === MSG_NAME) {
    let name;
    try { name = utf8Fatal.decode(body); } catch { fail('name', 'the name is not UTF-8'); }
    checkRoomName(name);
  }
  return encodeInner(type, body, MSG_NAME);
}

/** decodeRoomMessage parses an inner message of a room: {type, body}; a bad name is "format". */
export function decodeRoomMessage(p) {
  const m = decodeInner(p, MSG_NAME);
  if (m.type === MSG_NAME) {
    try {
      checkRoomName(utf8Fatal.decode(m.body));
    } catch {
      fail('format', 'a name that breaks the name rules');
    }
  }
  return m;
}

// ---- a member ----

const wipe = (chain) => { if (chain) chain.ck.fill(0); };
const wipeVersion = (ver) => {
  if (!ver) return;
  for (const c of ver.recv.values()) wipe(c);
  ver.recv.clear();
  ver.priv = null;
  ver.pubs = null;
};

async function gcmSeal(raw, plaintext, aad) {
  const k = await aesGcmKey(raw, 'encrypt');
  return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: ZERO_IV, additionalData: aad }, k, plaintext));
}

async function gcmOpen(raw, ct, aad) {
  const k = await aesGcmKey(raw, 'decrypt');
  return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: ZERO_IV, additionalData: aad }, k, ct));
}

const step = (ck, b) => hmac(ck, Uint8Array.of(b));

/**
 * RoomMember is one member's side of a room: its signing key, the signing keys pinned per seat,
 * the current membership version and, until it is complete, the previous one. Every call is
 * serialised; a refused record changes nothing.
 */
export class RoomMember {
  /** create makes the member of seat in room id with a fresh signing key; km is roomMacKey. */
  static create(args) { return newMember(args, null); }

  get version() { return this.cur ? this.cur.v : 0; }
  get members() { return this.cur ? this.cur.members.slice() : []; }
  get complete() { return !!(this.cur && this.cur.done); }

  run(fn) {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }

  aad(...parts) { return concat(TRANSCRIPT, Uint8Array.of(VERSION), this.id, ...parts); }

  async sign(body, msg) {
    if (this.fixed) return this.fixed.signature(body); // vectors only: Go's RFC 6979 signature
    return ecdsaSign(this.signKey, msg);
  }

  helloMac(headerAndSig) { return hmac(this.km, HELLO_LABEL, this.id, headerAndSig); }

  /** seats takes the relay's member list of version v; it returns this member's hello, or null when alone. */
  seats(v, members) { return this.run(() => this.seatsNow(v, members)); }

  async seatsNow(v, members) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff || !Array.isArray(members) || members.length === 0 ||
        members.length > MAX_SEATS || !members.includes(this.seat)) fail('format', 'bad member list');
    members.forEach((s, i) => { if (!validSeat(s) || (i > 0 && s <= members[i - 1])) fail('format', 'bad member list'); });
    if (this.cur && v <= this.cur.v) fail('epoch', 'a member list of an earlier version');
    const nv = { v, members: members.slice(), hellos: new Map(), pubs: new Map(), recv: new Map(), priv: null, th: null, done: false };
    let hello = null;
    if (members.length > 1) {
      let pub;
      if (this.fixed) {
        const e = this.fixed.ephemeral[v];
        nv.priv = await importP256Private(e.priv, e.pub);
        pub = e.pub;
      } else {
        const kp = await subtle.generateKey(P256, false, ['deriveBits']);
        nv.priv = kp.privateKey;
        pub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
      }
      const header = concat(Uint8Array.of(REC_HELLO), u32(v), Uint8Array.of(this.seat), pub, this.signPub);
      const sig = await this.sign(header, concat(HELLO_LABEL, this.id, header));
      const hs = concat(header, sig);
      hello = concat(hs, await this.helloMac(hs));
      nv.hellos.set(this.seat, hello);
    } else {
      nv.done = true;
    }
    wipeVersion(this.prev);
    this.prev = null;
    if (this.cur) {
      this.cur.priv = null;
      this.cur.pubs = null;
      this.prev = this.cur;
    }
    if (nv.done) { wipeVersion(this.prev); this.prev = null; }
    wipe(this.send);
    this.send = null;
    this.cur = nv;
    return hello && hello.slice();
  }

  /**
   * open checks one record the relay delivered with stamp (the seat it says sent it):
   * {type, seat, version, message, send, complete}.
   */
  open(stamp, rec) { return this.run(() => this.openNow(stamp, rec)); }

  async openNow(stamp, rec) {
    if (!(rec instanceof Uint8Array) || rec.length === 0) fail('format', 'empty record');
    if (rec[0] === REC_HELLO) return this.openHello(stamp, rec);
    if (rec[0] === REC_KEYS) return this.openKeys(stamp, rec);
    if (rec[0] === REC_DATA) return this.openData(stamp, rec);
    return fail('format', 'unknown record type');
  }

  sender(stamp, rec) {
    const v = readU32(rec, 1);
    const s = rec[5];
    if (s === this.seat || s !== stamp) fail('reflect', 'a reflected or misattributed record');
    return { v, s };
  }

  // once: a record a seat sends once per version (hello, keys): epoch, ghost, replay.
  once(v, s, taken) {
    const cur = this.cur;
    if (!cur || v !== cur.v) fail('epoch', 'a record of another membership version');
    if (!cur.members.includes(s)) fail('ghost', 'a record from a seat that is not a member');
    if (taken(cur)) fail('replay', 'a replayed record');
    return cur;
  }

  async openHello(stamp, rec) {
    if (rec.length !== HELLO_SIZE || !validSeat(rec[5])) fail('format', 'bad hello');
    let x;
    try {
      x = await importP256Public(rec.subarray(6, 6 + POINT), false);
      await importEcdsaPublic(rec.subarray(6 + POINT, HELLO_HEADER));
    } catch {
      fail('format', 'a hello key that is not a P-256 point');
    }
    const sigma = rec.slice(6 + POINT, HELLO_HEADER);
    const { v, s } = this.sender(stamp, rec);
    const cur = this.once(v, s, (c) => c.hellos.has(s));
    if (!equal(await this.helloMac(rec.subarray(0, HELLO_HEADER + SIG)), rec.subarray(HELLO_HEADER + SIG))) {
      fail('handshake', 'a hello not made with this room\'s key');
    }
    const pinned = this.sigma.get(s);
    if (pinned && !equal(pinned, sigma)) fail('handshake', `seat ${s}'s signing key changed`);
    const vk = await importEcdsaPublic(sigma);
    if (!await ecdsaVerify(vk, concat(HELLO_LABEL, this.id, rec.subarray(0, HELLO_HEADER)), rec.subarray(HELLO_HEADER, HELLO_HEADER + SIG))) {
      fail('handshake', 'a hello with a bad signature');
    }
    const out = { type: REC_HELLO, seat: s, version: v, message: null, send: null, complete: false };
    let th = null;
    let send = null;
    if (cur.hellos.size + 1 === cur.members.length) {
      const hellos = new Map(cur.hellos).set(s, rec);
      const pubs = new Map(cur.pubs).set(s, x);
      th = await this.transcript(cur.v, cur.members, hellos);
      ({ rec: out.send, chain: send } = await this.keysRecord(cur, cur.members, th, pubs));
    }
    cur.hellos.set(s, rec.slice());
    cur.pubs.set(s, x);
    if (!pinned) this.sigma.set(s, sigma);
    if (!this.sigmaKeys.has(s)) this.sigmaKeys.set(s, vk);
    if (th) { cur.th = th; this.send = send; }
    return out;
  }

  transcript(v, members, hellos) {
    return sha256(concat(TRANSCRIPT, Uint8Array.of(VERSION), this.id, u32(v), ...members.map((s) => hellos.get(s))));
  }

  async pairKey(priv, pub, th, s, t) {
    const z = await ecdh(priv, pub);
    const ikm = concat(z, this.km);
    z.fill(0);
    const k = await hkdf(ikm, th, `sealdrop/v1 room pair${String.fromCharCode(s, t)}`, 32);
    ikm.fill(0);
    return k;
  }

  // keysRecord draws this member's chain key of cur and seals it to every other seat of members.
  async keysRecord(cur, members, th, pubs) {
    const ck = this.fixed ? this.fixed.chain[cur.v].slice() : globalThis.crypto.getRandomValues(new Uint8Array(32));
    const others = members.filter((t) => t !== this.seat);
    const header = concat(Uint8Array.of(REC_KEYS), u32(cur.v), Uint8Array.of(this.seat, others.length));
    const parts = [header];
    for (const t of others) {
      const k = await this.pairKey(cur.priv, pubs.get(t), th, this.seat, t);
      parts.push(Uint8Array.of(t), await gcmSeal(k, ck, this.aad(header, Uint8Array.of(t))));
      k.fill(0);
    }
    const body = concat(...parts);
    const sig = await this.sign(body, concat(th, body));
    return { rec: concat(body, sig), chain: { ck, next: 0 } };
  }

  async openKeys(stamp, rec) {
    const count = rec.length > 6 ? rec[6] : 0;
    if (rec.length < KEYS_HEADER + SIG || !validSeat(rec[5]) || count >= MAX_SEATS ||
        rec.length !== KEYS_HEADER + count * KEYS_ENTRY + SIG) fail('format', 'bad keys record');
    const entries = [];
    for (let i = 0; i < count; i++) {
      const t = rec[KEYS_HEADER + i * KEYS_ENTRY];
      if (!validSeat(t)) fail('format', 'bad keys record');
      entries.push(t);
    }
    const { v, s } = this.sender(stamp, rec);
    const cur = this.once(v, s, (c) => c.recv.has(s));
    if (!cur.th) fail('order', 'keys before every hello of their version');
    const others = cur.members.filter((t) => t !== s);
    if (entries.length !== others.length || entries.some((t, i) => t !== others[i])) fail('view', 'the keys name other members');
    const body = rec.subarray(0, rec.length - SIG);
    if (!await ecdsaVerify(this.sigmaKeys.get(s), concat(cur.th, body), rec.subarray(body.length))) {
      fail('view', 'keys signed under another view of the room');
    }
    const at = KEYS_HEADER + entries.indexOf(this.seat) * KEYS_ENTRY + 1;
    const k = await this.pairKey(cur.priv, cur.pubs.get(s), cur.th, s, this.seat);
    let ck;
    try {
      ck = await gcmOpen(k, rec.subarray(at, at + 48), this.aad(rec.subarray(0, KEYS_HEADER), Uint8Array.of(this.seat)));
    } catch {
      fail('view', 'keys that do not open under this view of the room');
    } finally {
      k.fill(0);
    }
    cur.recv.set(s, { ck, next: 0 });
    const out = { type: REC_KEYS, seat: s, version: v, message: null, send: null, complete: false };
    if (cur.recv.size === cur.members.length - 1) {
      cur.done = true;
      out.complete = true;
      cur.priv = null;
      cur.pubs = null;
      wipeVersion(this.prev);
      this.prev = null;
    }
    return out;
  }

  async openData(stamp, rec) {
    if (rec.length < DATA_HEADER + 16 + SIG || !validSeat(rec[5])) fail('format', 'bad record');
    const { v, s } = this.sender(stamp, rec);
    let ver;
    if (this.cur && v === this.cur.v) ver = this.cur;
    else if (this.prev && v === this.prev.v) ver = this.prev;
    else fail('epoch', 'a message of a membership version this member holds no keys of');
    if (!ver.members.includes(s)) fail('ghost', 'a message from a seat that is not a member');
    const seq = readSeq(rec, 6);
    const ch = ver.recv.get(s);
    if (ch && seq < ch.next) fail('replay', 'a replayed message');
    if (!ch || seq > ch.next) fail('order', 'a message is missing or out of order');
    const body = rec.subarray(0, rec.length - SIG);
    if (!await ecdsaVerify(this.sigmaKeys.get(s), concat(this.id, body), rec.subarray(body.length))) {
      fail('auth', 'a message with a bad signature');
    }
    const mk = await step(ch.ck, 1);
    let pt;
    try {
      pt = await gcmOpen(mk, body.subarray(DATA_HEADER), this.aad(rec.subarray(0, DATA_HEADER)));
    } catch {
      fail('auth', 'a message failed its integrity check');
    } finally {
      mk.fill(0);
    }
    const next = await step(ch.ck, 2);
    wipe(ch);
    ch.ck = next;
    ch.next += 1;
    return { type: REC_DATA, seat: s, version: v, message: pt, send: null, complete: false };
  }

  /** seal encrypts one inner message (encodeRoomMessage) as this member's next data record. */
  seal(inner) { return this.run(() => this.sealNow(inner)); }

  async sealNow(inner) {
    if (!this.send) fail('wait', 'the keys of this membership version are not out yet');
    if (this.send.next > MAX_SEQ) fail('format', 'sequence exhausted');
    const header = concat(Uint8Array.of(REC_DATA), u32(this.cur.v), Uint8Array.of(this.seat), u64(this.send.next));
    const mk = await step(this.send.ck, 1);
    const ct = await gcmSeal(mk, inner, this.aad(header));
    mk.fill(0);
    const body = concat(header, ct);
    const sig = await this.sign(body, concat(this.id, body));
    const next = await step(this.send.ck, 2);
    wipe(this.send);
    this.send.ck = next;
    this.send.next += 1;
    return concat(body, sig);
  }

  /** safetyCode: six groups of four digits over each member's seat and signing key. */
  safetyCode() { return this.run(() => this.safetyNow()); }

  async safetyNow() {
    const cur = this.cur;
    if (!cur || (cur.members.length > 1 && cur.hellos.size < cur.members.length)) fail('wait', 'not every hello is in');
    const parts = cur.members.map((s) => concat(Uint8Array.of(s), s === this.seat ? this.signPub : this.sigma.get(s)));
    return safetyDigits(await hkdf(await sha256(concat(...parts)), EMPTY, 'sealdrop/v1 room safety', 12));
  }
}

function readSeq(b, at) {
  const hi = readU32(b, at);
  if (hi >= 2 ** 21) return Infinity; // beyond what a JS number counts exactly: never a next seq
  return hi * 2 ** 32 + readU32(b, at + 4);
}

// newMember: fixed = {sign: {priv, pub}, ephemeral: {V: {priv, pub}}, chain: {V: bytes},
// signature(body)} pins the randomness and takes the signatures from the vectors
// (_createForVectors only): the same fixed values in two rooms would repeat keys.
async function newMember({ id, seat, km }, fixed) {
  if (!(id instanceof Uint8Array) || id.length !== ID_SIZE) fail('format', 'room id must be 16 bytes');
  if (!validSeat(seat)) fail('format', 'bad seat');
  key32(km, 'Km');
  const m = new RoomMember();
  m.id = id.slice();
  m.seat = seat;
  m.km = km.slice();
  m.sigma = new Map();
  m.sigmaKeys = new Map();
  m.cur = null;
  m.prev = null;
  m.send = null;
  m.fixed = fixed;
  m.chain = Promise.resolve();
  if (fixed) {
    m.signKey = await importEcdsaPrivate(fixed.sign.priv, fixed.sign.pub);
    m.signPub = fixed.sign.pub.slice();
  } else {
    const kp = await subtle.generateKey(ECDSA_P256, false, ['sign', 'verify']);
    m.signKey = kp.privateKey;
    m.signPub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
  }
  return m;
}

/** _createForVectors is RoomMember.create with fixed randomness: test vectors only. */
export async function _createForVectors(args, fixed) {
  if (!fixed || typeof fixed.signature !== 'function') fail('format', 'fixed randomness required');
  return newMember(args, fixed);
}
