// Tests for static/js/http.js, the one fetch layer of the note API, the drop API and the chat
// page: the privacy options of every request, and how each answer becomes an error.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHttp, ApiError, GoneError, WrongPinError, PRIVACY } from '../js/http.js';

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

test('every request carries the privacy options, whatever the caller passes', async () => {
  const seen = [];
  const http = makeHttp({ fetch: async (url, init) => { seen.push([url, init]); return json(200, { ok: 1 }); }, base: '/b' });
  await http.getJSON('/x');
  await http.postJSON('/y', { a: 1 });
  await http.request('/z', { method: 'POST', headers: { 'X-A': '1' }, body: 'b' });
  assert.deepEqual(seen.map(([u]) => u), ['/b/x', '/b/y', '/b/z']);
  for (const [, init] of seen) {
    for (const [k, v] of Object.entries(PRIVACY)) assert.equal(init[k], v, k);
  }
  assert.equal(PRIVACY.redirect, 'error');
  assert.equal(seen[1][1].method, 'POST');
  assert.equal(seen[1][1].headers['Content-Type'], 'application/json');
  assert.equal(seen[1][1].body, '{"a":1}');
});

test('no answer is the network error with a plain message; an abort stays an abort', async () => {
  const down = makeHttp({ fetch: async () => { throw new TypeError('NetworkError when attempting to fetch resource.'); } });
  await assert.rejects(down.postJSON('/x', {}), (e) => e instanceof ApiError && e.code === 'network' && /Tor Browser is connected/.test(e.message));
  const abort = makeHttp({ fetch: async () => { throw new DOMException('stopped', 'AbortError'); } });
  await assert.rejects(abort.postJSON('/x', {}), (e) => e.name === 'AbortError');
});

test('refusals: one GoneError, wrong_pin with tries left, price with what to pay, offsets', async () => {
  let answer;
  const words = {
    gone: 'It is gone.',
    wrongPin: (n) => `Wrong PIN, ${n} left.`,
    byCode: { full: 'Full, in our words.' },
    byStatus: { 429: 'Busy, in our words.' },
  };
  const http = makeHttp({ fetch: async () => answer, words });
  answer = json(404, { error: 'gone' });
  await assert.rejects(http.postJSON('/x', {}), (e) => e instanceof GoneError && e instanceof ApiError && e.code === 'gone' && e.status === 404 && e.message === 'It is gone.');
  answer = new Response('not json', { status: 404 });
  await assert.rejects(http.postJSON('/x', {}), (e) => e instanceof GoneError, 'a 404 is gone whatever its body');
  answer = json(403, { error: 'wrong_pin', tries_left: 2 });
  await assert.rejects(http.postJSON('/x', {}), (e) => e instanceof WrongPinError && e.triesLeft === 2 && e.message === 'Wrong PIN, 2 left.');
  answer = json(402, { error: 'price', message: 'pay', bits: 17, token: 'dG9r' });
  await assert.rejects(http.postJSON('/x', {}), (e) => e.code === 'price' && e.status === 402 && e.message === 'pay'
    && e.price.bits === 17 && e.price.token === 'dG9r');
  answer = json(507, { error: 'full', message: 'the server says full' });
  await assert.rejects(http.postJSON('/x', {}), (e) => e.message === 'Full, in our words.', 'the API\'s wording of a code comes first');
  answer = json(429, { error: 'busy', message: 'the server says busy' });
  await assert.rejects(http.postJSON('/x', {}), (e) => e.message === 'the server says busy', 'then the server\'s message');
  answer = new Response('<html>', { status: 429 });
  await assert.rejects(http.postJSON('/x', {}), (e) => e.code === 'http_429' && e.message === 'Busy, in our words.', 'then the wording of the status');
  answer = new Response('<html>', { status: 502 });
  await assert.rejects(http.postJSON('/x', {}), (e) => e.code === 'http_502' && /error 502/.test(e.message));
  answer = json(409, { error: 'offset', message: 'x', received: 1234 });
  await assert.rejects(http.postJSON('/x', {}), (e) => e.status === 409 && e.received === 1234);
  const plain = makeHttp({ fetch: async () => json(403, { error: 'wrong_pin', tries_left: 1, message: 'wrong pin' }) });
  await assert.rejects(plain.postJSON('/x', {}), (e) => !(e instanceof WrongPinError) && e.code === 'wrong_pin',
    'an API without PINs has no WrongPinError');
});

test('upload refuses an offset beyond what it sent', async () => {
  const http = makeHttp({ fetch: async () => json(409, { error: 'offset', received: 99 }), sleep: async () => {} });
  await assert.rejects(http.upload('/u', 'm', new Uint8Array(10), { maxAppend: 5 }), (e) => e.status === 409 && e.received === 99);
});
