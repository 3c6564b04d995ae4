// The price module against the Go implementation's vectors (internal/protocol/testdata/
// price-vectors.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  priceBits, priceUnits, priceMessage, priceHash, solvePrice, leadingZeroBits, payAndCreate,
} from '../js/price.js';
import { vectors, hex, tohex } from './vector-helpers.js';

const V = vectors('price-vectors.json');
const req = (p) => ({ kind: p.kind, scope: hex(p.scope_hex), manage: hex(p.manage_hex), length: p.length, ttl: p.ttl });

test('price message and the smallest paying nonce match Go', async () => {
  assert.ok(V.payments.length >= 16);
  for (const p of V.payments) {
    const msg = priceMessage(hex(p.token_hex), req(p));
    assert.equal(tohex(msg.subarray(0, msg.length - 8)), p.message_hex);
    const nonce = await solvePrice(hex(p.token_hex), req(p), p.bits, { batch: 64 });
    assert.equal(tohex(nonce), p.nonce_hex, `bits ${p.bits}`);
    const h = await priceHash(hex(p.token_hex), req(p), nonce);
    assert.equal(tohex(h), p.hash_hex);
    assert.ok(leadingZeroBits(h) >= p.bits);
  }
});

test('a nonce below the smallest solution does not pay', async () => {
  assert.ok(V.unpaid.length > 0);
  for (const p of V.unpaid) {
    const h = await priceHash(hex(p.token_hex), req(p), hex(p.nonce_hex));
    assert.equal(tohex(h), p.hash_hex);
    assert.ok(leadingZeroBits(h) < p.bits);
  }
});

test('bits and units match Go for every level, size and lifetime', () => {
  for (const b of V.bits) {
    assert.equal(priceUnits(b.length, b.ttl), b.units, JSON.stringify(b));
    assert.equal(priceBits(b.level, b.length, b.ttl), b.bits, JSON.stringify(b));
  }
});

test('leading zero bits', () => {
  assert.ok(V.leading_zero_bits.length >= 6);
  for (const z of V.leading_zero_bits) assert.equal(leadingZeroBits(hex(z.hex)), z.bits);
});

test('malformed inputs are refused', async () => {
  const p = V.payments[0];
  assert.throws(() => priceMessage(hex(p.token_hex).subarray(1), req(p)), { code: 'format' });
  assert.throws(() => priceMessage(hex(p.token_hex), { ...req(p), manage: new Uint8Array(31) }), { code: 'format' });
  await assert.rejects(solvePrice(hex(p.token_hex), req(p), 53), { code: 'format' });
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(solvePrice(hex(p.token_hex), req(p), 40, { signal: ac.signal }), { code: 'aborted' });
});

test('payAndCreate: bindToken sends the token at price 0, and a 402\'s token in its place', async () => {
  const r = { kind: 1, manage: new Uint8Array(32), length: 10, ttl: 300 };
  const seen = [];
  const got = await payAndCreate(async (p) => {
    seen.push(p);
    if (seen.length === 1) {
      const e = new Error('stale token');
      e.price = { bits: 0, token: 'bmV3' };
      throw e;
    }
    return 'made';
  }, r, { level: 0, token: 'b2xk' }, { bindToken: true });
  assert.equal(got, 'made');
  assert.deepEqual(seen, [{ price_token: 'b2xk' }, { price_token: 'bmV3' }]);
  const plain = [];
  await payAndCreate(async (p) => { plain.push(p); return 1; }, r, { level: 0, token: 'b2xk' });
  assert.deepEqual(plain, [{}], 'a JSON create pays nothing at price 0 and sends no token');
});
