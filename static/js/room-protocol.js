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
export const KEYS_HEADER = 1 + 4 + 1 + 4 + 8 + 32 + 1; // 51
export const KEYS_ENTRY = 1 + 32 + 16; // 49
export const DATA_HEADER = 14;
export const MAX_SEQ = 2 ** 53 - 1;
export const MSG_NAME = MSG_BYE + 1; // 5
export const NAME_MAX = 40;
export const INVITE_LEN = 90;
export const FLAG_PIN = 0x01;
export const ERASE_AFTER_MS = 60 * 1000;
export const MAX_GAP = 1024;
export const BYE_SIZE = 8;

const subtle = globalThis.crypto.subtle;
const TRANSCRIPT = utf8Encode('sealdrop/v1 room');
const HELLO_LABEL = utf8Encode('sealdrop/v1 room hello');
const KEYS_LABEL = utf8Encode('sealdrop/v1 room keys');
const DATA_LABEL = utf8Encode('sealdrop/v1 room data');
const CHAIN_LABEL = utf8Encode('sealdrop/v1 room chain');
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

/**
 * roomNameKey is what names are compared by to mark duplicates (Go RoomNameKey): marks (M) and
 * format characters (Cf) left out, U+FF01 … U+FF5E taken as U+0021 … U+007E, every other
 * character lowercased by Unicode's simple mapping (the first code point of toLowerCase).
 */
export function roomNameKey(name) {
  let out = '';
  for (const ch of name) {
    if (/[\p{M}\p{Cf}]/u.test(ch)) continue;
    let c = ch.codePointAt(0);
    if (c >= 0xff01 && c <= 0xff5e) c -= 0xfee0;
    out += String.fromCodePoint(String.fromCodePoint(c).toLowerCase().codePointAt(0));
  }
  return out;
}

/** encodeRoomMessage is the chat's inner message with one more type, MSG_NAME (checkRoomName); a bye's body is its 8-byte count. */
export function encodeRoomMessage(type, body = EMPTY) {
  if (type === MSG_NAME) {
    let name;
    try { name = utf8Fatal.decode(body); } catch { fail('name', 'the name is not UTF-8'); }
    checkRoomName(name);
  }
  if (type === MSG_BYE && body.length !== BYE_SIZE) fail('format', 'a bye carries its count');
  return encodeInner(type, body, MSG_NAME);
}

/** decodeRoomMessage parses an inner message of a room: {type, body}; a bad name, or a bye without its count, is "format". */
export function decodeRoomMessage(p) {
  const m = decodeInner(p, MSG_NAME);
  if (m.type === MSG_NAME) {
    try {
      checkRoomName(utf8Fatal.decode(m.body));
    } catch {
      fail('format', 'a name that breaks the name rules');
    }
  }
  if (m.type === MSG_BYE && m.body.length !== BYE_SIZE) fail('format', 'a bye without its count');
  return m;
}

// ---- a member ----

// An erased chain keeps its next (the previous-count check needs it) and drops its key.
const wipe = (chain) => { if (chain && chain.ck) { chain.ck.fill(0); chain.ck = null; } };
const closeVersion = (ver) => {
  if (!ver) return;
  for (const c of ver.recv.values()) wipe(c);
  ver.closed = true;
  ver.priv = null;
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
const chainCommit = (ck) => sha256(concat(CHAIN_LABEL, ck));

function checkSeatList(list, mayBeEmpty) {
  if (!Array.isArray(list) || list.length > MAX_SEATS || (!mayBeEmpty && list.length === 0)) return false;
  return list.every((s, i) => validSeat(s) && (i === 0 || s > list[i - 1]));
}

const accepted = (type, seat, version, extra = {}) => ({
  type, seat, version, ignored: false, gap: 0, missing: 0, message: null, inner: 0, body: null,
  renamed: false, send: null, complete: false, ...extra,
});

/**
 * RoomMember is one member's side of a room (Go RoomMember): its signing key, the signing keys
 * and names pinned per seat, the seats that ended, the current membership version and the
 * previous one (its chains until the current one is complete or 60 s passed). Every call is
 * serialised; a refused record changes nothing.
 */
export class RoomMember {
  /** create makes the member of seat in room id with a fresh signing key; km is roomMacKey; now (ms) is the clock. */
  static create(args) { return newMember(args, null); }

  get version() { return this.cur ? this.cur.v : 0; }
  get members() { return this.cur ? this.cur.members.slice() : []; }
  get complete() { return !!(this.cur && this.cur.done); }

  run(fn) {
    const p = this.chain.then(() => { this.expireNow(); return fn(); });
    this.chain = p.catch(() => {});
    return p;
  }

  aad(...parts) { return concat(TRANSCRIPT, Uint8Array.of(VERSION), this.id, ...parts); }

  signed(label, ...parts) { return concat(label, this.id, ...parts); }

  async sign(body, msg) {
    const sig = this.fixed && this.fixed.signature(body); // vectors only: Go's RFC 6979 signature
    return sig || ecdsaSign(this.signKey, msg);
  }

  helloMac(headerAndSig) { return hmac(this.km, HELLO_LABEL, this.id, headerAndSig); }

  /** expire erases what the clock says must go; the page calls it when deadline comes. */
  expire() { return this.run(() => {}); }

  expireNow() {
    if (!this.cur || this.now() < this.cur.taken + ERASE_AFTER_MS) return;
    this.cur.priv = null;
    if (this.prev && !this.prev.closed) closeVersion(this.prev);
  }

  /** deadline: when expire next has something to erase (ms), or 0. */
  get deadline() {
    if (!this.cur || (!this.cur.priv && (!this.prev || this.prev.closed))) return 0;
    return this.cur.taken + ERASE_AFTER_MS;
  }

  /** names: [{seat, name, duplicate}] of every seat that sent one, ended seats included. */
  get names() {
    const count = new Map();
    for (const n of this.seatNames.values()) count.set(roomNameKey(n), (count.get(roomNameKey(n)) || 0) + 1);
    return [...this.seatNames.entries()].sort((a, b) => a[0] - b[0])
      .map(([seat, name]) => ({ seat, name, duplicate: count.get(roomNameKey(name)) > 1 }));
  }

  /**
   * seats takes {"t":"seats","v":v,"in":in,"out":out}: {hello, left, removed} (hello null when
   * alone). format, epoch (not above every list seen; this member in out: v remembered), view (a
   * seat that ended listed again).
   */
  seats(v, inSeats, out = []) { return this.run(() => this.seatsNow(v, inSeats, out)); }

  async seatsNow(v, inSeats, out) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff || !checkSeatList(inSeats, false) || !checkSeatList(out, true) ||
        inSeats.length + out.length > MAX_SEATS || out.some((s) => inSeats.includes(s))) fail('format', 'bad member list');
    if (!inSeats.includes(this.seat) && !out.includes(this.seat)) fail('format', 'a member list without this member');
    if (v <= this.floor) fail('epoch', 'a member list of an earlier version');
    // A verified bye ends the seat as a list leaving it out would.
    for (const s of [...inSeats, ...out]) if (this.ended.has(s) || this.byes.has(s)) fail('view', `seat ${s} ended and is listed again`);
    if (out.includes(this.seat)) {
      this.floor = v;
      fail('epoch', 'this member is left out of this version');
    }
    const nv = {
      v, members: inSeats.slice(), hellos: new Map(), keys: new Map(), pubs: new Map(), recv: new Map(),
      priv: null, th: null, done: false, closed: false, taken: this.now(),
    };
    let hello = null;
    if (inSeats.length > 1) {
      let pub;
      const e = this.fixed && this.fixed.ephemeral[v];
      if (e) {
        nv.priv = await importP256Private(e.priv, e.pub);
        pub = e.pub;
      } else {
        const kp = await subtle.generateKey(P256, false, ['deriveBits']);
        nv.priv = kp.privateKey;
        pub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
      }
      const header = concat(Uint8Array.of(REC_HELLO), u32(v), Uint8Array.of(this.seat), pub, this.signPub);
      const sig = await this.sign(header, this.signed(HELLO_LABEL, header));
      const hs = concat(header, sig);
      hello = concat(hs, await this.helloMac(hs));
      nv.hellos.set(this.seat, hello);
    } else {
      nv.done = true;
    }
    // Accepted: from here on the state changes.
    const all = [...inSeats, ...out];
    const left = [];
    const removed = [];
    for (const s of this.listed) {
      if (!all.includes(s)) {
        this.ended.add(s);
        (this.byes.has(s) ? left : removed).push(s);
      }
    }
    this.listed = all;
    closeVersion(this.prev);
    this.prev = null;
    if (this.send) { // this member's own chain of the version before goes at its hello
      this.sentPrev = { v: this.cur.v, next: this.send.next };
      wipe(this.send);
      this.send = null;
    }
    if (this.cur) {
      this.cur.priv = null;
      this.prev = this.cur;
      if (nv.done) closeVersion(this.prev);
    }
    if (!this.first) this.first = v;
    this.floor = v;
    this.cur = nv;
    return { hello: hello && hello.slice(), left, removed };
  }

  /**
   * open checks one record the relay delivered with stamp (the seat it says sent it):
   * {type, seat, version, ignored, gap, missing, message, inner, body, renamed, send, complete}.
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
    return { v, s, ignore: this.first > 0 && v < this.first };
  }

  // once: a record a seat sends once per version (hello, keys): epoch, ghost, replay (a
  // byte-identical copy is ignored), epoch (this member's ephemeral key erased).
  once(v, s, rec, taken) {
    const cur = this.cur;
    if (!cur || v !== cur.v) fail('epoch', 'a record of another membership version');
    if (!cur.members.includes(s)) fail('ghost', 'a record from a seat that is not a member');
    const old = taken(cur);
    if (old) {
      if (equal(old, rec)) return null;
      fail('replay', 'a second, different record of its kind');
    }
    if (!cur.priv) fail('epoch', 'this member\'s ephemeral key of this version is erased');
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
    const { v, s, ignore } = this.sender(stamp, rec);
    if (ignore) return accepted(REC_HELLO, s, v, { ignored: true });
    const cur = this.once(v, s, rec, (c) => c.hellos.get(s));
    if (!cur) return accepted(REC_HELLO, s, v, { ignored: true });
    if (!equal(await this.helloMac(rec.subarray(0, HELLO_HEADER + SIG)), rec.subarray(HELLO_HEADER + SIG))) {
      fail('handshake', 'a hello not made with this room\'s key');
    }
    const pinned = this.sigma.get(s);
    if (pinned && !equal(pinned, sigma)) fail('handshake', `seat ${s}'s signing key changed`);
    const vk = await importEcdsaPublic(sigma);
    if (!await ecdsaVerify(vk, this.signed(HELLO_LABEL, rec.subarray(0, HELLO_HEADER)), rec.subarray(HELLO_HEADER, HELLO_HEADER + SIG))) {
      fail('handshake', 'a hello with a bad signature');
    }
    const out = accepted(REC_HELLO, s, v);
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

  // keysEntryAAD: "sealdrop/v1 room" ‖ 0x01 ‖ room id ‖ V ‖ s ‖ t ‖ th_V.
  keysEntryAAD(v, s, t, th) { return this.aad(u32(v), Uint8Array.of(s, t), th); }

  // keysRecord draws this member's chain key of cur and seals it to every other seat of members.
  async keysRecord(cur, members, th, pubs) {
    const fixedChain = this.fixed && this.fixed.chain[cur.v];
    const ck = fixedChain ? fixedChain.slice() : globalThis.crypto.getRandomValues(new Uint8Array(32));
    const others = members.filter((t) => t !== this.seat);
    const header = concat(Uint8Array.of(REC_KEYS), u32(cur.v), Uint8Array.of(this.seat), u32(this.sentPrev.v), u64(this.sentPrev.next),
      await chainCommit(ck), Uint8Array.of(others.length));
    const parts = [header];
    for (const t of others) {
      const k = await this.pairKey(cur.priv, pubs.get(t), th, this.seat, t);
      parts.push(Uint8Array.of(t), await gcmSeal(k, ck, this.keysEntryAAD(cur.v, this.seat, t, th)));
      k.fill(0);
    }
    const body = concat(...parts);
    const sig = await this.sign(body, this.signed(KEYS_LABEL, th, body));
    return { rec: concat(body, sig), chain: { ck, next: 0 } };
  }

  async openKeys(stamp, rec) {
    if (rec.length < KEYS_HEADER + SIG || !validSeat(rec[5])) fail('format', 'bad keys record');
    const count = rec[KEYS_HEADER - 1];
    if (count >= MAX_SEATS || rec.length !== KEYS_HEADER + count * KEYS_ENTRY + SIG) fail('format', 'bad keys record');
    // The previous version is before V, a count above MAX_SEQ was never sealed, and no count
    // comes without a version.
    const prevV = readU32(rec, 6);
    const sent = readSeq(rec, 10);
    if (prevV >= readU32(rec, 1) || sent > MAX_SEQ || (prevV === 0 && sent !== 0)) fail('format', 'bad previous version or count');
    const entries = [];
    for (let i = 0; i < count; i++) {
      const t = rec[KEYS_HEADER + i * KEYS_ENTRY];
      if (!validSeat(t)) fail('format', 'bad keys record');
      entries.push(t);
    }
    const { v, s, ignore } = this.sender(stamp, rec);
    if (ignore) return accepted(REC_KEYS, s, v, { ignored: true });
    const cur = this.once(v, s, rec, (c) => c.keys.get(s));
    if (!cur) return accepted(REC_KEYS, s, v, { ignored: true });
    if (!cur.th) fail('order', 'keys before every hello of their version');
    const others = cur.members.filter((t) => t !== s);
    if (entries.length !== others.length || entries.some((t, i) => t !== others[i])) fail('view', 'the keys name other members');
    const body = rec.subarray(0, rec.length - SIG);
    if (!await ecdsaVerify(this.sigmaKeys.get(s), this.signed(KEYS_LABEL, cur.th, body), rec.subarray(body.length))) {
      fail('view', 'keys signed under another view of the room');
    }
    const at = KEYS_HEADER + entries.indexOf(this.seat) * KEYS_ENTRY + 1;
    const k = await this.pairKey(cur.priv, cur.pubs.get(s), cur.th, s, this.seat);
    let ck;
    try {
      ck = await gcmOpen(k, rec.subarray(at, at + 48), this.keysEntryAAD(v, s, this.seat, cur.th));
    } catch {
      fail('view', 'keys that do not open under this view of the room');
    } finally {
      k.fill(0);
    }
    if (!equal(await chainCommit(ck), rec.subarray(18, 50))) {
      ck.fill(0);
      fail('auth', `seat ${s} sealed another chain key than it committed to`);
    }
    const out = accepted(REC_KEYS, s, v);
    // The previous count, against what this member accepted from s in the last version in which
    // it held s's receiving chain (Go openKeys): the same version, compared; a later one, every
    // record missing unless it came before this member's first version; an earlier one, view.
    const l = this.last.get(s) || { v: 0, next: 0 };
    if (prevV === l.v) {
      if (sent < l.next) {
        ck.fill(0);
        fail('view', `seat ${s} counts fewer records of its previous version than came`);
      }
      out.missing = sent - l.next;
    } else if (prevV < l.v) {
      ck.fill(0);
      fail('view', `seat ${s} counts an earlier version than the last whose keys came from it`);
    } else if (prevV >= this.first) {
      out.missing = sent;
    }
    cur.keys.set(s, rec.slice());
    cur.recv.set(s, { ck, next: 0 });
    this.last.set(s, { v, next: 0 });
    if (cur.recv.size === cur.members.length - 1) {
      cur.done = true;
      out.complete = true;
      cur.priv = null;
      cur.pubs = null;
      closeVersion(this.prev);
    }
    return out;
  }

  async openData(stamp, rec) {
    if (rec.length < DATA_HEADER + 16 + SIG || !validSeat(rec[5])) fail('format', 'bad record');
    const { v, s, ignore } = this.sender(stamp, rec);
    if (ignore) return accepted(REC_DATA, s, v, { ignored: true });
    let ver;
    if (this.cur && v === this.cur.v) ver = this.cur;
    else if (this.prev && v === this.prev.v && !this.prev.closed) {
      if (this.cur.hellos.has(s)) fail('epoch', `seat ${s} moved on to the next version`);
      ver = this.prev;
    } else fail('epoch', 'a message of a membership version this member holds no keys of');
    if (!ver.members.includes(s)) fail('ghost', 'a message from a seat that is not a member');
    const seq = readSeq(rec, 6);
    const ch = ver.recv.get(s);
    if (!ch) fail('order', 'a message before its sender\'s keys');
    if (seq < ch.next) fail('replay', 'a replayed message');
    if (seq - ch.next > MAX_GAP) fail('order', 'a message too far ahead');
    const body = rec.subarray(0, rec.length - SIG);
    if (!await ecdsaVerify(this.sigmaKeys.get(s), this.signed(DATA_LABEL, body), rec.subarray(body.length))) {
      fail('auth', 'a message with a bad signature');
    }
    let ck = ch.ck.slice();
    for (let i = ch.next; i < seq; i++) { // past a gap: no skipped key is kept
      const next = await step(ck, 2);
      ck.fill(0);
      ck = next;
    }
    const mk = await step(ck, 1);
    let pt;
    let m;
    try {
      pt = await gcmOpen(mk, body.subarray(DATA_HEADER), this.aad(rec.subarray(0, DATA_HEADER)));
    } catch {
      ck.fill(0);
      fail('auth', 'a message failed its integrity check');
    } finally {
      mk.fill(0);
    }
    try {
      m = decodeRoomMessage(pt);
      if (m.type === MSG_BYE && readSeq(m.body, 0) !== seq) fail('format', 'a bye whose count is not its seq');
    } catch (e) {
      ck.fill(0);
      throw e;
    }
    const out = accepted(REC_DATA, s, v, { gap: seq - ch.next, message: pt, inner: m.type, body: m.body });
    if (m.type === MSG_NAME) {
      const name = utf8Fatal.decode(m.body);
      if (!this.seatNames.has(s)) this.seatNames.set(s, name);
      else if (this.seatNames.get(s) !== name) out.renamed = true;
    } else if (m.type === MSG_BYE) {
      this.byes.add(s);
    }
    const next = await step(ck, 2);
    ck.fill(0);
    wipe(ch);
    ch.ck = next;
    ch.next = seq + 1;
    if (this.last.get(s).v === v) this.last.set(s, { v, next: seq + 1 });
    return out;
  }

  /** seal encrypts one inner message (encodeRoomMessage) as this member's next data record. */
  seal(inner) { return this.run(() => this.sealNow(inner)); }

  /** bye seals this member's signed bye (its count of records sealed in this version before it). */
  bye() { return this.run(() => this.sealNow(this.send ? encodeRoomMessage(MSG_BYE, u64(this.send.next)) : null)); }

  async sealNow(inner) {
    if (!this.send) fail('wait', 'the keys of this membership version are not out yet');
    if (this.send.next > MAX_SEQ) fail('format', 'sequence exhausted');
    const header = concat(Uint8Array.of(REC_DATA), u32(this.cur.v), Uint8Array.of(this.seat), u64(this.send.next));
    const mk = await step(this.send.ck, 1);
    const ct = await gcmSeal(mk, inner, this.aad(header));
    mk.fill(0);
    const body = concat(header, ct);
    const sig = await this.sign(body, this.signed(DATA_LABEL, body));
    const next = await step(this.send.ck, 2);
    this.send.ck.fill(0);
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

// newMember: now () => ms is the clock (Date.now; tests inject theirs). fixed = {sign: {priv, pub},
// ephemeral: {V: {priv, pub}}, chain: {V: bytes},
// signature(body)} pins the randomness and takes the signatures from the vectors
// (_createForVectors only): the same fixed values in two rooms would repeat keys.
async function newMember({ id, seat, km, now = Date.now }, fixed) {
  if (!(id instanceof Uint8Array) || id.length !== ID_SIZE) fail('format', 'room id must be 16 bytes');
  if (!validSeat(seat)) fail('format', 'bad seat');
  key32(km, 'Km');
  const m = new RoomMember();
  m.id = id.slice();
  m.seat = seat;
  m.km = km.slice();
  m.sigma = new Map();
  m.sigmaKeys = new Map();
  m.seatNames = new Map();
  m.byes = new Set();
  m.listed = [];
  m.ended = new Set();
  m.floor = 0;
  m.first = 0;
  m.cur = null;
  m.prev = null;
  m.send = null;
  m.sentPrev = { v: 0, next: 0 }; // the last version before cur with a sending chain, and its count
  m.last = new Map(); // seat → {v, next}: the last version whose receiving chain of it this member held, and its count
  m.now = now;
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
