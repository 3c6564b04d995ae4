// The limits a page carries (limits.js): read from <meta name="sealdrop-limits">, used while
// their token is young, asked for only when missing, unreadable or old.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readLimits, pageLimits, LIMITS_META, MARGIN_MS } from '../js/limits.js';

const LIMITS = {
  version: 1, max_entry: 2097152, max_append: 1048576, free: 2097152, ttls: [300, 3600], default_ttl: 3600, max_ttl: 3600,
  price: { token: 'AGBOYABjqbBBdCbvEgcn6lg', expires_in: 600, levels: { note: 0 } },
};

// page is a document with one meta of the given name and content (null: no meta at all).
function page(content, name = LIMITS_META) {
  return {
    querySelector(sel) {
      if (content === null || sel !== `meta[name="${name}"]`) return null;
      return { getAttribute: (a) => (a === 'content' ? content : null) };
    },
  };
}

// counter is a fetchLimits that counts its calls and answers `answer` (its own copy).
function counter(answer) {
  const f = async () => { f.calls++; return structuredClone(answer); };
  f.calls = 0;
  return f;
}

test('readLimits: the limits the page carries, or null', () => {
  assert.deepEqual(readLimits(page(JSON.stringify(LIMITS))), LIMITS);
  for (const [why, doc] of [
    ['no document', undefined],
    ['no meta', page(null)],
    ['another meta', page(JSON.stringify(LIMITS), 'sealdrop-other')],
    ['empty', page('')],
    ['not JSON', page('{"version":1,')],
    ['the server\'s marker, unreplaced', page('sealdrop-limits-of-this-answer')],
    ['an array', page('[1,2]')],
    ['null', page('null')],
    ['a number', page('1')],
    ['no version', page(JSON.stringify({ ...LIMITS, version: undefined }))],
    ['no append size', page(JSON.stringify({ ...LIMITS, max_append: '1048576' }))],
  ]) {
    assert.equal(readLimits(doc), null, why);
  }
});

test('pageLimits: the carried limits are used while their token is young, without a request', async () => {
  let clock = 0;
  const fetchLimits = counter({ ...LIMITS, free: 1 });
  const l = pageLimits({ fetchLimits, doc: page(JSON.stringify(LIMITS)), now: () => clock });
  assert.deepEqual(l.carried, LIMITS);
  assert.deepEqual(await l.current(), LIMITS);
  clock = LIMITS.price.expires_in * 1000 - MARGIN_MS - 1;
  assert.deepEqual(await l.current(), LIMITS);
  assert.equal(fetchLimits.calls, 0, 'nothing asked while the token is young');

  // Old: asked once, and the answer is then held for its own token's life, from when it was asked.
  clock += 1;
  assert.equal((await l.current()).free, 1);
  assert.equal(fetchLimits.calls, 1);
  const asked = clock;
  clock = asked + LIMITS.price.expires_in * 1000 - MARGIN_MS - 1;
  await l.current();
  assert.equal(fetchLimits.calls, 1);
  clock += 1;
  await l.current();
  assert.equal(fetchLimits.calls, 2);
  assert.deepEqual(l.carried, LIMITS, 'carried stays what the page came with');
});

test('pageLimits: without readable limits in the page it asks, and asks again after a failure', async () => {
  for (const doc of [page(null), page('not json'), undefined]) {
    const fetchLimits = counter(LIMITS);
    const l = pageLimits({ fetchLimits, doc, now: () => 0 });
    assert.equal(l.carried, null);
    assert.deepEqual(await l.current(), LIMITS);
    assert.deepEqual(await l.current(), LIMITS);
    assert.equal(fetchLimits.calls, 1, 'asked once, then held');
  }
  let fail = true;
  let calls = 0;
  const l = pageLimits({
    fetchLimits: async () => { calls++; if (fail) throw new Error('network'); return LIMITS; }, doc: page(null), now: () => 0,
  });
  await assert.rejects(l.current(), /network/);
  fail = false;
  assert.deepEqual(await l.current(), LIMITS);
  assert.equal(calls, 2);
});

test('pageLimits: limits without a token\'s life are not held', async () => {
  const { price, ...bare } = LIMITS;
  assert.ok(price);
  const fetchLimits = counter(bare);
  const l = pageLimits({ fetchLimits, doc: page(JSON.stringify(bare)), now: () => 0 });
  assert.deepEqual(l.carried, bare, 'still shown at load');
  await l.current();
  await l.current();
  assert.equal(fetchLimits.calls, 2);
});
