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

// A fake server of the pipelined upload (SECURITY.md, "Pipelined pieces"): a piece at the
// offset the entry holds is stored (a turn of the event loop later); one that begins where the
// running piece ends waits for it, then is stored, or answered 409 with what the entry holds
// when that piece broke off; any other piece while one runs is a retry and cuts the running
// one. plan(n, off) may make the n-th request a 'cut' (half its body arrives, then no answer),
// 'lost' (stored, the answer lost), 'gone' (refused), or a refusal [status, body].
function pipeServer(length, plan = () => undefined) {
  const s = { have: 0, stored: new Uint8Array(length), calls: [], inFlight: 0, most: 0, overlapped: 0, aborted: 0 };
  let running = null; // { end, done: Promise }
  const tick = () => new Promise((r) => { setTimeout(r, 1); });
  s.fetch = async (url, init) => {
    const n = s.calls.length;
    const off = Number(init.headers['Sealdrop-Offset']);
    const body = init.body;
    s.calls.push({ url, off, size: body.length, headers: init.headers });
    if (running) s.overlapped++;
    s.inFlight++;
    s.most = Math.max(s.most, s.inFlight);
    const aborted = new Promise((_, reject) => {
      init.signal.addEventListener('abort', () => { s.aborted++; reject(new DOMException('stopped', 'AbortError')); }, { once: true });
    });
    const work = (async () => {
      if (running && off === running.end) await running.done; // the successor waits
      else if (running) running.cut = true; // a retry cuts the running one
      const what = plan(n, off);
      if (Array.isArray(what)) return json(what[0], what[1]);
      if (what === 'gone') return json(404, { error: 'gone' });
      if (off !== s.have) return json(409, { error: 'offset', received: s.have });
      let release;
      const me = { end: off + body.length, done: new Promise((r) => { release = r; }) };
      running = me;
      try {
        await tick();
        const keep = what === 'cut' || me.cut ? Math.floor(body.length / 2) : body.length;
        s.stored.set(body.subarray(0, keep), off);
        s.have = off + keep;
        if (keep < body.length) { if (me.cut) return json(400, { error: 'bad_body' }); throw new TypeError('NetworkError'); }
        if (what === 'lost') throw new TypeError('NetworkError');
        return json(200, { id: 'ID', received: s.have, committed: s.have === length });
      } finally {
        if (running === me) running = null;
        release();
      }
    })();
    try {
      return await Promise.race([work, aborted]);
    } finally {
      s.inFlight--;
    }
  };
  return s;
}

const bytesOf = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

test('upload: two pieces in flight, the next sent while the one before is on its way, in order', async () => {
  const data = bytesOf(10000);
  const s = pipeServer(data.length);
  const answers = [];
  const http = makeHttp({ fetch: s.fetch, sleep: async () => {} });
  const last = await http.upload('/u', 'm', data, { maxAppend: 2048, onAnswer: (a) => answers.push(a.received) });
  assert.deepEqual(s.stored, data);
  assert.deepEqual(s.calls.map((c) => c.off), [0, 2048, 4096, 6144, 8192], 'one request per piece, nothing else');
  assert.equal(s.most, 2, 'at most two in flight');
  assert.equal(s.overlapped, 4, 'every piece after the first went out while the one before it ran');
  assert.deepEqual(answers, [2048, 4096, 6144, 8192, 10000], 'answers seen in order');
  assert.equal(last.committed, true);
  const one = pipeServer(data.length);
  await makeHttp({ fetch: one.fetch }).upload('/u', 'm', data, { maxAppend: 2048, window: 1 });
  assert.equal(one.most, 1, 'window 1 sends one at a time');
});

test('upload: a piece cut on its way gives up the one behind it and goes on from what the server holds', async () => {
  const data = bytesOf(10000);
  const s = pipeServer(data.length, (n) => (n === 1 ? 'cut' : undefined));
  const http = makeHttp({ fetch: s.fetch, sleep: async () => {} });
  await http.upload('/u', 'm', data, { maxAppend: 2048 });
  assert.deepEqual(s.stored, data);
  // 0, 2048 (cut half way), 4096 (given up), 2048 again (409: 3072) with 4096 behind it (given
  // up), then on from 3072.
  assert.deepEqual(s.calls.map((c) => c.off).slice(0, 6), [0, 2048, 4096, 2048, 4096, 3072]);
  assert.equal(s.aborted, 2, 'each piece behind a failed one was given up');
  assert.ok(s.most <= 2);
});

test('upload: a 409 naming what the server holds gives up the piece behind and goes on from there', async () => {
  const data = bytesOf(8000);
  const s = pipeServer(data.length);
  s.stored.set(data.subarray(0, 1000)); // an earlier try of this upload stored 1,000 bytes
  s.have = 1000;
  await makeHttp({ fetch: s.fetch, sleep: async () => {} }).upload('/u', 'm', data, { maxAppend: 2048 });
  assert.deepEqual(s.stored, data);
  assert.deepEqual(s.calls.map((c) => c.off), [0, 2048, 1000, 3048, 5096, 7144]);
  assert.equal(s.aborted, 1, 'the piece behind the refused one was given up');
});

test('upload: a piece sent behind another and refused is sent again alone; a first piece refused is final', async () => {
  const data = bytesOf(6000);
  let early = true;
  const s = pipeServer(data.length, (n, off) => {
    if (off === 2048 && early) { early = false; return 'gone'; } // came before the entry was made
    return undefined;
  });
  const http = makeHttp({ fetch: s.fetch, sleep: async () => {} });
  await http.upload('/u', 'm', data, { maxAppend: 2048 });
  assert.deepEqual(s.stored, data);
  // 4096 went out behind 2048, and was given up with it.
  assert.deepEqual(s.calls.map((c) => c.off), [0, 2048, 4096, 2048, 4096]);
  assert.equal(s.aborted, 1);

  const r = pipeServer(data.length, (n, off) => (off === 0 ? [413, { error: 'too_large', message: 'no' }] : undefined));
  await assert.rejects(makeHttp({ fetch: r.fetch, sleep: async () => {} }).upload('/u', 'm', data, { maxAppend: 2048 }),
    (e) => e.status === 413);
  assert.equal(r.calls.length, 2, 'the first and the one behind it, nothing more');
  assert.equal(r.have, 0);
});

test('upload: a 409 older than an answer already read does not send stored bytes again', async () => {
  // The piece at 4096 was refused while the one before it was still being stored, so its 409
  // names 2048; the client has meanwhile read that piece's answer (4096 held): it goes on at 4096.
  const data = bytesOf(8000);
  const s = pipeServer(data.length, (n, off) => (n === 2 ? [409, { error: 'offset', received: 2048 }] : undefined));
  await makeHttp({ fetch: s.fetch, sleep: async () => {} }).upload('/u', 'm', data, { maxAppend: 2048 });
  assert.deepEqual(s.stored, data);
  assert.deepEqual(s.calls.map((c) => c.off), [0, 2048, 4096, 6144, 4096, 6144], 'on at 4096, not back at 2048');
});

test('upload: a lost answer is sent again and the server says where to go on', async () => {
  const data = bytesOf(7000);
  const s = pipeServer(data.length, (n) => (n === 0 ? 'lost' : undefined));
  await makeHttp({ fetch: s.fetch, sleep: async () => {} }).upload('/u', 'm', data, { maxAppend: 2048 });
  assert.deepEqual(s.stored, data);
  assert.equal(s.have, 7000);
});

test('upload: the caller\'s abort stops every piece in flight', async () => {
  const data = bytesOf(7000);
  const s = pipeServer(data.length);
  const ctl = new AbortController();
  const http = makeHttp({ fetch: s.fetch, sleep: async () => {} });
  const p = http.upload('/u', 'm', data, { maxAppend: 2048, signal: ctl.signal });
  ctl.abort();
  await assert.rejects(p, (e) => e.name === 'AbortError');
  assert.ok(s.have < 7000);
});
