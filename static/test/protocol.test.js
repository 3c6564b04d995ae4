// Checks static/js/protocol.js against the shared vectors written by the Go package
// (internal/protocol/testdata/vectors.json), plus round trips and tamper failures.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../js/protocol.js';
import { vectors, hex, tohex } from './vector-helpers.js';

const V = vectors('vectors.json');

const genPlaintext = (n) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
};
const envBytes = (i) => hex(V.envelopes[i].envelope_hex);
const assemble = (parts) =>
  Buffer.concat(parts.map((p) => (p.env === undefined ? hex(p.hex || '') : envBytes(p.env).subarray(p.from || 0, p.to))));

async function rejects(promiseFn, code, name) {
  await assert.rejects(promiseFn, (e) => {
    assert.equal(e.name, 'ProtocolError', `${name}: ${e}`);
    assert.equal(e.code, code, `${name}: ${e.message}`);
    return true;
  });
}

const stretchCache = new Map();
async function stretch(K, pin) {
  const key = tohex(K) + '/' + pin;
  if (!stretchCache.has(key)) stretchCache.set(key, await P.stretchPIN(K, pin));
  return stretchCache.get(key);
}

test('constants', () => {
  assert.equal(P.VERSION, 1);
  assert.equal(P.HEADER_SIZE, 25);
  assert.equal(P.CHUNK_SIZE, 65536);
  assert.equal(P.TAG_SIZE, 16);
  assert.equal(P.KIND_NOTE, 1);
  assert.equal(P.FLAG_PIN, 1);
  assert.equal(P.PBKDF2_ITERATIONS, 300000);
});

test('vectors: b64url', () => {
  assert.ok(V.b64url.valid.length > 0);
  for (const c of V.b64url.valid) {
    assert.equal(P.b64uEncode(hex(c.hex)), c.b64);
    assert.equal(tohex(P.b64uDecode(c.b64)), c.hex);
  }
  for (const s of V.b64url.invalid) {
    assert.throws(() => P.b64uDecode(s), { code: 'encoding' }, JSON.stringify(s));
  }
});

test('vectors: fragment', () => {
  for (const c of V.fragment.valid) {
    const f = { version: c.version, flags: c.flags, secret: hex(c.secret_hex) };
    assert.equal(P.encodeFragment(f), c.encoded);
    for (const s of [c.encoded, '#' + c.encoded]) {
      const got = P.parseFragment(s);
      assert.equal(got.version, c.version);
      assert.equal(got.flags, c.flags);
      assert.equal(tohex(got.secret), c.secret_hex);
    }
  }
  for (const c of V.fragment.invalid) {
    assert.throws(() => P.parseFragment(c.input), { code: 'fragment' }, c.why);
  }
  // A manage link accepts exactly the valid fragments without flags.
  assert.ok(V.fragment.manage_invalid.length > V.fragment.invalid.length);
  for (const c of V.fragment.valid) {
    if (c.flags === 0) assert.equal(tohex(P.parseManageFragment(c.encoded).secret), c.secret_hex);
    else assert.throws(() => P.parseManageFragment(c.encoded), { code: 'fragment' }, `flags ${c.flags}`);
  }
  for (const c of V.fragment.manage_invalid) {
    assert.throws(() => P.parseManageFragment(c.input), { code: 'fragment' }, c.why);
  }
});

test('vectors: PIN rules', () => {
  assert.deepEqual([...P.DIGIT_ZEROS], V.pin.digit_zeros, 'the frozen digit table is the published one');
  assert.ok(Object.isFrozen(P.DIGIT_ZEROS));
  for (const c of V.pin.valid) assert.equal(P.normalizePIN(c.input), c.normalized, c.input);
  for (const c of V.pin.invalid) {
    assert.throws(() => P.normalizePIN(c.input), (e) => e.code === 'pin' && e.message.length > 0, c.why);
  }
  for (const c of V.check_pins) {
    if (c.ok) assert.doesNotThrow(() => P.checkPINs(c.pin, c.dpin), `${c.pin} ${c.dpin}`);
    else assert.throws(() => P.checkPINs(c.pin, c.dpin), { code: 'pin' }, `${c.pin} ${c.dpin}`);
  }
});

test('vectors: keys', async () => {
  assert.ok(V.keys.length > 0);
  for (const c of V.keys) {
    const K = hex(c.k_hex);
    assert.equal(tohex(await P.pinSalt(K)), c.pin_salt_hex);
    assert.equal(tohex(await P.gateToken(K)), c.gate_hex);
    assert.equal(tohex(await P.sha256(hex(c.gate_hex))), c.gate_hash_hex);
    let p = null;
    if (c.pin) {
      p = await stretch(K, c.pin);
      assert.equal(tohex(p), c.p_hex);
      assert.equal(tohex(await P.openToken(K, p)), c.open_hex);
      assert.equal(tohex(await P.destructToken(K, p)), c.destruct_hex);
    }
    assert.equal(tohex(await P.payloadKey(K, p)), c.payload_hex);
  }
});

test('vectors: padme', () => {
  assert.ok(V.padme.length > 20);
  for (const c of V.padme) assert.equal(P.padme(c.n), c.padded, `n=${c.n}`);
});

test('vectors: envelopes', async () => {
  assert.equal(V.envelopes.length, 4);
  for (const c of V.envelopes) {
    const pt = genPlaintext(c.plaintext_len);
    const key = hex(c.key_hex);
    const env = await P._sealForVectors(
      { key, kind: c.kind, plaintext: pt },
      { entryNonce: hex(c.entry_nonce_hex), prefix: hex(c.prefix_hex) },
    );
    assert.equal(env.length, P.sealedLength(c.plaintext_len), c.name);
    assert.ok(tohex(env) === c.envelope_hex, `${c.name}: envelope differs`);
    const back = await P.open({ key, kind: c.kind, ciphertext: hex(c.envelope_hex) });
    assert.ok(Buffer.from(back).equals(Buffer.from(pt)), c.name);
  }
});

test('vectors: tamper', async () => {
  assert.ok(V.tamper.length > 10);
  for (const c of V.tamper) {
    const ct = new Uint8Array(assemble(c.parts));
    await rejects(() => P.open({ key: hex(c.key_hex), kind: c.kind, ciphertext: ct }), c.error, c.name);
  }
});

test('vectors: plaintexts', () => {
  for (const c of V.plaintexts) {
    const files = (c.files || []).map((f) => ({ name: f.name, type: f.type, bytes: hex(f.data_hex) }));
    const { bytes } = P.buildPlaintext(c.text, files);
    assert.equal(tohex(bytes), c.plaintext_hex, c.name);
    const got = P.parsePlaintext(hex(c.plaintext_hex));
    assert.equal(got.text, c.text);
    assert.equal(got.files.length, files.length);
    got.files.forEach((f, i) => {
      assert.equal(f.name, files[i].name);
      assert.equal(f.type, files[i].type);
      assert.equal(tohex(f.bytes), tohex(files[i].bytes));
    });
  }
  assert.ok(V.plaintext_accepted.length > 0);
  for (const c of V.plaintext_accepted) {
    const got = P.parsePlaintext(hex(c.plaintext_hex));
    assert.equal(got.text, c.text, c.name);
    assert.deepEqual(
      got.files.map((x) => [x.name, x.type, tohex(x.bytes)]),
      c.files.map((x) => [x.name, x.type, x.data_hex]),
      c.name,
    );
  }
  for (const c of V.plaintext_invalid) {
    assert.throws(() => P.parsePlaintext(hex(c.plaintext_hex)), { code: 'format' }, c.name);
  }
});

test('vectors: notes', async () => {
  assert.equal(V.notes.length, 2);
  for (const c of V.notes) {
    const K = hex(c.k_hex);
    const M = hex(c.m_hex);
    const f = P.parseFragment('#' + c.fragment);
    assert.equal(tohex(f.secret), c.k_hex);
    assert.equal(f.flags & P.FLAG_PIN, c.pin ? 1 : 0);
    const mf = P.parseFragment(c.manage_fragment);
    assert.equal(tohex(mf.secret), c.m_hex);
    assert.equal(mf.flags, 0);
    assert.equal(tohex(await P.sha256(M)), c.manage_hash_hex);

    const np = c.pin ? P.normalizePIN(c.pin) : null;
    const tok = await P.readerTokens(K, null);
    assert.equal(tohex(await P.sha256(tok.gate)), c.gate_hash_hex);
    assert.equal(tok.open, undefined);
    let stretched = null;
    if (np) {
      stretched = await stretch(K, c.pin); // the raw, non-ASCII PIN: stretching maps digits itself
      assert.equal(tohex(stretched), tohex(await stretch(K, np)));
      assert.equal(tohex(await P.sha256(await P.openToken(K, stretched))), c.open_hash_hex);
    }
    if (c.dpin) {
      const dp = await stretch(K, P.normalizePIN(c.dpin));
      assert.equal(tohex(await P.sha256(await P.destructToken(K, dp))), c.destruct_hash_hex);
    }
    for (const ty of c.typed || []) {
      const tp = await stretch(K, ty.pin);
      assert.equal(tohex(await P.sha256(await P.openToken(K, tp))) === c.open_hash_hex, ty.opens, ty.pin);
      assert.equal(tohex(await P.sha256(await P.destructToken(K, tp))) === c.destruct_hash_hex, ty.destruct_matches, ty.pin);
    }

    // Sender side reproduces the ciphertext byte for byte.
    const files = c.files.map((x) => ({ name: x.name, type: x.type, bytes: hex(x.data_hex) }));
    const { bytes } = P.buildPlaintext(c.text, files);
    const kp = await P.payloadKey(K, stretched);
    const env = await P._sealForVectors(
      { key: kp, kind: P.KIND_NOTE, plaintext: bytes },
      { entryNonce: hex(c.entry_nonce_hex), prefix: hex(c.prefix_hex) },
    );
    assert.equal(tohex(env), c.envelope_hex, c.name);

    // Reader side.
    const note = await P.openNote({ fragmentSecret: K, stretched, ciphertext: hex(c.envelope_hex) });
    assert.equal(note.text, c.text);
    assert.deepEqual(
      note.files.map((x) => [x.name, x.type, tohex(x.bytes)]),
      c.files.map((x) => [x.name, x.type, x.data_hex]),
    );
    if (np) {
      // The link alone (no PIN) does not decrypt.
      await rejects(() => P.openNote({ fragmentSecret: K, ciphertext: hex(c.envelope_hex) }), 'auth', 'no PIN');
    }
  }
});

test('round trips of every size class', async () => {
  const key = P.randomBytes(32);
  for (const n of [1, 2, 100, 65535, 65536, 65537, 2 * 65536, 2 * 65536 + 1, 3 * 65536 + 17]) {
    const pt = P.randomBytes(n);
    const seen = [];
    const env = await P.seal({ key, kind: P.KIND_NOTE, plaintext: pt, onProgress: (d, t) => seen.push([d, t]) });
    assert.equal(env.length, P.sealedLength(n));
    assert.equal(seen.length, Math.ceil(n / 65536), `progress per chunk, n=${n}`);
    assert.deepEqual(seen.at(-1), [n, n]);
    const back = await P.open({ key, kind: P.KIND_NOTE, ciphertext: env });
    assert.ok(Buffer.from(back).equals(Buffer.from(pt)), `n=${n}`);
    // Fresh randomness: sealing again gives another header and another ciphertext.
    const env2 = await P.seal({ key, kind: P.KIND_NOTE, plaintext: pt });
    assert.notEqual(tohex(env2.subarray(0, 25)), tohex(env.subarray(0, 25)));
  }
  await assert.rejects(() => P.seal({ key, kind: 1, plaintext: new Uint8Array(0) }), { code: 'length' });
});

test('plaintext round trip with zero-byte text, files and padding', () => {
  for (const [text, files] of [
    ['', []],
    ['x', [{ name: '', type: '', bytes: new Uint8Array(0) }]],
    ['ünïcödé \u2028 \u{1F600} "q" \\ <b>', [
      { name: 'a.jpg', type: 'image/jpeg', bytes: P.randomBytes(70000) },
      { name: 'b', type: '', bytes: P.randomBytes(3) },
    ]],
  ]) {
    const { bytes } = P.buildPlaintext(text, files);
    const got = P.parsePlaintext(bytes);
    assert.equal(got.text, text);
    assert.equal(got.files.length, files.length);
    got.files.forEach((f, i) => assert.ok(Buffer.from(f.bytes).equals(Buffer.from(files[i].bytes))));
    assert.equal(bytes.length, P.padme(bytes.length), 'length is a Padmé size');
    // Any non-zero byte in the padding is refused.
    const manifestLen = new DataView(bytes.buffer).getUint32(0);
    const used = 4 + manifestLen + files.reduce((a, f) => a + f.bytes.length, 0);
    if (used < bytes.length) {
      const bad = bytes.slice();
      bad[bytes.length - 1] = 1;
      assert.throws(() => P.parsePlaintext(bad), { code: 'format' });
    }
  }
});

test('note round trips: no PIN, lone surrogate text', async () => {
  const files = [{ name: 'f.txt', type: 'text/plain', bytes: new TextEncoder().encode('hello') }];
  const n = await P.newNote({ text: 'bad \ud800 surrogate', files });
  const f = P.parseFragment(n.fragment);
  assert.equal(f.flags, 0);
  assert.equal(n.fragment.length, 46);
  assert.equal(n.create.open_hash, undefined);
  for (const k of ['gate_hash', 'destruct_hash', 'manage_hash']) assert.equal(P.b64uDecode(n.create[k]).length, 32, k);
  const tok = await P.readerTokens(f.secret, null);
  assert.equal(P.b64uEncode(await P.sha256(tok.gate)), n.create.gate_hash);
  const m = P.parseFragment(n.manageFragment);
  assert.equal(P.b64uEncode(await P.sha256(m.secret)), n.create.manage_hash);
  const note = await P.openNote({ fragmentSecret: f.secret, ciphertext: n.ciphertext });
  assert.equal(note.text, 'bad \ufffd surrogate');
  assert.equal(new TextDecoder().decode(note.files[0].bytes), 'hello');
  // Two notes never share a destruct hash, though neither has a duress PIN.
  const n2 = await P.newNote({ text: 'bad \ud800 surrogate', files });
  assert.notEqual(n2.create.destruct_hash, n.create.destruct_hash);
});

test('note round trip with PIN and destruct PIN', async () => {
  await assert.rejects(() => P.newNote({ text: 'x', destructPin: '123456' }), { code: 'pin' });
  await assert.rejects(() => P.newNote({ text: 'x', pin: '123456', destructPin: '１２３４５６' }), { code: 'pin' });
  const n = await P.newNote({ text: 'secret', files: [], pin: '１２３４５６', destructPin: '654321' });
  const f = P.parseFragment(n.fragment);
  assert.equal(f.flags, P.FLAG_PIN);
  const right = await P.readerTokens(f.secret, '123456');
  assert.equal(P.b64uEncode(await P.sha256(right.open)), n.create.open_hash);
  assert.notEqual(P.b64uEncode(await P.sha256(right.destruct)), n.create.destruct_hash);
  const duress = await P.readerTokens(f.secret, '654321');
  assert.equal(P.b64uEncode(await P.sha256(duress.destruct)), n.create.destruct_hash);
  assert.notEqual(P.b64uEncode(await P.sha256(duress.open)), n.create.open_hash);
  const note = await P.openNote({ fragmentSecret: f.secret, stretched: right.stretched, ciphertext: n.ciphertext });
  assert.equal(note.text, 'secret');
  await rejects(() => P.openNote({ fragmentSecret: f.secret, stretched: duress.stretched, ciphertext: n.ciphertext }), 'auth', 'duress PIN does not decrypt');
});

test('claims', async () => {
  const a = await P.newClaim();
  const b = await P.newClaim();
  assert.equal(a.nonce.length, 32);
  assert.equal(tohex(a.hash), tohex(await P.sha256(a.nonce)));
  assert.notEqual(tohex(a.nonce), tohex(b.nonce));
});

test('every single-byte flip of a two-chunk envelope fails', async () => {
  // Every byte class: header, chunk 0 body and tag, chunk 1 body and tag.
  const key = P.randomBytes(32);
  const env = await P.seal({ key, kind: P.KIND_NOTE, plaintext: P.randomBytes(65536 + 40) });
  const positions = [0, 1, 2, 17, 18, 24, 25, 1000, 65560, 65576, 65577, 65590, env.length - 1];
  for (const at of positions) {
    const bad = env.slice();
    bad[at] ^= 0x80;
    await assert.rejects(() => P.open({ key, kind: P.KIND_NOTE, ciphertext: bad }), /./, `flip at ${at}`);
  }
});

// The PIN digit table is the frozen one, whatever Unicode version this runtime knows: every
// code point of the table's runs maps to its digit, and nothing else is a digit, neither the
// neighbours of a run nor a digit the runtime's \p{Nd} knows beyond Unicode 15.0.
test('PIN digits: exactly the frozen table, not the runtime', () => {
  const table = new Map();
  for (const z of P.DIGIT_ZEROS) for (let d = 0; d < 10; d++) table.set(z + d, d);
  const six = (cp) => String.fromCodePoint(cp).repeat(6);
  for (const [cp, d] of table) assert.equal(P.normalizePIN(six(cp)), String(d).repeat(6), cp.toString(16));
  const nd = /^\p{Nd}$/u;
  let runtimeExtra = 0;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (table.has(cp)) continue;
    const near = table.has(cp - 1) || table.has(cp + 1);
    const isNd = !(cp >= 0xd800 && cp <= 0xdfff) && nd.test(String.fromCodePoint(cp));
    if (isNd) runtimeExtra++;
    if (isNd || near) assert.throws(() => P.normalizePIN(six(cp)), { code: 'pin' }, cp.toString(16));
  }
  // Every Unicode 15.0 digit is in the table; a newer runtime knows more, which are refused.
  for (const cp of table.keys()) assert.ok(nd.test(String.fromCodePoint(cp)), cp.toString(16));
  if (runtimeExtra > 0) assert.throws(() => P.normalizePIN(six(0x11bf1)), { code: 'pin' }, 'Sunuwar');
});

// seal ignores any second argument: only _sealForVectors takes a fixed nonce and prefix.
test('seal always draws a fresh entry nonce and prefix', async () => {
  const key = P.randomBytes(32);
  const fixed = { entryNonce: new Uint8Array(16), prefix: new Uint8Array(7) };
  const a = await P.seal({ key, kind: P.KIND_NOTE, plaintext: new Uint8Array(10) }, fixed);
  const b = await P.seal({ key, kind: P.KIND_NOTE, plaintext: new Uint8Array(10) }, fixed);
  assert.notEqual(tohex(a.subarray(2, 25)), tohex(new Uint8Array(23)));
  assert.notEqual(tohex(a.subarray(2, 25)), tohex(b.subarray(2, 25)));
  await assert.rejects(() => P._sealForVectors({ key, kind: 1, plaintext: new Uint8Array(1) }, {}), { code: 'length' });
});

// open() decrypts chunk by chunk into one output array; when a later chunk fails (tampering,
// a cut), the chunks already decrypted into it are zeroed before the error propagates. The
// output array is caught by watching Uint8Array.prototype.set, which open() uses to fill it.
test('open zeroes its output on every error path', async () => {
  const key = P.randomBytes(32);
  const pt = new Uint8Array(3 * P.CHUNK_SIZE + 5).fill(0x5a);
  const env = await P.seal({ key, kind: P.KIND_NOTE, plaintext: pt });
  const SC = P.CHUNK_SIZE + P.TAG_SIZE;
  const flipped = env.slice();
  flipped[env.length - 1] ^= 1;
  const full = await P.seal({ key, kind: P.KIND_NOTE, plaintext: pt.subarray(0, 2 * P.CHUNK_SIZE) });
  const cases = [
    ['auth', flipped],
    ['truncated', env.subarray(0, P.HEADER_SIZE + 3 * SC)], // last chunk dropped
    ['format', Buffer.concat([full, new Uint8Array(1)])], // a byte after a full last chunk
  ];
  const origSet = Uint8Array.prototype.set;
  for (const [code, ct] of cases) {
    const targets = new Set();
    Uint8Array.prototype.set = function (src, at) {
      if (src && src.length >= P.CHUNK_SIZE) targets.add(this);
      return origSet.call(this, src, at);
    };
    let err;
    try {
      await P.open({ key, kind: P.KIND_NOTE, ciphertext: new Uint8Array(ct) });
    } catch (e) {
      err = e;
    } finally {
      Uint8Array.prototype.set = origSet;
    }
    assert.equal(err && err.code, code);
    const outs = [...targets].filter((t) => t.length >= P.CHUNK_SIZE && t.buffer !== ct.buffer);
    assert.ok(outs.length > 0, `${code}: the output array was filled before the failure`);
    for (const o of outs) assert.ok(o.every((b) => b === 0), `${code} (${err.code}): output zeroed`);
  }
});

// Writers refuse what readers would refuse; readers refuse a canonically padded plaintext
// whose otherwise valid manifest is one byte over MAX_MANIFEST.
test('manifest limits: files and bytes', () => {
  assert.equal(P.MAX_FILES, 1000);
  assert.equal(P.MAX_MANIFEST, 64 * 1024 * 1024);
  const empty = { name: '', type: '', bytes: new Uint8Array(0) };
  assert.throws(() => P.buildPlaintext('', new Array(P.MAX_FILES + 1).fill(empty)), { code: 'length' });
  const { bytes } = P.buildPlaintext('', new Array(P.MAX_FILES).fill(empty));
  assert.equal(P.parsePlaintext(bytes).files.length, P.MAX_FILES);
  const skeleton = '{"v":1,"text":"","files":[]}'.length;
  assert.throws(() => P.buildPlaintext('a'.repeat(P.MAX_MANIFEST - skeleton + 1), []), { code: 'length' });
  const m = new TextEncoder().encode(`{"v":1,"text":"${'a'.repeat(P.MAX_MANIFEST - skeleton + 1)}","files":[]}`);
  const p = new Uint8Array(P.padme(4 + m.length));
  new DataView(p.buffer).setUint32(0, m.length);
  p.set(m, 4);
  assert.throws(() => P.parsePlaintext(p), { code: 'format' });
});

// The padded length must be exactly Padmé(unpadded), and every padding byte zero, wherever
// the plaintext sits in its buffer (the word-wise scan starts at any alignment).
test('padding: canonical length and zero bytes at every alignment', () => {
  const { bytes } = P.buildPlaintext('x'.repeat(5000), [{ name: 'f', type: '', bytes: new Uint8Array(3000).fill(7) }]);
  const ml = new DataView(bytes.buffer).getUint32(0);
  const used = 4 + ml + 3000;
  assert.ok(bytes.length - used > 64, 'enough padding to exercise the word scan');
  for (let shift = 0; shift < 8; shift++) {
    const buf = new Uint8Array(bytes.length + shift + 3);
    const at = (b) => { buf.fill(0xee); buf.set(b, shift); return buf.subarray(shift, shift + b.length); };
    assert.equal(P.parsePlaintext(at(bytes)).text.length, 5000);
    for (const pos of [used, used + 1, used + 5, (used + bytes.length) >> 1, bytes.length - 4, bytes.length - 1]) {
      const bad = bytes.slice();
      bad[pos] = 1;
      assert.throws(() => P.parsePlaintext(at(bad)), { code: 'format' }, `shift ${shift} pos ${pos}`);
    }
    for (const n of [bytes.length - 1, bytes.length + 1]) {
      const other = new Uint8Array(n);
      other.set(bytes.subarray(0, Math.min(n, bytes.length)));
      assert.throws(() => P.parsePlaintext(other), { code: 'format' }, `length ${n}`);
    }
  }
});
