// Review tests for static/js/protocol.js. The tests that showed confirmed defects (once named
// "DEFECT: ...") pass since the fixes and stay as regression tests; the others are
// characterisation tests that pin behaviour the review checked.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../js/protocol.js';

const enc = new TextEncoder();

// plain lays out u32 len ‖ manifest ‖ tail, zero-padded to the canonical Padmé length.
function plain(manifestBytes, tail = []) {
  const b = new Uint8Array(P.padme(4 + manifestBytes.length + tail.length));
  new DataView(b.buffer).setUint32(0, manifestBytes.length, false);
  b.set(manifestBytes, 4);
  b.set(tail, 4 + manifestBytes.length);
  return b;
}

// Regression (review L2): TextDecoder strips a leading UTF-8 byte order mark by default, so a
// manifest that Go's reader refuses (TestManifestBOMRefused) was accepted here. The decoder
// now keeps it (ignoreBOM) and JSON.parse refuses U+FEFF; the case is in plaintext_invalid.
test('a byte order mark before the manifest is refused, as in Go', () => {
  const m = new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('{"v":1,"text":"bom","files":[]}')]);
  assert.throws(() => P.parsePlaintext(plain(m)), { code: 'format' });
});

// Regression (review L3): the PIN digit table used to be the runtime's Unicode version (Node
// 20: its ICU; Tor Browser: its own), while Go 1.26 has Unicode 15.0.0, so digits added in
// Unicode 16 were accepted here and refused by the Go client. Both now use the frozen Unicode
// 15.0 table published in the vectors (pin.digit_zeros), whatever the runtime knows.
test('PIN digits follow the frozen Unicode 15.0 table, as in Go', () => {
  for (const zero of [0x11bf0 /* Sunuwar */, 0x10d40 /* Garay */, 0x1ccf0 /* Outlined */, 0x16d70 /* Kirat Rai */]) {
    const pin = [1, 2, 3, 4, 5, 6].map((d) => String.fromCodePoint(zero + d)).join('');
    assert.throws(() => P.normalizePIN(pin), { code: 'pin' }, zero.toString(16));
  }
  assert.equal(P.normalizePIN('\u{1e4f1}\u{1e4f2}\u{1e4f3}\u{1e4f4}\u{1e4f5}\u{1e4f6}'), '123456', 'Nag Mundari, 15.0');
});

// Characterisation: JSON.parse reads 1.0 and 3e0 as integers, so these manifests are accepted
// here, and by Go since review L1 (TestManifestNumberFormsAgreeWithBrowser and the
// plaintext_accepted vectors).
test('manifest numbers written as 1.0 or 3e0 are accepted', () => {
  const ok = [
    ['{"v":1.0,"text":"","files":[]}', []],
    ['{"v":1e0,"text":"","files":[]}', []],
    ['{"v":1,"text":"","files":[{"name":"a","type":"b","size":3.0}]}', [1, 2, 3]],
    ['{"v":1,"text":"","files":[{"name":"a","type":"b","size":3e0}]}', [1, 2, 3]],
  ];
  for (const [m, tail] of ok) {
    const got = P.parsePlaintext(plain(enc.encode(m), tail));
    assert.equal(got.text, '');
  }
  // Beyond 2^53 - 1 both refuse: the parsed value is no longer a safe integer.
  const big = '{"v":1,"text":"","files":[{"name":"a","type":"b","size":9007199254740993}]}';
  assert.throws(() => P.parsePlaintext(plain(enc.encode(big))), { code: 'format' });
});

// Regression (review nit, fixed with L2): invalid UTF-8 and a lone surrogate escape used to be
// accepted but decoded differently from Go (Go: two U+FFFD for E2 82, and U+FFFD for
// \ud800), so one note showed different text in the two clients. Both refuse them now.
test('invalid UTF-8 and lone surrogates in the manifest are refused, as in Go', () => {
  const m = new Uint8Array([...enc.encode('{"v":1,"text":"'), 0xe2, 0x82, ...enc.encode('","files":[]}')]);
  assert.throws(() => P.parsePlaintext(plain(m)), { code: 'format' });
  for (const t of ['\\ud800', '\\udfff\\ud800', 'x\\ud800\\\\udc00']) {
    const bad = enc.encode(`{"v":1,"text":"${t}","files":[]}`);
    assert.throws(() => P.parsePlaintext(plain(bad)), { code: 'format' }, t);
  }
  const ok = enc.encode('{"v":1,"text":"\\ud83d\\ude00 \\\\ud800","files":[]}');
  assert.equal(P.parsePlaintext(plain(ok)).text, '\u{1f600} \\ud800', 'a pair, and an escaped backslash before u');
});

// padme against the SECURITY.md formula in BigInt, on safe integers.
function padmeRef(n) {
  let N = BigInt(n);
  if (N < 2n) return N;
  const e = BigInt(N.toString(2).length - 1);
  const s = BigInt(e.toString(2).length);
  const mask = (1n << (e - s)) - 1n;
  return (N + mask) & ~mask;
}

test('padme matches the spec formula exactly up to 2^53 - 1', () => {
  const cases = [];
  for (let e = 0; e <= 53; e++) for (const d of [-1, 0, 1]) cases.push(2 ** e + d);
  let x = 0x2545f491;
  for (let i = 0; i < 20000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0; // xorshift, deterministic
    cases.push(Math.floor((x / 2 ** 32) * Number.MAX_SAFE_INTEGER), x, x >>> 12);
  }
  for (const n of cases) {
    if (n < 0 || !Number.isSafeInteger(n)) continue;
    assert.equal(BigInt(P.padme(n)), padmeRef(n), `n=${n}`);
  }
  assert.throws(() => P.padme(2 ** 53), { code: 'length' });
  assert.throws(() => P.padme(1.5), { code: 'length' });
});

test('strict base64url: extra refusals', () => {
  for (const s of ['=', 'AAAA=', 'AAAA====', 'AA AA', 'AA\tA', '\u0000AAA', 'AA\u{1F600}', 'ＡＡ', 'A-_=', 'AAB']) {
    assert.throws(() => P.b64uDecode(s), { code: 'encoding' }, JSON.stringify(s));
  }
  assert.equal(P.b64uDecode('').length, 0);
  assert.equal(P.b64uEncode(P.b64uDecode('-_8')), '-_8');
});

test('PIN lookalikes are refused', () => {
  for (const s of ['12345\u0661\u0301', '1\u20e323456', '1\ufe0f23456', '123\u200d456', '123\u00a0456', '\ufeff123456',
    '+123456', '-123456', '①②③④⑤⑥', '〡〢〣〤〥〦', '一二三四五六', '12345\ud800']) {
    assert.throws(() => P.normalizePIN(s), { code: 'pin' }, JSON.stringify(s));
  }
});

// The same boundary cases as Go's TestReviewEnvelopeBoundaries, with the same error classes.
test('envelope: what follows the last chunk, and short last chunks', async () => {
  const key = P.randomBytes(32);
  const SC = P.CHUNK_SIZE + P.TAG_SIZE;
  const full = await P.seal({ key, kind: P.KIND_NOTE, plaintext: new Uint8Array(2 * P.CHUNK_SIZE) });
  const cat = (a, n) => { const b = new Uint8Array(a.length + n); b.set(a); return b; };
  for (let k = 1; k <= P.TAG_SIZE + 2; k++) {
    await assert.rejects(() => P.open({ key, kind: P.KIND_NOTE, ciphertext: cat(full, k) }), { code: 'format' }, `${k} after full last`);
  }
  const oneChunk = full.subarray(0, P.HEADER_SIZE + SC);
  for (let k = 0; k <= P.TAG_SIZE + 1; k++) {
    const want = k <= P.TAG_SIZE ? 'truncated' : 'auth';
    await assert.rejects(() => P.open({ key, kind: P.KIND_NOTE, ciphertext: cat(oneChunk, k) }), { code: want }, `k=${k}`);
  }
});

// The existing flip test accepts any exception (/./), even a TypeError; pin the class.
test('single-byte flips fail with the right error class', async () => {
  const key = P.randomBytes(32);
  const env = await P.seal({ key, kind: P.KIND_NOTE, plaintext: P.randomBytes(65536 + 40) });
  for (const at of [2, 17, 18, 24, 25, 1000, 65560, 65576, 65577, 65590, env.length - 1]) {
    const bad = env.slice();
    bad[at] ^= 0x80;
    await assert.rejects(() => P.open({ key, kind: P.KIND_NOTE, ciphertext: bad }), { code: 'auth' }, `flip at ${at}`);
  }
  for (const [at, v] of [[0, 2], [1, 2]]) {
    const bad = env.slice();
    bad[at] = v;
    await assert.rejects(() => P.open({ key, kind: P.KIND_NOTE, ciphertext: bad }), { code: 'format' }, `byte ${at}`);
  }
});
