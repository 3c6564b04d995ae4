// The shared browser base: bytes.js and webcrypto.js, which every protocol module and the
// privacy filter use. The protocols' own vectors check them in use; these pin the helpers'
// edges against published test vectors (RFC 5869, RFC 4231).
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as B from '../js/bytes.js';
import * as W from '../js/webcrypto.js';
import { hex, tohex } from './vector-helpers.js';

test('concat and concatAll join into a new array; joinChunks keeps a single chunk', () => {
  const a = Uint8Array.of(1, 2);
  const b = Uint8Array.of(3);
  const c = B.concat(a, b, B.EMPTY);
  assert.deepEqual([...c], [1, 2, 3]);
  assert.deepEqual([...B.concatAll([a, b])], [1, 2, 3]);
  const one = B.concat(a);
  assert.notEqual(one, a, 'concat copies even one part');
  assert.equal(B.joinChunks([a]), a, 'a single chunk is not copied');
  assert.deepEqual([...B.joinChunks([a, b])], [1, 2, 3]);
  assert.equal(B.joinChunks([]).length, 0);
});

test('equal compares lengths and every byte', () => {
  assert.ok(B.equal(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)));
  assert.ok(B.equal(B.EMPTY, new Uint8Array(0)));
  assert.ok(!B.equal(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)));
  assert.ok(!B.equal(Uint8Array.of(0, 2, 3), Uint8Array.of(1, 2, 3)));
  assert.ok(!B.equal(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0)));
});

test('utf8Decode drops a byte order mark unless asked to keep it, and is strict when fatal', () => {
  const bom = Uint8Array.of(0xef, 0xbb, 0xbf, 0x61);
  assert.equal(B.utf8Decode(bom), 'a');
  assert.equal(B.utf8Decode(bom, { keepBOM: true }), '\ufeffa');
  assert.equal(B.utf8Decode(Uint8Array.of(0xff, 0x61)), '\ufffda');
  assert.throws(() => B.utf8Decode(Uint8Array.of(0xff), { fatal: true }), TypeError);
  assert.equal(B.utf8Decode(Uint8Array.of(0x62), { fatal: true }), 'b', 'a fatal decoder is usable after an error');
  assert.equal(tohex(B.utf8Encode('é\ud800')), 'c3a9efbfbd');
});

test('base64url: strict, canonical, without padding', () => {
  for (const [h, s] of [['', ''], ['ff', '_w'], ['fbff', '-_8'], ['000102', 'AAEC']]) {
    assert.equal(B.b64uEncode(hex(h)), s);
    assert.equal(tohex(B.b64uDecode(s)), h);
  }
  for (const bad of ['A', '_x', 'AA==', 'A A', '+/', 'é', null]) {
    assert.throws(() => B.b64uDecode(bad), RangeError, JSON.stringify(bad));
  }
});

test('big-endian integers', () => {
  assert.equal(tohex(B.u32(0x01020304)), '01020304');
  assert.equal(B.readU32(Uint8Array.of(9, 1, 2, 3, 4), 1), 0x01020304);
  assert.equal(tohex(B.u64(2 ** 53 - 1)), '001fffffffffffff');
  const buf = new Uint8Array(10);
  B.putU64(buf.subarray(1), 1, 0x0102030405);
  assert.equal(tohex(buf), '00000000000102030405');
});

// RFC 5869, test case 3: an empty salt. SECURITY.md: "an absent salt is the empty string", so
// null and undefined must give the same key as an explicit empty salt.
test('hkdf: RFC 5869 case 3, and an absent salt is the empty salt', async () => {
  const ikm = hex('0b'.repeat(22));
  const okm = '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8';
  assert.equal(tohex(await W.hkdf(ikm, B.EMPTY, '', 42)), okm);
  assert.equal(tohex(await W.hkdf(ikm, null, '', 42)), okm);
  assert.equal(tohex(await W.hkdf(ikm, undefined, '', 42)), okm);
});

test('hmac: RFC 4231 case 2, over parts joined', async () => {
  const key = new TextEncoder().encode('Jefe');
  const want = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
  assert.equal(tohex(await W.hmac(key, new TextEncoder().encode('what do ya want for nothing?'))), want);
  assert.equal(tohex(await W.hmac(key, new TextEncoder().encode('what do ya '), new TextEncoder().encode('want for nothing?'))), want);
});

test('sha256 and randomBytes', async () => {
  assert.equal(tohex(await W.sha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const r = W.randomBytes(70000); // more than one getRandomValues call
  assert.equal(r.length, 70000);
  assert.ok(r.subarray(65536).some((b) => b !== 0), 'the bytes past the first call are filled');
});

test('P-256: a private scalar imported with its point agrees with the generated pair', async () => {
  const kp = await crypto.subtle.generateKey(W.P256, true, ['deriveBits']);
  const jwk = await crypto.subtle.exportKey('jwk', kp.privateKey);
  const pub = new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey));
  const other = await crypto.subtle.generateKey(W.P256, false, ['deriveBits']);
  const otherPub = new Uint8Array(await crypto.subtle.exportKey('raw', other.publicKey));
  const d = B.b64uDecode(jwk.d);
  const priv = await W.importP256Private(d, pub);
  const z1 = await W.ecdh(priv, await W.importP256Public(otherPub));
  const z2 = await W.ecdh(other.privateKey, await W.importP256Public(pub, false));
  assert.equal(z1.length, 32);
  assert.equal(tohex(z1), tohex(z2));
  await assert.rejects(W.importP256Public(new Uint8Array(65)));
});
