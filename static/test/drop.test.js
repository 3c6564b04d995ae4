// Checks static/js/drop-protocol.js against the shared drop vectors written by the Go package
// (internal/protocol/testdata/drop-vectors.json), plus live round trips.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as D from '../js/drop-protocol.js';
import { vectors, hex, tohex, code } from './vector-helpers.js';

const V = vectors('drop-vectors.json');

const keysOf = (k) => D.dropKeysFromScalars({
  flags: k.flags, encD: hex(k.enc_priv_hex), authD: hex(k.auth_priv_hex), enc: hex(k.enc_pub_hex), auth: hex(k.auth_pub_hex),
});

test('keys, routes and fragments', async () => {
  for (const k of V.keys) {
    const keys = await keysOf(k);
    assert.equal(D.encodeDropFragment(keys), k.drop_fragment);
    assert.equal(D.encodeInboxFragment(keys), k.inbox_fragment);
    assert.equal(tohex(await D.dropRoute(k.flags, keys.auth)), k.route_hex);
    assert.equal(await D.routeId(keys), k.route);
    const pub = await D.parseDropFragment('#' + k.drop_fragment);
    assert.deepEqual([pub.flags, tohex(pub.enc), tohex(pub.auth)], [k.flags, k.enc_pub_hex, k.auth_pub_hex]);
    const back = await D.parseInboxFragment(k.inbox_fragment);
    assert.equal(tohex(back.encD), k.enc_priv_hex);
    assert.equal(tohex(back.authD), k.auth_priv_hex);
    await D.checkRoute(k.route, pub);
    assert.equal(await code(() => D.checkRoute(V.keys[1 - V.keys.indexOf(k)].route, pub)), 'link');
  }
  for (const r of V.routes) {
    assert.equal(b64(await D.dropRoute(r.flags, hex(r.auth_pub_hex))), r.route);
  }
});

function b64(b) { return Buffer.from(b).toString('base64url'); }

test('invalid drop and inbox fragments', async () => {
  for (const c of V.drop_invalid) assert.equal(await code(() => D.parseDropFragment(c.input)), 'link', c.why);
  for (const c of V.inbox_invalid) {
    if (c.go_only) continue; // WebCrypto cannot tell; the server's gone answer does
    assert.equal(await code(() => D.parseInboxFragment(c.input)), 'link', c.why);
  }
});

test('seal vectors: plaintext, ciphertext and opening', async () => {
  const keys = await Promise.all(V.keys.map(keysOf));
  for (const s of V.seals) {
    const drop = keys[s.key];
    const files = s.files.map((f) => ({ name: f.name, type: f.type, bytes: hex(f.data_hex) }));
    const reply = s.reply_key >= 0 ? keys[s.reply_key] : null;
    const { bytes } = D.buildSubmission(s.text, files, reply);
    assert.equal(tohex(bytes), s.plaintext_hex, s.name);
    const { key, submission } = await D._sealSubmissionForVectors({ drop, plaintext: bytes }, {
      ephD: hex(s.eph_priv_hex), ephPub: hex(s.eph_pub_hex), entryNonce: hex(s.entry_nonce_hex), prefix: hex(s.prefix_hex),
    });
    assert.equal(tohex(key), s.seal_key_hex, s.name);
    assert.equal(tohex(submission), s.submission_hex, s.name);
    const got = await D.openSubmission({ keys: drop, ciphertext: hex(s.submission_hex) });
    assert.equal(got.text, s.text);
    assert.deepEqual(got.files.map((f) => [f.name, f.type, tohex(f.bytes)]), s.files.map((f) => [f.name, f.type, f.data_hex]));
    if (reply) assert.equal(D.encodeDropFragment(got.replyBox), V.keys[s.reply_key].drop_fragment);
    else assert.equal(got.replyBox, null);
  }
  for (const c of V.seal_invalid) {
    assert.equal(await code(() => D.openSubmission({ keys: keys[c.key], ciphertext: hex(c.submission_hex) })), c.error, c.name);
  }
});

test('inbox MAC vectors', async () => {
  const keys = await Promise.all(V.keys.map(keysOf));
  for (const c of V.inbox) {
    const args = { challenge: hex(c.challenge_hex), serverKey: hex(c.server_pub_hex), action: c.action, id: hex(c.id_hex), arg: hex(c.arg_hex) };
    const k = keys[c.key];
    const route = await D.dropRoute(k.flags, k.auth);
    assert.equal(tohex(D._inboxMessageForVectors(route, args.challenge, args.serverKey, c.action, args.id, args.arg)), c.message_hex);
    assert.equal(tohex(await D.inboxMAC({ keys: k, ...args })), c.mac_hex);
    const other = await D.inboxMAC({ keys: keys[1 - c.key], ...args });
    assert.notEqual(tohex(other), c.mac_hex);
  }
  assert.equal(await code(() => D.inboxMAC({ keys: keys[0], challenge: new Uint8Array(31), serverKey: hex(V.inbox[0].server_pub_hex), action: 1 })), 'format');
  assert.equal(await code(() => D.inboxMAC({ keys: keys[0], challenge: new Uint8Array(32), serverKey: hex(V.inbox[0].server_pub_hex), action: 5 })), 'format');
  assert.equal(await code(() => D.inboxMAC({ keys: keys[0], challenge: new Uint8Array(32), serverKey: new Uint8Array(65), action: 1 })), 'format');
});

test('live round trip with a reply box', async () => {
  const drop = await D.newDropKeys(0);
  const reply = await D.newDropKeys(D.DROP_FLAG_REPLY);
  const pub = await D.parseDropFragment(D.encodeDropFragment(drop));
  const data = new Uint8Array(150000).map((_, i) => i % 253);
  const ct = await D.sealSubmission({ drop: pub, text: 'hi', files: [{ name: 'a.bin', type: 'x/y', bytes: data }], replyBox: reply });
  assert.equal(ct.length, D.sealedSubmissionLength(D.buildSubmission('hi', [{ name: 'a.bin', type: 'x/y', bytes: data }], reply).bytes.length));
  const inbox = await D.parseInboxFragment(D.encodeInboxFragment(drop));
  const got = await D.openSubmission({ keys: inbox, ciphertext: ct });
  assert.equal(got.text, 'hi');
  assert.deepEqual(got.files[0].bytes, data);
  assert.equal(D.encodeDropFragment(got.replyBox), D.encodeDropFragment(reply));
  assert.equal(await code(() => D.openSubmission({ keys: reply, ciphertext: ct })), 'auth');
  assert.equal(await code(() => D.sealSubmission({ drop: pub, text: 'x', replyBox: drop })), 'link');
  // A reply box file that starts with a byte-order mark is damage, as the Go inbox reads it
  // (a decoder that strips the mark would accept what Go refuses).
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(D.encodeDropFragment(reply))]);
  const bomCt = await D.sealSubmission({ drop: pub, text: 'hi', files: [{ name: D.REPLY_BOX_NAME, type: D.REPLY_BOX_TYPE, bytes: bom }] });
  assert.equal(await code(() => D.openSubmission({ keys: inbox, ciphertext: bomCt })), 'format');
  const link = await D.inboxLink('http://x.onion', drop);
  assert.match(link, /^http:\/\/x\.onion\/i\/[A-Za-z0-9_-]{22}#[A-Za-z0-9_-]{262}$/);
  D.wipeDropKeys(drop);
  assert.ok(drop.encD.every((b) => b === 0));
});

test('drop names (drop-name-vectors.json, checked by Go too)', async () => {
  const N = vectors('drop-name-vectors.json');
  const plain = await D.parseDropFragment(N.fragment);
  assert.equal(plain.name, '', 'a link without a name names nobody');
  for (const c of N.valid) {
    D.checkDropName(c.name);
    const d = await D.parseDropFragment('#' + c.fragment);
    assert.equal(d.name, c.name);
    assert.equal(await D.routeId(d), await D.routeId(plain), 'the name is not part of the route');
    assert.equal(D.encodeDropFragment(d), c.fragment, 'the fragment writes back as it was read');
  }
  for (const c of N.invalid_names) {
    assert.equal(await code(() => D.checkDropName(c.name)), 'name', c.why);
    if (c.name !== '') assert.equal(await code(() => D.encodeDropFragment({ ...plain, name: c.name })), 'name', c.why);
  }
  for (const c of N.invalid_fragments) assert.equal(await code(() => D.parseDropFragment(c.input)), 'link', c.why);
});
