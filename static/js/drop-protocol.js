// sealdrop drop boxes and one-time replies, browser side (SECURITY.md, "Drops and replies",
// is the specification). The Go package internal/protocol (drop.go) implements the same
// protocol; both check internal/protocol/testdata/drop-vectors.json.
//
// Native WebCrypto only (ECDH P-256, HKDF, HMAC, AES-GCM, SHA-256), so it runs at Tor
// Browser's "Safer" level. Private keys are imported as non-extractable CryptoKeys; the raw
// scalars exist only to write the inbox link, which is the journalist's to keep.
//
// Errors are ProtocolErrors: "link" (a drop or inbox fragment that is malformed), "auth",
// "truncated", "format" (a submission that does not open).

import {
  ProtocolError, VERSION, KIND_SUBMISSION, b64uEncode, b64uDecode, buildPlaintext, buildPlaintextAsync, parsePlaintext,
  seal, _sealForVectors, open, sealedLength,
} from './protocol.js';
import { concat, utf8Encode, utf8Decode } from './bytes.js';
import { P256, sha256, hkdf, hmac, ecdh as ecdhBits, importP256Public, importP256Private } from './webcrypto.js';

export const DROP_FLAG_REPLY = 0x01;
// DROP_FLAG_SAFEST: the drop also takes submissions that its server seals for a browser without
// JavaScript (SECURITY.md, "Submissions at Safest"). Never on a reply box.
export const DROP_FLAG_SAFEST = 0x02;
const validFlags = (f) => (f & ~(DROP_FLAG_REPLY | DROP_FLAG_SAFEST)) === 0 && f !== (DROP_FLAG_REPLY | DROP_FLAG_SAFEST);
export const PUBLIC_SIZE = 65;
export const SCALAR_SIZE = 32;
export const ROUTE_SIZE = 16;
export const CHALLENGE_SIZE = 32;
export const DROP_FRAGMENT_LEN = 176;
export const INBOX_FRAGMENT_LEN = 262;
export const ACTION_LIST = 1;
export const ACTION_FETCH = 2;
export const ACTION_CONFIRM = 3;
export const ACTION_WIPE = 4;
export const REPLY_BOX_NAME = 'sealdrop-reply-box';
export const REPLY_BOX_TYPE = 'application/vnd.sealdrop.reply-box';

const LABEL_ROUTE = 'sealdrop/v1 drop route';
const LABEL_SEAL = 'sealdrop/v1 drop seal';
const LABEL_INBOX = 'sealdrop/v1 drop inbox';

const subtle = globalThis.crypto.subtle;

const fail = (code, message) => { throw new ProtocolError(code, message); };

async function importPublic(raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== PUBLIC_SIZE || raw[0] !== 0x04) fail('link', 'not an uncompressed P-256 key');
  try {
    return await importP256Public(raw);
  } catch {
    return fail('link', 'not a P-256 point');
  }
}

async function importPrivate(d, pub) {
  try {
    return await importP256Private(d, pub);
  } catch {
    return fail('link', 'not a P-256 private key');
  }
}

async function ecdh(priv, pubRaw) {
  return ecdhBits(priv, await importPublic(pubRaw));
}

// ---- routes and links ----

/** dropRoute is SHA-256("sealdrop/v1 drop route" ‖ version ‖ flags ‖ A)[0:16]. */
export async function dropRoute(flags, auth) {
  return (await sha256(concat(utf8Encode(LABEL_ROUTE), Uint8Array.of(VERSION, flags), auth))).slice(0, ROUTE_SIZE);
}

/** routeId is the route as it appears in /d/<route> and /i/<route>: 22 base64url characters. */
export async function routeId(drop) { return b64uEncode(await dropRoute(drop.flags, drop.auth)); }

function head(s, len) {
  if (typeof s !== 'string') fail('link', 'not a link');
  if (s.startsWith('#')) s = s.slice(1);
  if (s.length !== len) fail('link', 'this link is incomplete or not a drop link');
  let b;
  try {
    b = b64uDecode(s);
  } catch {
    fail('link', 'not base64url');
  }
  if (b[0] !== VERSION) fail('link', 'unknown version');
  if (!validFlags(b[1])) fail('link', 'unknown flags');
  return b;
}

// ---- the name of who receives a drop ----

/** DROP_NAME_MAX is the most characters (code points) a drop's name may have. */
export const DROP_NAME_MAX = 80;
const NAME_ENC_MAX = Math.floor((DROP_NAME_MAX * 4 * 8 + 5) / 6); // the longest base64url of a name
const MARKS_MAX = 4; // combining marks on one character
const NAME_SEP = '.'; // between the keys and the name in a drop fragment; base64url never uses it
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\u034f\u115f\u1160\u2800\u3164\ufe00-\ufe0f\uffa0\u{e0100}-\u{e01ef}]/u;
const ASSIGNED = /[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u;
const LETTER_OR_MARK = /[\p{L}\p{M}]/u;
const SYMBOL = /\p{So}/u;
const MARK = /\p{M}/u;
const SPACE_OR_HIDDEN = /[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

// joinerOK: a zero-width non-joiner or joiner is spelling after a letter or mark of a script
// beyond Latin, or after a symbol (emoji), and before a character that is not a space or a
// hidden one (the Go joinerOK).
function joinerOK(prev, next) {
  const after = (prev !== undefined && prev.codePointAt(0) > 0x24f && LETTER_OR_MARK.test(prev)) || (prev !== undefined && SYMBOL.test(prev));
  return after && next !== undefined && !SPACE_OR_HIDDEN.test(next);
}

/**
 * checkDropName refuses what the Go CheckDropName refuses: an empty name, more than
 * DROP_NAME_MAX characters, a space at either end, anything that hides or reorders text
 * (controls, format characters such as bidirectional overrides and zero-width spaces, line and
 * paragraph separators, private-use and unassigned code points, blank fillers, variation
 * selectors except U+FE0F after a symbol), joiners where no script needs them, and more than
 * MARKS_MAX combining marks on one character.
 */
export const checkDropName = (name) => checkName(name, DROP_NAME_MAX);

/** checkName is checkDropName's rules with at most max characters (a room member's name: 40). */
export function checkName(name, max) {
  if (typeof name !== 'string' || name === '') fail('name', 'the name is empty');
  if (/[\uD800-\uDFFF]/u.test(name)) fail('name', 'the name is not text'); // a lone surrogate
  const cs = [...name];
  if (cs.length > max) fail('name', `the name has more than ${max} characters`);
  if (name.trim() !== name) fail('name', 'the name starts or ends with a space');
  let marks = 0;
  cs.forEach((c, i) => {
    const prev = cs[i - 1];
    const next = cs[i + 1];
    if (c === '\u200c' || c === '\u200d') {
      if (!joinerOK(prev, next)) fail('name', 'the name has a joiner where no script needs one');
    } else if (c === '\ufe0f' && prev !== undefined && SYMBOL.test(prev)) {
      // an emoji's presentation selector
    } else if (FORBIDDEN.test(c) || !ASSIGNED.test(c)) {
      fail('name', 'the name has a hidden or unassigned character');
    }
    marks = MARK.test(c) ? marks + 1 : 0;
    if (marks > MARKS_MAX) fail('name', 'the name stacks too many marks on one character');
  });
}

/**
 * encodeDropFragment writes base64url(version ‖ flags ‖ E ‖ A), then, when the drop has a
 * name, "." and base64url of the name's UTF-8 (the server never sees a fragment).
 */
export function encodeDropFragment({ flags, enc, auth, name }) {
  const keys = b64uEncode(concat(Uint8Array.of(VERSION, flags), enc, auth));
  if (!name) return keys;
  checkDropName(name);
  return keys + NAME_SEP + b64uEncode(utf8Encode(name));
}

function parseName(s) {
  let name;
  try {
    name = utf8Decode(b64uDecode(s), { fatal: true, keepBOM: true });
  } catch {
    fail('link', 'the name in this link is damaged');
  }
  try {
    checkDropName(name);
  } catch {
    fail('link', 'the name in this link has hidden or too many characters');
  }
  return name;
}

/**
 * parseDropFragment reads a drop link's fragment: {flags, enc, auth, name}; both keys are
 * checked to be P-256 points; name is '' when the link names nobody (a reply box never does).
 */
export async function parseDropFragment(s) {
  if (typeof s !== 'string') fail('link', 'not a link');
  if (s.startsWith('#')) s = s.slice(1);
  if (s.startsWith('#')) fail('link', 'this link is incomplete or not a drop link');
  const cut = s.indexOf(NAME_SEP);
  const b = head(cut < 0 ? s : s.slice(0, cut), DROP_FRAGMENT_LEN);
  const d = { flags: b[1], enc: b.slice(2, 67), auth: b.slice(67, 132), name: '' };
  if (cut >= 0) {
    if (d.flags & DROP_FLAG_REPLY) fail('link', 'a reply box has no name');
    if (s.length - cut - 1 > NAME_ENC_MAX) fail('link', 'the name in this link is too long');
    d.name = parseName(s.slice(cut + 1));
  }
  await importPublic(d.enc);
  await importPublic(d.auth);
  return d;
}

/** encodeInboxFragment writes base64url(version ‖ flags ‖ e ‖ a ‖ E ‖ A). It is the inbox link's secret. */
export function encodeInboxFragment(keys) {
  const b = concat(Uint8Array.of(VERSION, keys.flags), keys.encD, keys.authD, keys.enc, keys.auth);
  const s = b64uEncode(b);
  b.fill(0);
  return s;
}

/**
 * dropKeysFromScalars imports the private scalars with their public keys (WebCrypto cannot
 * compute a public point from a scalar). WebCrypto does not check that the two belong
 * together; if they do not, the server answers the inbox's proofs with gone.
 */
export async function dropKeysFromScalars({ flags, encD, authD, enc, auth }) {
  if (!validFlags(flags)) fail('link', 'unknown flags');
  await importPublic(enc);
  await importPublic(auth);
  return {
    flags, enc, auth, encD, authD,
    encPriv: await importPrivate(encD, enc),
    authPriv: await importPrivate(authD, auth),
  };
}

/** parseInboxFragment reads an inbox link's fragment into keys usable by openSubmission and inboxMAC. */
export async function parseInboxFragment(s) {
  const b = head(s, INBOX_FRAGMENT_LEN);
  return dropKeysFromScalars({
    flags: b[1], encD: b.slice(2, 34), authD: b.slice(34, 66), enc: b.slice(66, 131), auth: b.slice(131, 196),
  });
}

async function generatePair() {
  const kp = await subtle.generateKey(P256, true, ['deriveBits']);
  const jwk = await subtle.exportKey('jwk', kp.privateKey);
  const pub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
  return { d: b64uDecode(jwk.d), pub };
}

/** newDropKeys makes a drop (flags 0) or a reply box (DROP_FLAG_REPLY): two fresh P-256 key pairs. */
export async function newDropKeys(flags = 0) {
  const e = await generatePair();
  const a = await generatePair();
  return dropKeysFromScalars({ flags, encD: e.d, authD: a.d, enc: e.pub, auth: a.pub });
}

/** wipeDropKeys zeroes the raw scalars (the CryptoKeys cannot be zeroed; drop them). */
export function wipeDropKeys(keys) {
  keys.encD.fill(0);
  keys.authD.fill(0);
  keys.encPriv = null;
  keys.authPriv = null;
}

/** dropLink is origin + "/d/<route>#<drop fragment>". */
export async function dropLink(origin, drop) {
  // A drop that takes messages at Safest carries its keys (never its name) in the query too,
  // where the server reads them (SECURITY.md, "Messages at Safest").
  const query = drop.flags & DROP_FLAG_SAFEST ? `?s=${encodeDropFragment({ ...drop, name: '' })}` : '';
  return `${origin}/d/${await routeId(drop)}${query}#${encodeDropFragment(drop)}`;
}

/**
 * replyLink is origin + "/r/<route>#<inbox fragment>" for a reply box: the source's secret,
 * opened on the reply page, which reads the one reply and has none of an inbox's tools.
 */
export async function replyLink(origin, keys) {
  if (!(keys.flags & DROP_FLAG_REPLY)) fail('link', 'a reply link is for a reply box');
  return `${origin}/r/${await routeId(keys)}#${encodeInboxFragment(keys)}`;
}

/** inboxLink is origin + "/i/<route>#<inbox fragment>": a secret. */
export async function inboxLink(origin, keys) {
  return `${origin}/i/${await routeId(keys)}#${encodeInboxFragment(keys)}`;
}

/**
 * checkRoute confirms that the route of a page's path is the one the fragment's keys give, so
 * a server (or a mistyped link) cannot pair a route with other keys.
 */
export async function checkRoute(route, drop) {
  if (route !== await routeId(drop)) fail('link', 'the link does not match its keys');
}

// ---- submissions ----

async function sealKey(z, drop, ephPub) {
  return hkdf(z, concat(Uint8Array.of(VERSION, drop.flags), ephPub, drop.enc, drop.auth), LABEL_SEAL, 32);
}

/**
 * buildSubmission lays out a submission plaintext: a note plaintext whose first file, when
 * replyBox (a {flags, enc, auth} with the reply flag) is given, carries the reply box's drop
 * fragment.
 */
function submissionFiles(files, replyBox) {
  files = files || [];
  if (replyBox) {
    if (!(replyBox.flags & DROP_FLAG_REPLY)) fail('link', 'a reply box needs the reply flag');
    files = [{ name: REPLY_BOX_NAME, type: REPLY_BOX_TYPE, bytes: utf8Encode(encodeDropFragment(replyBox)) }, ...files];
  }
  return files;
}

export function buildSubmission(text, files, replyBox) {
  return buildPlaintext(text || '', submissionFiles(files, replyBox));
}

/** buildSubmissionAsync is buildSubmission for files whose bytes may be Blobs (cleaned files). */
export async function buildSubmissionAsync(text, files, replyBox) {
  return buildPlaintextAsync(text || '', submissionFiles(files, replyBox));
}

/** sealedSubmissionLength is the ciphertext length of a padded plaintext. */
export const sealedSubmissionLength = (paddedLen) => PUBLIC_SIZE + sealedLength(paddedLen);

/** sealSubmission seals text and files ([{name, type, bytes}]) to a drop: ephemeral key ‖ envelope. */
export async function sealSubmission({ drop, text, files, replyBox, onProgress }) {
  const { bytes } = await buildSubmissionAsync(text, files, replyBox);
  try {
    const kp = await subtle.generateKey(P256, false, ['deriveBits']);
    const ephPub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
    const z = await ecdh(kp.privateKey, drop.enc);
    const key = await sealKey(z, drop, ephPub);
    z.fill(0);
    try {
      return concat(ephPub, await seal({ key, kind: KIND_SUBMISSION, plaintext: bytes, onProgress }));
    } finally {
      key.fill(0);
    }
  } finally {
    bytes.fill(0);
  }
}

/** _sealSubmissionForVectors fixes the ephemeral key, entry nonce and prefix: test vectors ONLY. */
export async function _sealSubmissionForVectors({ drop, plaintext }, { ephD, ephPub, entryNonce, prefix }) {
  const z = await ecdh(await importPrivate(ephD, ephPub), drop.enc);
  const key = await sealKey(z, drop, ephPub);
  return { key, submission: concat(ephPub, await _sealForVectors({ key, kind: KIND_SUBMISSION, plaintext }, { entryNonce, prefix })) };
}

/**
 * openSubmission decrypts a submission with the drop's keys: {text, files: [{name, type,
 * bytes}], replyBox: {flags, enc, auth} or null}. The reply box is not among the files.
 */
export async function openSubmission({ keys, ciphertext, onProgress }) {
  const ct = ciphertext;
  if (!(ct instanceof Uint8Array) || ct.length < PUBLIC_SIZE) fail('truncated', 'the data is incomplete');
  const ephPub = ct.subarray(0, PUBLIC_SIZE);
  let z;
  try {
    z = await ecdh(keys.encPriv, ephPub);
  } catch (e) {
    if (e instanceof ProtocolError) fail('format', 'bad ephemeral key');
    throw e;
  }
  const key = await sealKey(z, keys, ephPub);
  z.fill(0);
  let pt;
  try {
    pt = await open({ key, kind: KIND_SUBMISSION, ciphertext: ct.subarray(PUBLIC_SIZE), onProgress });
    const note = parsePlaintext(pt);
    let replyBox = null;
    if (note.files.length > 0 && note.files[0].type === REPLY_BOX_TYPE) {
      const f = note.files.shift();
      try {
        replyBox = await parseDropFragment(utf8Decode(f.bytes, { fatal: true, keepBOM: true })); // as Go reads it: a BOM is damage
      } catch {
        fail('format', 'the reply box is malformed');
      }
      if (!(replyBox.flags & DROP_FLAG_REPLY)) fail('format', 'the reply box lacks the reply flag');
    }
    return { text: note.text, files: note.files, replyBox };
  } finally {
    key.fill(0);
    if (pt) pt.fill(0);
  }
}

// ---- inbox proofs ----

function inboxMessage(route, challenge, serverKey, action, id, arg) {
  return concat(utf8Encode(LABEL_INBOX), Uint8Array.of(VERSION), route, challenge, serverKey, Uint8Array.of(action), id, arg);
}

/**
 * inboxMAC proves the inbox-auth key for one action on one server challenge:
 * HMAC-SHA-256(HKDF(ECDH(a, server key), challenge, "sealdrop/v1 drop inbox"), message).
 * id is the 16-byte submission id (zeros for list and wipe), arg the 32-byte claim hash
 * (fetch, confirm) or zeros.
 */
export async function inboxMAC({ keys, challenge, serverKey, action, id, arg }) {
  id = id || new Uint8Array(16);
  arg = arg || new Uint8Array(32);
  if (challenge.length !== CHALLENGE_SIZE || id.length !== 16 || arg.length !== 32) fail('format', 'bad inbox proof input');
  if (action < ACTION_LIST || action > ACTION_WIPE) fail('format', 'bad action');
  let z;
  try {
    z = await ecdh(keys.authPriv, serverKey);
  } catch (e) {
    if (e instanceof ProtocolError) fail('format', 'bad server key');
    throw e;
  }
  const km = await hkdf(z, challenge, LABEL_INBOX, 32);
  z.fill(0);
  try {
    const route = await dropRoute(keys.flags, keys.auth);
    return await hmac(km, inboxMessage(route, challenge, serverKey, action, id, arg));
  } finally {
    km.fill(0);
  }
}

export { inboxMessage as _inboxMessageForVectors };


