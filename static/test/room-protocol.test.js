// Checks static/js/room-protocol.js against the shared room vectors written by the Go package
// (internal/protocol/testdata/room-vectors.json), plus live rooms of browser members.
// Go signs the vectors with RFC 6979, which WebCrypto cannot; so a member replaying them makes
// every byte itself except its signatures, which it takes from the vectors (after checking that
// the bytes they cover are its own), and verifies every signature it receives.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as R from '../js/room-protocol.js';
import { randomBytes } from '../js/protocol.js';
import { vectors, hex, tohex, code } from './vector-helpers.js';

const V = vectors('room-vectors.json');
const room = V.room;
const PHASES = { seats: 0, hellos: 1, complete: 2, records: 3 };
const SIG = 64;

// Every record of the vectors by the bytes its signature covers (a hello's header, the rest's
// all but the signature): the signature a replaying member must use.
const signatures = new Map();
for (const ver of room.versions) {
  for (const h of ver.hellos) {
    const r = hex(h.record_hex);
    signatures.set(tohex(r.subarray(0, R.HELLO_HEADER)), r.slice(R.HELLO_HEADER, R.HELLO_HEADER + SIG));
  }
  for (const r0 of [...ver.keys, ...ver.records, ...ver.late_records]) {
    const r = hex(r0.record_hex);
    signatures.set(tohex(r.subarray(0, r.length - SIG)), r.slice(r.length - SIG));
  }
}
// What a tamper case's receiver makes beyond the room's versions (its hellos and keys of the
// case's member lists).
for (const t of V.tamper) {
  for (const h of t.made || []) {
    const r = hex(h);
    const covered = r[0] === R.REC_HELLO ? R.HELLO_HEADER : r.length - SIG;
    signatures.set(tohex(r.subarray(0, covered)), r.slice(covered, covered + SIG));
  }
}

// fixedFor: strict, a signature the vectors do not have fails the test; otherwise (member lists
// beyond the vectors' versions) WebCrypto signs.
function fixedFor(seat, strict = true) {
  const m = room.members.find((x) => x.seat === seat);
  const eph = {};
  const chain = {};
  for (const [v, k] of Object.entries(m.ephemeral)) eph[v] = { priv: hex(k.priv_hex), pub: hex(k.pub_hex) };
  for (const [v, c] of Object.entries(m.chain_hex)) chain[v] = hex(c);
  return {
    sign: { priv: hex(m.sign.priv_hex), pub: hex(m.sign.pub_hex) },
    ephemeral: eph,
    chain,
    signature(body) {
      const sig = signatures.get(tohex(body));
      if (!strict && !sig) return null;
      assert.ok(sig, `seat ${seat} made bytes the Go vectors do not have: ${tohex(body).slice(0, 80)}…`);
      return sig;
    },
  };
}

const find = (list, seat) => (list.find((x) => x.seat === seat) || {}).record_hex;

// memberAt replays the room for one seat up to a phase of version index vi, checking every byte.
// The clock every replaying member starts at (ms); tamper cases move it on with wait_s.
const T0 = Date.UTC(2026, 0, 1);

async function memberAt(seat, vi, after, clock = { t: T0 }, strict = true) {
  const m = await R._createForVectors({ id: hex(room.id_hex), seat, km: hex(room.km_hex), now: () => clock.t }, fixedFor(seat, strict));
  for (let i = 0; i <= vi && i < room.versions.length; i++) {
    const ver = room.versions[i];
    const phase = i === vi ? PHASES[after] : 3;
    if (!ver.members.includes(seat)) continue;
    const res = await m.seats(ver.v, ver.members, ver.out);
    assert.equal(res.hello ? tohex(res.hello) : '', find(ver.hellos, seat) || '', `hello of seat ${seat}, v ${ver.v}`);
    if (i > 0 && room.versions[i - 1].members.includes(seat)) {
      assert.deepEqual([res.left, res.removed], [ver.left, ver.removed], `left and removed, v ${ver.v}`);
    }
    if (phase < 1) break;
    let keys = null;
    for (const h of ver.hellos) {
      if (h.seat === seat) continue;
      const got = await m.open(h.seat, hex(h.record_hex));
      if (got.send) keys = got.send;
    }
    if (ver.members.length > 1) {
      assert.equal(tohex(m.cur.th), ver.th_hex);
      assert.equal(tohex(keys), find(ver.keys, seat), `keys of seat ${seat}, v ${ver.v}`);
    }
    assert.equal(await m.safetyCode(), ver.safety_code);
    if (phase < 2) break;
    for (const k of ver.keys) if (k.seat !== seat) await m.open(k.seat, hex(k.record_hex));
    assert.ok(m.complete);
    if (phase < 3) break;
    for (const r of ver.records) {
      if (r.from === seat) {
        assert.equal(tohex(await m.seal(hex(r.plaintext_hex))), r.record_hex, `record ${r.seq} of seat ${seat}, v ${ver.v}`);
      } else {
        const got = await m.open(r.from, hex(r.record_hex));
        assert.equal(tohex(got.message), r.plaintext_hex);
        assert.equal(got.seat, r.from);
      }
    }
    for (const r of ver.late_records) {
      if (r.from === seat) assert.equal(tohex(await m.seal(hex(r.plaintext_hex))), r.record_hex);
    }
  }
  return m;
}

test('room derivations: PIN salt, P, G_s, O_s, D_s, Km', async () => {
  for (const d of V.derivations) {
    const Kr = hex(d.kr_hex);
    const Ks = hex(d.ks_hex);
    assert.equal(tohex(await R.roomPINSalt(Kr)), d.pin_salt_hex);
    assert.equal(tohex(await R.roomGateToken(Ks)), d.gate_hex);
    let P = null;
    if (d.pin) {
      P = await R.roomStretchPIN(Kr, d.pin);
      assert.equal(tohex(P), d.p_hex);
      assert.equal(tohex(await R.roomOpenToken(Ks, P)), d.open_hex);
    }
    if (d.dpin) {
      const dp = await R.roomStretchPIN(Kr, d.dpin);
      assert.equal(tohex(dp), d.dp_hex);
      assert.equal(tohex(await R.roomDestructToken(Ks, dp)), d.destruct_hex);
    }
    assert.equal(tohex(await R.roomMacKey(Kr, P)), d.km_hex);
  }
});

test('invite fragments', () => {
  for (const v of V.invites) {
    for (const s of [v.encoded, `#${v.encoded}`]) {
      const f = R.parseRoomInvite(s);
      assert.deepEqual([f.flags, f.seat, tohex(f.seatKey), tohex(f.roomKey)], [v.flags, v.seat, v.ks_hex, v.kr_hex]);
    }
    assert.equal(R.encodeRoomInvite({ flags: v.flags, seat: v.seat, seatKey: hex(v.ks_hex), roomKey: hex(v.kr_hex) }), v.encoded);
  }
  for (const v of V.invites_invalid) {
    assert.throws(() => R.parseRoomInvite(v.input), (e) => e.code === 'fragment', v.why);
  }
});

test('a room through a join and a leave matches the Go vectors, every member', async () => {
  const last = room.versions.length - 1;
  for (const m of room.members) await memberAt(m.seat, last, 'records');
});

// outcome names what open gave as the vectors do (Go roomOutcome).
async function outcome(fn) {
  let o;
  try {
    o = await fn();
  } catch (e) {
    if (e.name !== 'ProtocolError') throw e;
    return e.code;
  }
  if (o.ignored) return 'ignored';
  if (o.gap > 0) return `gap ${o.gap}`;
  if (o.missing > 0) return `missing ${o.missing}`;
  if (o.renamed) return 'renamed';
  return 'ok';
}

test('forged, ghost, replayed, reordered, reflected, misattributed, other-view, other-version and late records: refused changing nothing, or accepted as the vectors say', async () => {
  for (const t of V.tamper) {
    const clock = { t: T0 };
    const m = await memberAt(t.receiver, t.version, t.after, clock);
    assert.equal(t.records.length, t.results.length);
    const made = [];
    for (const [i, l] of (t.lists || []).entries()) {
      let res = null;
      assert.equal(await code(async () => { res = await m.seats(l.v, l.in, l.out); }), l.result, `${t.name}: list #${i}`);
      if (res && res.hello) made.push(tohex(res.hello));
    }
    for (let i = 0; i < t.records.length; i++) {
      const f = t.records[i];
      clock.t += (f.wait_s || 0) * 1000;
      let got = null;
      assert.equal(await outcome(async () => { got = await m.open(f.stamp, hex(f.record_hex)); return got; }), t.results[i], `${t.name} #${i}`);
      if (got && got.send) made.push(tohex(got.send));
    }
    if (t.lists) assert.deepEqual(made, t.made, t.name);
  }
});

test('member lists: versions only up, this member left out, ended seats, malformed; who left and who was removed', async () => {
  for (const s of V.seats) {
    const m = await memberAt(s.receiver, s.version, 'records', { t: T0 }, false);
    for (const [i, l] of s.lists.entries()) {
      const before = m.version;
      let res = null;
      assert.equal(await code(async () => { res = await m.seats(l.v, l.in, l.out); }), l.result, `${s.name} #${i}`);
      if (!res) {
        assert.equal(m.version, before, s.name);
        continue;
      }
      assert.equal(m.version, l.v, s.name);
      assert.deepEqual([res.left, res.removed], [l.left, l.removed], s.name);
    }
  }
});

test('name keys for duplicates', () => {
  for (const n of V.name_keys) assert.equal(R.roomNameKey(n.name), n.key, n.name);
});

test('inner messages with names', () => {
  for (const msg of V.messages) {
    assert.equal(tohex(R.encodeRoomMessage(msg.type, hex(msg.body_hex))), msg.plaintext_hex);
    const d = R.decodeRoomMessage(hex(msg.plaintext_hex));
    assert.equal(d.type, msg.type);
    assert.equal(tohex(d.body), msg.body_hex);
  }
  for (const msg of V.messages_invalid) {
    assert.throws(() => R.decodeRoomMessage(hex(msg.plaintext_hex)), (e) => e.code === 'format', msg.name);
  }
  assert.throws(() => R.encodeRoomMessage(R.MSG_NAME, new TextEncoder().encode('Ana\u202e')), (e) => e.code === 'name');
});

// A live room of browser members (real randomness, WebCrypto's own signatures).
// gone: [[seat, left, removed], …] to check.
async function version(members, v, seats, gone = []) {
  const hellos = {};
  for (const s of seats) {
    const res = await members[s].seats(v, seats);
    hellos[s] = res.hello;
    for (const [g, left, removed] of gone) if (g === s) assert.deepEqual([res.left, res.removed], [left, removed]);
  }
  const keys = {};
  for (const from of seats) {
    for (const to of seats) {
      if (from === to) continue;
      const got = await members[to].open(from, hellos[from]);
      if (got.send) keys[to] = got.send;
    }
  }
  for (const from of seats) for (const to of seats) if (from !== to) await members[to].open(from, keys[from]);
  for (const s of seats) assert.ok(members[s].complete);
}

test('live room: join, leave, late joiner cannot read back, leaver cannot read on', async () => {
  const id = randomBytes(16);
  const km = randomBytes(32);
  const members = {};
  for (const s of [1, 2, 3]) members[s] = await R.RoomMember.create({ id, seat: s, km });
  const say = (s, text) => members[s].seal(R.encodeRoomMessage(1, new TextEncoder().encode(text)));
  const name = (s, text) => members[s].seal(R.encodeRoomMessage(R.MSG_NAME, new TextEncoder().encode(text)));
  await version(members, 1, [1, 2]);
  assert.equal(await code(() => members[1].seal(new Uint8Array(256))), 'ok');
  const early = await say(2, 'before the join');
  assert.equal(await code(() => members[1].open(2, early)), 'ok');
  assert.equal(await code(() => members[1].open(2, early)), 'replay');
  await version(members, 2, [1, 2, 3]);
  assert.equal(await outcome(() => members[3].open(2, early)), 'ignored');
  for (const [s, n] of [[1, 'Ana'], [2, 'Bo'], [3, 'ＡＮＡ']]) {
    const rec = await name(s, n);
    for (const to of [1, 2, 3]) if (to !== s) assert.equal(await outcome(() => members[to].open(s, rec)), 'ok');
  }
  assert.equal(await outcome(async () => members[1].open(2, await name(2, 'Cy'))), 'renamed');
  assert.deepEqual(members[2].names, [{ seat: 1, name: 'Ana', duplicate: true }, { seat: 3, name: 'ＡＮＡ', duplicate: true }]);
  assert.deepEqual(members[1].names, [{ seat: 2, name: 'Bo', duplicate: false }, { seat: 3, name: 'ＡＮＡ', duplicate: false }]);
  const mid = await say(2, 'all three');
  for (const s of [1, 3]) {
    const got = await members[s].open(2, mid);
    assert.equal(new TextDecoder().decode(R.decodeRoomMessage(got.message).body), 'all three');
  }
  const codes = await Promise.all([1, 2, 3].map((s) => members[s].safetyCode()));
  assert.equal(new Set(codes).size, 1);
  const bye = await members[2].bye();
  const got = await members[1].open(2, bye);
  assert.equal(got.inner, 4);
  assert.deepEqual(got.body, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 3));
  await version(members, 3, [1, 3], [[1, [2], []], [3, [], [2]]]);
  const after = await say(1, 'after the leave');
  assert.equal(await code(() => members[2].open(1, after)), 'epoch');
  assert.equal(await code(() => members[3].open(1, after)), 'ok');
  // The relay, without Kr, cannot add a member.
  const ghost = await R.RoomMember.create({ id, seat: 4, km: randomBytes(32) });
  const gh = (await ghost.seats(4, [1, 3, 4])).hello;
  await members[1].seats(4, [1, 3, 4]);
  assert.equal(await code(() => members[1].open(4, gh)), 'handshake');
  assert.equal(await code(() => members[1].seal(new Uint8Array(256))), 'wait');
});

test('the public constructor never takes fixed randomness', async () => {
  const f = fixedFor(1);
  const m = await R.RoomMember.create({ id: hex(room.id_hex), seat: 1, km: hex(room.km_hex) }, f);
  assert.notEqual(tohex(m.signPub), room.members[0].sign.pub_hex);
  await assert.rejects(() => R._createForVectors({ id: hex(room.id_hex), seat: 1, km: hex(room.km_hex) }, null), { name: 'ProtocolError' });
});

test('erasure is bounded in time: the own chain at the next hello, the ephemeral key 60 s after it, the previous chains 60 s after the list', async () => {
  const id = randomBytes(16);
  const km = randomBytes(32);
  const clock = { t: T0 };
  const members = {};
  for (const s of [1, 2]) members[s] = await R.RoomMember.create({ id, seat: s, km, now: () => clock.t });
  await version(members, 1, [1, 2]);
  const m = members[2];
  await m.seal(R.encodeRoomMessage(1, new TextEncoder().encode('x')));
  const own = m.send.ck;
  const prevChain = m.cur.recv.get(1).ck;
  assert.equal(m.deadline, 0);
  await m.seats(2, [1, 2]);
  assert.deepEqual(own, new Uint8Array(32), 'the own chain goes at the hello');
  assert.equal(m.send, null);
  assert.equal(m.deadline, T0 + R.ERASE_AFTER_MS);
  clock.t += R.ERASE_AFTER_MS - 1000;
  await m.expire();
  assert.ok(m.cur.priv);
  assert.notDeepEqual(prevChain, new Uint8Array(32));
  clock.t += 1000;
  await m.expire();
  assert.equal(m.cur.priv, null);
  assert.deepEqual(prevChain, new Uint8Array(32));
  assert.equal(m.deadline, 0);
});
