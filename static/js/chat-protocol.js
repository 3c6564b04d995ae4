// sealdrop one-time chat, browser side (SECURITY.md, "One-time chat", is the specification).
//
// Native WebCrypto only (ECDH P-256, HKDF, HMAC, AES-GCM, SHA-256). The Go package
// internal/protocol (chat.go) implements the same records; both check
// internal/protocol/testdata/chat-vectors.json.
//
// Traffic keys are non-extractable CryptoKeys and the counters plain numbers, held only by a
// ChatSession object: nothing here writes them anywhere (no storage, no network).
//
// Errors are ProtocolErrors with a code: "replay", "order", "reflect", "epoch", "handshake",
// "auth", "format".

import { ProtocolError, VERSION, padme } from './protocol.js';
import { EMPTY, concat, equal, utf8Encode, u32, readU32, u64 } from './bytes.js';
import {
  P256, hkdf, hmac, sha256, aesGcmKey, ecdh, importP256Public, importP256Private, randomBytes,
} from './webcrypto.js';

export const ROLE_CREATOR = 1;
export const ROLE_JOINER = 2;
export const REC_HELLO = 1;
export const REC_CONFIRM = 2;
export const REC_DATA = 3;
export const HELLO_SIZE = 103;
export const CONFIRM_SIZE = 38;
export const DATA_HEADER = 14;
export const ID_SIZE = 16;
export const MSG_TEXT = 1;
export const MSG_FILE_BEGIN = 2;
export const MSG_FILE_CHUNK = 3;
export const MSG_BYE = 4;
export const FILE_CHUNK = 65536;
export const MIN_PADDED = 256;
export const MAX_MESSAGE = FILE_CHUNK + 4;
export const MAX_SEQ = 2 ** 53 - 1; // JS numbers; far below the 2^56 the nonce allows

const subtle = globalThis.crypto.subtle;
const TRANSCRIPT = utf8Encode('sealdrop/v1 chat');

const fail = (code, message) => { throw new ProtocolError(code, message || `chat: ${code}`); };

function readU64(b, at) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hi = v.getUint32(at, false);
  if (hi >= 2 ** 21) return Infinity; // beyond what a JS number counts exactly: never expected
  return hi * 2 ** 32 + v.getUint32(at + 4, false);
}

const validRole = (r) => r === ROLE_CREATOR || r === ROLE_JOINER;

/** chatMacKey is Km = HKDF(K, P or "", "sealdrop/v1 chat mac", 32). */
export async function chatMacKey(K, P) {
  if (!(K instanceof Uint8Array) || K.length !== 32) fail('format', 'K must be 32 bytes');
  return hkdf(K, P || EMPTY, 'sealdrop/v1 chat mac', 32);
}

/** recordType is a record's first byte (0 for an empty record). */
export const recordType = (rec) => (rec.length ? rec[0] : 0);

/** helloEpoch is the epoch a hello record proposes. */
export function helloEpoch(rec) {
  if (rec.length !== HELLO_SIZE || rec[0] !== REC_HELLO) fail('format', 'not a hello');
  return readU32(rec, 2);
}

/** safetyCode: six groups of four digits from the resume secret. */
export async function safetyCode(resume) {
  return safetyDigits(await hkdf(resume, EMPTY, 'sealdrop/v1 chat safety', 12));
}

/** safetyDigits writes 12 bytes as six groups of four digits (the chat's and the room's codes). */
export function safetyDigits(b) {
  const groups = [];
  for (let i = 0; i < 12; i += 2) groups.push(String(((b[i] << 8) | b[i + 1]) % 10000).padStart(4, '0'));
  return groups.join(' ');
}

export class ChatHandshake {
  /**
   * create starts a handshake with a fresh ephemeral key and random.
   * @returns {Promise<{hs: ChatHandshake, hello: Uint8Array}>}
   */
  static create(args) { return newHandshake(args, null); }

  /** peer takes the peer's hello and returns this side's confirm record. */
  async peer(hello) {
    if (this.peerHello) fail('handshake', 'second hello');
    if (!(hello instanceof Uint8Array) || hello.length !== HELLO_SIZE || hello[0] !== REC_HELLO || !validRole(hello[1])) fail('format', 'bad hello');
    if (hello[1] === this.role) fail('reflect', 'reflected hello');
    const prop = readU32(hello, 2);
    if (prop === 0) fail('format', 'bad epoch');
    let pub;
    try {
      pub = await importP256Public(hello.subarray(6, 71), false);
    } catch {
      fail('format', 'bad public key');
    }
    const z = await ecdh(this.priv, pub);
    this.epoch = Math.max(this.proposal, prop);
    let ka = this.km;
    if (this.epoch > 1) {
      if (!this.resume) fail('handshake', 'resume secret missing');
      ka = await hkdf(this.km, this.resume, 'sealdrop/v1 chat resume auth', 32);
    }
    const [hc, hj] = this.role === ROLE_CREATOR ? [this.hello, hello] : [hello, this.hello];
    this.th = await sha256(concat(TRANSCRIPT, Uint8Array.of(VERSION), this.id, u32(this.epoch), hc, hj));
    this.ikm = concat(z, ka);
    z.fill(0);
    this.kc = await hkdf(this.ikm, this.th, 'sealdrop/v1 chat confirm', 32);
    this.peerHello = hello.slice();
    const tag = await confirmTag(this.kc, this.role, this.th);
    return concat(Uint8Array.of(REC_CONFIRM, this.role), u32(this.epoch), tag);
  }

  /** finish checks the peer's confirm and returns the session: no data before this. */
  async finish(confirm) {
    if (!this.peerHello) fail('handshake', 'confirm before hello');
    if (!(confirm instanceof Uint8Array) || confirm.length !== CONFIRM_SIZE || confirm[0] !== REC_CONFIRM || !validRole(confirm[1])) fail('format', 'bad confirm');
    if (confirm[1] === this.role) fail('reflect', 'reflected confirm');
    if (readU32(confirm, 2) !== this.epoch) fail('epoch', 'confirm of another epoch');
    const want = await confirmTag(this.kc, confirm[1], this.th);
    if (!equal(want, confirm.subarray(6))) fail('handshake', 'the other side could not prove the link key');
    const kC = await hkdf(this.ikm, this.th, 'sealdrop/v1 chat key creator', 32);
    const kJ = await hkdf(this.ikm, this.th, 'sealdrop/v1 chat key joiner', 32);
    const resume = this.epoch === 1 ? await hkdf(this.ikm, this.th, 'sealdrop/v1 chat resume', 32) : this.resume;
    const [sk, rk] = this.role === ROLE_CREATOR ? [kC, kJ] : [kJ, kC];
    const s = new ChatSession();
    s.id = this.id;
    s.role = this.role;
    s.epoch = this.epoch;
    s.resume = resume;
    s.sendKey = await aesGcmKey(sk, 'encrypt');
    s.recvKey = await aesGcmKey(rk, 'decrypt');
    s.sendSeq = 0;
    s.recvSeq = 0;
    s.chain = Promise.resolve();
    kC.fill(0); kJ.fill(0); this.ikm.fill(0); this.kc.fill(0);
    return s;
  }
}

// newHandshake: fixed = {priv, pub, random} pins the randomness, for the shared vectors only
// (_createForVectors): the same fixed values in two chats would repeat keys and nonces.
async function newHandshake({ id, role, km, resume = null, lastEpoch = 0 }, fixed) {
  if (!(id instanceof Uint8Array) || id.length !== ID_SIZE) fail('format', 'chat id must be 16 bytes');
  if (!validRole(role)) fail('format', 'bad role');
  if (!(km instanceof Uint8Array) || km.length !== 32) fail('format', 'Km must be 32 bytes');
  if (resume && resume.length !== 32) fail('format', 'resume secret must be 32 bytes');
  const hs = new ChatHandshake();
  hs.id = id;
  hs.role = role;
  hs.km = km;
  hs.resume = resume || null;
  hs.proposal = resume ? Math.max(lastEpoch + 1, 2) : 1;
  if (hs.proposal > 0xfffffffe) fail('format', 'epochs exhausted');
  let pub;
  let random;
  if (fixed) {
    hs.priv = await importP256Private(fixed.priv, fixed.pub);
    pub = fixed.pub;
    random = fixed.random;
  } else {
    const kp = await subtle.generateKey(P256, false, ['deriveBits']);
    hs.priv = kp.privateKey;
    pub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
    random = randomBytes(32);
  }
  hs.hello = concat(Uint8Array.of(REC_HELLO, role), u32(hs.proposal), pub, random);
  hs.peerHello = null;
  return { hs, hello: hs.hello.slice() };
}

/** _createForVectors is ChatHandshake.create with fixed randomness: test vectors only. */
export async function _createForVectors(args, fixed) {
  if (!fixed) fail('format', 'fixed randomness required');
  return newHandshake(args, fixed);
}

function confirmTag(kc, role, th) {
  return hmac(kc, utf8Encode(role === ROLE_CREATOR ? 'sealdrop/v1 chat creator' : 'sealdrop/v1 chat joiner'), th);
}

function nonce(epoch, dir, seq) {
  const n = new Uint8Array(12);
  n.set(u32(epoch), 0);
  n[4] = dir;
  n.set(u64(seq).subarray(1), 5);
  return n;
}

export class ChatSession {
  aad(header) { return concat(TRANSCRIPT, Uint8Array.of(VERSION), this.id, header); }

  safetyCode() { return safetyCode(this.resume); }

  /** seal encrypts one inner message (encodeMessage) as the next data record. */
  async seal(plaintext) {
    if (this.sendSeq > MAX_SEQ) fail('format', 'sequence exhausted');
    const seq = this.sendSeq++; // taken before any await: concurrent seals never share a nonce
    const header = concat(Uint8Array.of(REC_DATA), u32(this.epoch), Uint8Array.of(this.role), u64(seq));
    const ct = await subtle.encrypt(
      { name: 'AES-GCM', iv: nonce(this.epoch, this.role, seq), additionalData: this.aad(header) }, this.sendKey, plaintext,
    );
    return concat(header, new Uint8Array(ct));
  }

  /** open checks and decrypts the next record from the peer; calls are serialised. */
  open(rec) {
    const p = this.chain.then(() => this.openNow(rec));
    this.chain = p.catch(() => {});
    return p;
  }

  async openNow(rec) {
    if (!(rec instanceof Uint8Array) || rec.length < DATA_HEADER + 16 || rec[0] !== REC_DATA) fail('format', 'bad record');
    if (readU32(rec, 1) !== this.epoch) fail('epoch', 'a message from before the reconnect');
    const dir = rec[5];
    if (dir === this.role) fail('reflect', 'a reflected message');
    if (!validRole(dir)) fail('format', 'bad direction');
    const seq = readU64(rec, 6);
    if (seq < this.recvSeq) fail('replay', 'a replayed message');
    if (seq > this.recvSeq) fail('order', 'a message is missing or out of order');
    let pt;
    try {
      pt = await subtle.decrypt(
        { name: 'AES-GCM', iv: nonce(this.epoch, dir, seq), additionalData: this.aad(rec.subarray(0, DATA_HEADER)) },
        this.recvKey, rec.subarray(DATA_HEADER),
      );
    } catch {
      fail('auth', 'a message failed its integrity check');
    }
    this.recvSeq++;
    return new Uint8Array(pt);
  }
}

/** padded is the padded length of an inner message of n bytes: Padmé, at least 256. */
export const padded = (n) => Math.max(MIN_PADDED, padme(n));

/** encodeMessage is type ‖ uint32 len ‖ body ‖ zero padding. */
export const encodeMessage = (type, body = EMPTY) => encodeInner(type, body, MSG_BYE);

/** decodeMessage parses an inner message: {type, body}. */
export const decodeMessage = (p) => decodeInner(p, MSG_BYE);

/** encodeInner writes an inner message of a type from MSG_TEXT to maxType (a room adds names). */
export function encodeInner(type, body, maxType) {
  if (!(type >= MSG_TEXT && type <= maxType) || body.length > MAX_MESSAGE) fail('format', 'bad message');
  const out = new Uint8Array(padded(5 + body.length));
  out[0] = type;
  out.set(u32(body.length), 1);
  out.set(body, 5);
  return out;
}

/** decodeInner parses an inner message of a type from MSG_TEXT to maxType: {type, body}. */
export function decodeInner(p, maxType) {
  if (!(p instanceof Uint8Array) || p.length < 5) fail('format', 'bad message');
  const type = p[0];
  const n = readU32(p, 1);
  if (!(type >= MSG_TEXT && type <= maxType) || n > MAX_MESSAGE || n > p.length - 5 || p.length !== padded(5 + n)) fail('format', 'bad message');
  for (let i = 5 + n; i < p.length; i++) if (p[i] !== 0) fail('format', 'bad padding');
  return { type, body: p.subarray(5, 5 + n) };
}
