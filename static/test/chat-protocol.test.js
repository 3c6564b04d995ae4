// Checks static/js/chat-protocol.js against the shared chat vectors written by the Go package
// (internal/protocol/testdata/chat-vectors.json), plus live round trips.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../js/protocol.js';
import * as C from '../js/chat-protocol.js';
import { vectors, hex, tohex, code } from './vector-helpers.js';

const V = vectors('chat-vectors.json');

function sideParams(h, role) {
  const s = role === C.ROLE_CREATOR ? h.creator : h.joiner;
  const hello = hex(role === C.ROLE_CREATOR ? h.hello_creator_hex : h.hello_joiner_hex);
  return {
    args: {
      id: hex(h.id_hex), role, km: hex(h.km_hex),
      resume: s.resume_hex ? hex(s.resume_hex) : null, lastEpoch: s.last_epoch,
    },
    fixed: { priv: hex(s.priv_hex), pub: hello.subarray(6, 71), random: hex(s.random_hex) },
  };
}

async function sessions(h) {
  const c = sideParams(h, C.ROLE_CREATOR);
  const j = sideParams(h, C.ROLE_JOINER);
  const { hs: hc, hello: helloC } = await C._createForVectors(c.args, c.fixed);
  const { hs: hj, hello: helloJ } = await C._createForVectors(j.args, j.fixed);
  assert.equal(tohex(helloC), h.hello_creator_hex);
  assert.equal(tohex(helloJ), h.hello_joiner_hex);
  const confC = await hc.peer(hex(h.hello_joiner_hex));
  const confJ = await hj.peer(hex(h.hello_creator_hex));
  assert.equal(tohex(confC), h.confirm_creator_hex);
  assert.equal(tohex(confJ), h.confirm_joiner_hex);
  const sc = await hc.finish(hex(h.confirm_joiner_hex));
  const sj = await hj.finish(hex(h.confirm_creator_hex));
  assert.equal(sc.epoch, h.epoch);
  assert.equal(tohex(sj.resume), h.resume_out_hex);
  assert.equal(await sc.safetyCode(), h.safety_code);
  assert.equal(await sj.safetyCode(), h.safety_code);
  return { sc, sj };
}

test('chat MAC keys', async () => {
  for (const m of V.mac_keys) {
    const K = hex(m.k_hex);
    let Pk = null;
    if (m.pin) {
      Pk = await P.stretchPIN(K, m.pin);
      assert.equal(tohex(Pk), m.p_hex);
    }
    assert.equal(tohex(await C.chatMacKey(K, Pk)), m.km_hex);
  }
});

test('chat handshakes and records match the Go vectors', async () => {
  for (const h of V.handshakes) {
    const { sc, sj } = await sessions(h);
    for (const r of h.records) {
      const pt = C.encodeMessage(r.type, hex(r.body_hex));
      assert.equal(tohex(pt), r.plaintext_hex);
      const [send, recv] = r.from === C.ROLE_CREATOR ? [sc, sj] : [sj, sc];
      const rec = await send.seal(pt);
      assert.equal(tohex(rec), r.record_hex, `${h.name} seq ${r.seq}`);
      const got = await recv.open(rec);
      assert.deepEqual(C.decodeMessage(got), { type: r.type, body: hex(r.body_hex) });
    }
  }
});

test('forged, replayed, reordered, reflected and old-epoch records are refused (T23)', async () => {
  for (const t of V.tamper) {
    const { sc, sj } = await sessions(V.handshakes[t.hs]);
    const recv = t.receiver === C.ROLE_CREATOR ? sc : sj;
    for (let i = 0; i < t.records_hex.length; i++) {
      assert.equal(await code(() => recv.open(hex(t.records_hex[i]))), t.results[i], `${t.name} #${i}`);
    }
  }
});

test('handshake failures: swapped keys, reflection, resume without the secret', async () => {
  for (const f of V.handshake_failures) {
    const h = V.handshakes[f.hs];
    const p = sideParams(h, f.side);
    if (f.resume_missing) { p.args.resume = null; p.args.lastEpoch = 0; }
    const { hs } = await C._createForVectors(p.args, p.fixed);
    const got = await code(async () => {
      await hs.peer(hex(f.peer_hello_hex));
      await hs.finish(hex(f.peer_confirm_hex));
    });
    assert.equal(got, f.error, f.name);
  }
});

test('inner messages and their padding', () => {
  for (const m of V.messages) {
    assert.equal(tohex(C.encodeMessage(m.type, hex(m.body_hex))), m.plaintext_hex);
    const d = C.decodeMessage(hex(m.plaintext_hex));
    assert.equal(d.type, m.type);
    assert.equal(tohex(d.body), m.body_hex);
  }
  for (const m of V.messages_invalid) {
    assert.throws(() => C.decodeMessage(hex(m.plaintext_hex)), (e) => e.code === 'format', m.name);
  }
});

test('random handshake, then a resume in a new epoch; old records do not cross', async () => {
  const id = P.randomBytes(16);
  const km = P.randomBytes(32);
  const run = async (rc, rj, lc, lj) => {
    const a = await C.ChatHandshake.create({ id, role: C.ROLE_CREATOR, km, resume: rc, lastEpoch: lc });
    const b = await C.ChatHandshake.create({ id, role: C.ROLE_JOINER, km, resume: rj, lastEpoch: lj });
    const ca = await a.hs.peer(b.hello);
    const cb = await b.hs.peer(a.hello);
    return { sc: await a.hs.finish(cb), sj: await b.hs.finish(ca) };
  };
  const one = await run(null, null, 0, 0);
  const rec1 = await one.sc.seal(C.encodeMessage(C.MSG_TEXT, new TextEncoder().encode('first epoch')));
  assert.equal(C.decodeMessage(await one.sj.open(rec1)).type, C.MSG_TEXT);
  const two = await run(one.sc.resume, one.sj.resume, 1, 1);
  assert.equal(two.sc.epoch, 2);
  assert.equal(await two.sc.safetyCode(), await one.sj.safetyCode());
  assert.equal(await code(() => two.sj.open(rec1)), 'epoch');
  // A side that lost the resume secret cannot join the new epoch.
  const a = await C.ChatHandshake.create({ id, role: C.ROLE_CREATOR, km, resume: one.sc.resume, lastEpoch: 1 });
  const b = await C.ChatHandshake.create({ id, role: C.ROLE_JOINER, km });
  assert.equal(await code(() => b.hs.peer(a.hello)), 'handshake');
  // Another link key cannot complete a handshake.
  const x = await C.ChatHandshake.create({ id, role: C.ROLE_CREATOR, km });
  const y = await C.ChatHandshake.create({ id, role: C.ROLE_JOINER, km: P.randomBytes(32) });
  await x.hs.peer(y.hello);
  const cy = await y.hs.peer(x.hello);
  assert.equal(await code(() => x.hs.finish(cy)), 'handshake');
});

test('the public handshake never takes fixed randomness', async () => {
  const h = V.handshakes[0];
  const c = sideParams(h, C.ROLE_CREATOR);
  // A caller passing fixed values to create gets fresh ones: only _createForVectors pins them.
  const { hello } = await C.ChatHandshake.create(c.args, c.fixed);
  assert.notEqual(tohex(hello), h.hello_creator_hex);
  assert.equal(hello.length, C.HELLO_SIZE);
  await assert.rejects(() => C._createForVectors(c.args, null), { name: 'ProtocolError' });
});
