// Drops that take messages at Safest (SECURITY.md, "Messages at Safest"): flag 0x02 is bound
// into the route, never on a reply box, and such a drop's link carries its keys (never its
// name) in the query as well as in the fragment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as D from '../js/drop-protocol.js';

const code = async (f) => { try { await f(); return 'ok'; } catch (e) { return e.code || e.message; } };

test('a Safest drop: the flag, the route and the link', async () => {
  const keys = await D.newDropKeys(D.DROP_FLAG_SAFEST);
  keys.name = 'Ana at the Daily Ledger';
  const link = await D.dropLink('http://example.onion', keys);
  const u = new URL(link);
  const frag = u.hash.slice(1);
  const q = u.searchParams.get('s');
  assert.equal(q.length, 176);
  assert.ok(frag.startsWith(q + '.'), 'the query is the fragment without the name');
  assert.ok(!u.search.includes(frag.split('.')[1]), 'the name never goes in the query');
  const d = await D.parseDropFragment(frag);
  assert.equal(d.flags, D.DROP_FLAG_SAFEST);
  assert.equal(d.name, 'Ana at the Daily Ledger');
  assert.equal(u.pathname, `/d/${await D.routeId(d)}`);
  // Another flag is another route.
  assert.notEqual(await D.routeId({ ...d, flags: 0 }), await D.routeId(d));
  // A drop without the flag has no query.
  const plain = await D.newDropKeys(0);
  assert.equal(new URL(await D.dropLink('http://example.onion', plain)).search, '');
  // A reply box never takes messages at Safest.
  assert.notEqual(await code(() => D.newDropKeys(D.DROP_FLAG_SAFEST | D.DROP_FLAG_REPLY)), 'ok');
});
