// Tests for static/js/api.js against a fake server: cut connections, offsets, errors.
// Run with `node --test static/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeApi, GoneError, WrongPinError, ApiError, CIPHER_CHUNK, HEADER_BYTES } from '../js/api.js';

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

function bytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

// A stream that delivers `data` and then fails after `cutAfter` bytes (if given).
function body(data, cutAfter) {
  let sent = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (cutAfter !== undefined && sent >= cutAfter) { ctrl.error(new TypeError('network')); return; }
      if (sent >= data.length) { ctrl.close(); return; }
      const end = Math.min(data.length, sent + 50000, cutAfter === undefined ? Infinity : cutAfter);
      ctrl.enqueue(data.slice(sent, end));
      sent = end;
    },
  });
}

test('every request goes on the page\'s connections, without cache, referrer or redirect', async () => {
  const seen = [];
  const api = makeApi({ fetch: async (url, init) => { seen.push(init); return json(200, { version: 1 }); } });
  await api.limits();
  // same-origin, not omit: the page's own connections (http.js, PRIVACY); the server sets and
  // reads no cookie (internal/web TestNoCookieOnAnyRoute, internal/audit TestNoCookies).
  assert.equal(seen[0].credentials, 'same-origin');
  assert.equal(seen[0].cache, 'no-store');
  assert.equal(seen[0].referrerPolicy, 'no-referrer');
  assert.equal(seen[0].redirect, 'error');
});

test('upload resumes after network errors and follows 409 offsets', async () => {
  const data = bytes(10000);
  const stored = [];
  let have = 0;
  let calls = 0;
  const offsets = [];
  const fetch = async (url, init) => {
    calls++;
    assert.match(url, /\/api\/v1\/notes\/ID\/data$/);
    assert.equal(init.headers['Sealdrop-Manage'], 'bWFuYWdl');
    const off = Number(init.headers['Sealdrop-Offset']);
    offsets.push(off);
    if (calls === 2) { // stored, but the answer is lost on the way back
      stored.push(init.body.slice()); have += init.body.length;
      throw new TypeError('NetworkError when attempting to fetch resource.');
    }
    if (calls === 4) throw new TypeError('NetworkError'); // lost before arriving
    if (off !== have) return json(409, { error: 'offset', received: have });
    stored.push(init.body.slice()); have += init.body.length;
    return json(200, { received: have });
  };
  const progress = [];
  const api = makeApi({ fetch, sleep: async () => {} });
  await api.upload('ID', 'bWFuYWdl', data, { maxAppend: 3000, onProgress: (d, t) => progress.push([d, t]) });
  const got = new Uint8Array(have);
  let o = 0;
  for (const s of stored) { got.set(s, o); o += s.length; }
  assert.deepEqual(got, data);
  assert.ok(offsets.includes(3000), 'retried the lost chunk');
  assert.deepEqual(progress.at(-1), [10000, 10000]);
});

test('upload waits out a 409 busy (its own earlier try still running) and resumes', async () => {
  const data = bytes(5000);
  let have = 0;
  let calls = 0;
  const sleeps = [];
  const fetch = async (url, init) => {
    calls++;
    const off = Number(init.headers['Sealdrop-Offset']);
    if (calls === 1) { have = 1200; throw new TypeError('NetworkError'); } // part arrived, the circuit died
    if (calls <= 3) return json(409, { error: 'busy', message: 'another append to this note is still running; retry shortly' });
    if (off !== have) return json(409, { error: 'offset', received: have });
    have += init.body.length;
    return json(200, { received: have });
  };
  const api = makeApi({ fetch, sleep: async (ms) => { sleeps.push(ms); } });
  await api.upload('ID', 'bWFuYWdl', data, { maxAppend: 5000 });
  assert.equal(have, 5000);
  assert.equal(calls, 5, 'network error, busy, busy, 409 offset, the rest');
  assert.deepEqual(sleeps, [1000, 2000, 4000], 'backoff after the network error and each busy');
});

test('upload stops on a busy that never clears', async () => {
  const api = makeApi({ fetch: async () => json(409, { error: 'busy', message: 'still running' }), sleep: async () => {}, retries: 3 });
  await assert.rejects(api.upload('ID', 'm', bytes(10), { maxAppend: 5 }), (e) => e instanceof ApiError && e.code === 'busy');
});

test('upload gives up after repeated failures with a plain message', async () => {
  const api = makeApi({ fetch: async () => { throw new TypeError('down'); }, sleep: async () => {}, retries: 2 });
  await assert.rejects(api.upload('ID', 'm', bytes(10), { maxAppend: 5 }), (e) => e instanceof ApiError && e.code === 'network' && /connection/.test(e.message));
});

test('open resumes a cut download at a chunk boundary with the same claim', async () => {
  const total = HEADER_BYTES + 3 * CIPHER_CHUNK + 1000;
  const data = bytes(total);
  const reqs = [];
  const fetch = async (url, init) => {
    const req = JSON.parse(init.body);
    reqs.push(req);
    const off = req.offset || 0;
    const headers = { 'Content-Type': 'application/octet-stream', 'Sealdrop-Size': String(total) };
    const cut = reqs.length === 1 ? HEADER_BYTES + CIPHER_CHUNK + 12345 : undefined;
    return new Response(body(data.subarray(off), cut), { status: 200, headers });
  };
  const progress = [];
  const api = makeApi({ fetch, sleep: async () => {} });
  const got = await api.open('ID', { gate: 'Zw', claim: 'Yw' }, { onProgress: (d, t) => progress.push([d, t]) });
  assert.deepEqual(got, data);
  assert.equal(reqs.length, 2);
  assert.equal(reqs[1].offset, HEADER_BYTES + CIPHER_CHUNK);
  assert.equal(reqs[1].claim, reqs[0].claim);
  assert.equal(reqs[0].offset, undefined);
  assert.ok(!('open' in reqs[0]), 'no PIN tokens without a PIN');
  assert.ok(progress.length > 3);
  assert.deepEqual(progress.at(-1), [total, total]);
});

test('open maps wrong PIN and gone answers to typed errors', async () => {
  let answer;
  const api = makeApi({ fetch: async () => answer });
  answer = json(403, { error: 'wrong_pin', tries_left: 3 });
  await assert.rejects(api.open('ID', { gate: 'g', claim: 'c', open: 'o', destruct: 'd' }),
    (e) => e instanceof WrongPinError && e.triesLeft === 3 && /3 tries left/.test(e.message));
  answer = json(404, { error: 'gone' });
  await assert.rejects(api.open('ID', { gate: 'g', claim: 'c' }), (e) => e instanceof GoneError);
  answer = json(507, { error: 'full', message: 'The server is full.' });
  await assert.rejects(api.create({ length: 1, ttl: 300, gate_hash: 'a', destruct_hash: 'b', manage_hash: 'c' }),
    (e) => e instanceof ApiError && e.status === 507 && e.message === 'The server is full.');
});

test('bytes are sent as base64url strings in JSON bodies', async () => {
  let sent;
  const api = makeApi({ fetch: async (url, init) => { sent = JSON.parse(init.body); return new Response(null, { status: 204 }); } });
  await api.confirm('ID', new Uint8Array([0xfb, 0xff]), new Uint8Array([1, 2, 3]));
  assert.deepEqual(sent, { gate: '-_8', nonce: 'AQID' });
});

// A fake server of the note upload: the upload route finds the note by its manage secret, as
// the real one does, so a retry of it goes on with what arrived, and so does every later
// piece. It takes the requests in the order they are sent (two are in flight: http.test.js
// tests the server's hold of the second); commitLast false is a server that does not commit.
function uploadServer({ length, cuts = {}, lost = {}, commitLast = true } = {}) {
  const s = { have: 0, stored: [], calls: [], committed: false };
  s.fetch = async (url, init) => {
    const n = s.calls.length;
    const h = init.headers;
    s.calls.push({ url, headers: h, size: init.body ? init.body.length : 0 });
    if (url.endsWith('/commit')) { s.committed = true; return json(200, { id: 'ID', expires_in: 60 }); }
    assert.equal(h['Content-Type'], 'application/octet-stream');
    assert.equal(h['Sealdrop-Manage'], 'bWFuYWdl');
    const off = Number(h['Sealdrop-Offset']);
    // Every piece goes to the upload route with the create's headers.
    assert.match(url, /\/api\/v1\/notes\/upload$/);
    assert.equal(h['Sealdrop-Length'], String(length));
    assert.equal(h['Sealdrop-Gate-Hash'], 'Zw');
    assert.equal(h['Sealdrop-Destruct-Hash'], 'ZA');
    // The committing piece sent again: the committed answer again, nothing stored.
    if (s.committed) return json(200, { id: 'ID', received: off + init.body.length, committed: true, expires_in: 3600 });
    if (off !== s.have) return json(409, { error: 'offset', received: s.have });
    const cut = cuts[n];
    if (cut !== undefined) { // part of the body arrives, then the circuit dies
      s.stored.push(init.body.slice(0, cut)); s.have += cut;
      throw new TypeError('NetworkError');
    }
    s.stored.push(init.body.slice()); s.have += init.body.length;
    const done = s.have === length && commitLast;
    if (done) s.committed = true;
    if (lost[n]) throw new TypeError('NetworkError'); // all arrived, the answer did not
    return json(200, done ? { id: 'ID', received: s.have, committed: true, expires_in: 3600 } : { id: 'ID', received: s.have, expires_in: 3600 });
  };
  s.data = () => {
    const got = new Uint8Array(s.have);
    let o = 0;
    for (const p of s.stored) { got.set(p, o); o += p.length; }
    return got;
  };
  return s;
}

const caps = { ttl: 3600, gate_hash: 'Zw', destruct_hash: 'ZA', manage_hash: 'bQ', length: 1 };

test('put: a note up to max_append is one request, the create with the ciphertext', async () => {
  const data = bytes(3000);
  const s = uploadServer({ length: 3000 });
  const api = makeApi({ fetch: s.fetch, sleep: async () => {} });
  const got = await api.put(caps, 'bWFuYWdl', data, { price_token: 'dG9r' }, { maxAppend: 4096 });
  assert.deepEqual(got, { id: 'ID', expires_in: 3600 });
  assert.equal(s.calls.length, 1);
  assert.equal(s.calls[0].headers['Sealdrop-Ttl'], '3600');
  assert.equal(s.calls[0].headers['Sealdrop-Offset'], '0');
  assert.ok(!('Sealdrop-Open-Hash' in s.calls[0].headers), 'no open hash without a PIN');
  assert.equal(s.calls[0].headers['Sealdrop-Price-Token'], 'dG9r', 'the token at price 0: the id is bound to it');
  assert.ok(!('Sealdrop-Price-Nonce' in s.calls[0].headers), 'no payment at price 0');
  assert.deepEqual(s.data(), data);
});

test('put: a larger note is the create with the first piece, then one request per piece to the same route, the last committing', async () => {
  const data = bytes(10000);
  const s = uploadServer({ length: 10000 });
  const api = makeApi({ fetch: s.fetch, sleep: async () => {} });
  const progress = [];
  const got = await api.put({ ...caps, open_hash: 'bw' }, 'bWFuYWdl', data, { price_token: 'dG9r', price_nonce: 'bm9u' },
    { maxAppend: 4096, onProgress: (d, t) => progress.push([d, t]) });
  assert.deepEqual(got, { id: 'ID', expires_in: 3600 });
  assert.deepEqual(s.calls.map((c) => [c.url.replace(/.*\/notes\//, ''), c.size]), [['upload', 4096], ['upload', 4096], ['upload', 1808]]);
  assert.equal(s.calls[0].headers['Sealdrop-Open-Hash'], 'bw');
  assert.equal(s.calls[0].headers['Sealdrop-Price-Token'], 'dG9r');
  assert.equal(s.calls[0].headers['Sealdrop-Price-Nonce'], 'bm9u');
  assert.equal(s.calls[2].headers['Sealdrop-Price-Token'], 'dG9r', 'the token with every piece: the id is bound to it');
  assert.ok(!('Sealdrop-Price-Nonce' in s.calls[2].headers), 'once the id is named, the payment stays home');
  assert.deepEqual(s.data(), data);
  assert.deepEqual(progress.at(-1), [10000, 10000]);
});

test('put: a create cut mid-body is sent again and goes on from what the server holds', async () => {
  const data = bytes(10000);
  const s = uploadServer({ length: 10000, cuts: { 0: 1500 } });
  const api = makeApi({ fetch: s.fetch, sleep: async () => {} });
  const got = await api.put(caps, 'bWFuYWdl', data, {}, { maxAppend: 4096 });
  assert.equal(got.id, 'ID');
  // cut, with the next piece behind it (409: the fake holds 1500); the create again (409:
  // 1500), with the next behind it (given up); from 1500 on, two at a time.
  assert.deepEqual(s.calls.map((c) => c.headers['Sealdrop-Offset']), ['0', '4096', '0', '4096', '1500', '5596', '9692']);
  assert.deepEqual(s.data(), data);
  assert.ok(s.committed);
});

test('put: the committing piece whose answer was lost is sent again, and no commit follows', async () => {
  const data = bytes(10000);
  const s = uploadServer({ length: 10000, lost: { 2: true } });
  const api = makeApi({ fetch: s.fetch, sleep: async () => {} });
  const got = await api.put(caps, 'bWFuYWdl', data, {}, { maxAppend: 4096 });
  assert.deepEqual(got, { id: 'ID', expires_in: 3600 });
  assert.deepEqual(s.calls.map((c) => [c.url.replace(/.*\/notes\//, ''), c.headers['Sealdrop-Offset']]),
    [['upload', '0'], ['upload', '4096'], ['upload', '8192'], ['upload', '8192']]);
  assert.deepEqual(s.data(), data);
});

test('put: a 402 comes back with its price and nothing else is sent', async () => {
  const api = makeApi({ fetch: async () => json(402, { error: 'price', bits: 9, token: 'dG9r', message: 'pay' }), sleep: async () => {} });
  await assert.rejects(api.put(caps, 'bWFuYWdl', bytes(10), {}, { maxAppend: 4096 }),
    (e) => e instanceof ApiError && e.status === 402 && e.price.bits === 9 && e.price.token === 'dG9r');
});

test('put: commits by itself when the last piece did not', async () => {
  const data = bytes(5000);
  const s = uploadServer({ length: 5000, commitLast: false });
  const api = makeApi({ fetch: s.fetch, sleep: async () => {} });
  const got = await api.put(caps, 'bWFuYWdl', data, {}, { maxAppend: 4096 });
  assert.deepEqual(got, { id: 'ID', expires_in: 60 });
  assert.match(s.calls.at(-1).url, /\/api\/v1\/notes\/ID\/commit$/);
  assert.ok(s.committed);
});
