// Review (room20 impl, R2 in the browser module): a tail of one sender's records dropped for one
// member is shown as missing even when the relay first shows that member a list leaving it out
// (R2a) or leaving the sender out (R2b). Live members (WebCrypto's randomness and signatures);
// the shared vectors carry the same attacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as R from '../js/room-protocol.js';
import { randomBytes } from '../js/protocol.js';

async function exchange(members, seats, hellos) {
  const keys = {};
  for (const from of seats) for (const to of seats) {
    if (from === to) continue;
    const got = await members[to].open(from, hellos[from]);
    if (got.send) keys[to] = got.send;
  }
  const out = {};
  for (const from of seats) for (const to of seats) if (from !== to) out[`${from}>${to}`] = await members[to].open(from, keys[from]);
  return out;
}

async function tailDrop() {
  const id = randomBytes(16);
  const km = randomBytes(32);
  const m = {};
  for (const s of [1, 2, 3]) m[s] = await R.RoomMember.create({ id, seat: s, km });
  const h = {};
  for (const s of [1, 2, 3]) h[s] = (await m[s].seats(1, [1, 2, 3])).hello;
  await exchange(m, [1, 2, 3], h);
  const recs = [];
  for (const t of ['one', 'two', 'three']) recs.push(await m[1].seal(R.encodeRoomMessage(1, new TextEncoder().encode(t))));
  for (const r of recs) await m[3].open(1, r);
  await m[2].open(1, recs[0]);
  return m;
}

async function next(m, v) {
  const h = {};
  for (const s of [1, 2, 3]) h[s] = (await m[s].seats(v, [1, 2, 3])).hello;
  return exchange(m, [1, 2, 3], h);
}

test('control: the tail drop is shown', async () => {
  const m = await tailDrop();
  assert.equal((await next(m, 2))['1>2'].missing, 2);
});

test('R2a: a list leaving the receiver out does not hide the tail drop', async () => {
  const m = await tailDrop();
  await assert.rejects(m[2].seats(2, [1, 3], [2]), (e) => e.code === 'epoch');
  assert.equal((await next(m, 3))['1>2'].missing, 2);
});

test('R2b: a list leaving the sender out (for the receiver only) does not hide the tail drop', async () => {
  const m = await tailDrop();
  await m[2].seats(2, [2, 3], [1]);
  assert.equal((await next(m, 3))['1>2'].missing, 2);
});
