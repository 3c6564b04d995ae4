// Tests for static/js/drop-api.js against a fake drop server that checks what a real one
// checks: inbox MACs (with its own node:crypto verifier, itself checked against the shared
// vectors), single-use challenges, the proof of work, append offsets and fetch offsets
// (0, 90 or 90 + k·65,552). Connections are cut by the fake fetch.
// Run: node --test static/test/
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { dropApi, deliver } from '../js/drop-api.js';
import * as D from '../js/drop-protocol.js';
import { ApiError } from '../js/api.js';
import { vectors, hex } from './vector-helpers.js';

const V = vectors('drop-vectors.json');

const b64 = (b) => Buffer.from(b).toString('base64url');
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64url'));
const sha = (b) => new Uint8Array(crypto.createHash('sha256').update(b).digest());

const HEAD = 90; // ephemeral key (65) + envelope header (25)
const CHUNK = 65552;
const aligned = (off) => off === 0 || (off >= HEAD && (off - HEAD) % CHUNK === 0);

const keysOf = (k) => D.dropKeysFromScalars({
  flags: k.flags, encD: hex(k.enc_priv_hex), authD: hex(k.auth_priv_hex), enc: hex(k.enc_pub_hex), auth: hex(k.auth_pub_hex),
});

// ---- an inbox MAC verifier written against SECURITY.md with node:crypto, not drop-protocol.js ----

function route(flags, auth) {
  return sha(Buffer.concat([Buffer.from('sealdrop/v1 drop route'), Buffer.from([1, flags]), auth])).subarray(0, 16);
}

function inboxMessage({ flags, auth, challenge, serverPub, action, id, arg }) {
  return Buffer.concat([Buffer.from('sealdrop/v1 drop inbox'), Buffer.from([1]), route(flags, auth), challenge, serverPub,
    Buffer.from([action]), id || Buffer.alloc(16), arg || Buffer.alloc(32)]);
}

// The server side of the proof: Z = ECDH(s, A).
function expectedMAC({ serverPriv, ...rest }) {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.setPrivateKey(serverPriv);
  const z = ecdh.computeSecret(rest.auth);
  const km = Buffer.from(crypto.hkdfSync('sha256', z, rest.challenge, Buffer.from('sealdrop/v1 drop inbox'), 32));
  return new Uint8Array(crypto.createHmac('sha256', km).update(inboxMessage(rest)).digest());
}

// ---- fake fetch, JSON answers, and timers that do not wait ----

const realFetch = globalThis.fetch;
const realSetTimeout = globalThis.setTimeout;
let sleeps = [];

beforeEach(() => {
  sleeps = [];
  // drop-api.js backs off with setTimeout (1 s, 2 s, …); record the wait instead of waiting.
  globalThis.setTimeout = (fn, ms, ...args) => { sleeps.push(ms); return realSetTimeout(fn, 0, ...args); };
});

afterEach(() => {
  globalThis.fetch = realFetch;
  globalThis.setTimeout = realSetTimeout;
});

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const gone = () => json(404, { error: 'gone' });

// A body that delivers data in pieces and errors (as a cut circuit does) after cutAfter bytes.
function stream(data, cutAfter) {
  let sent = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (cutAfter !== undefined && sent >= cutAfter) { ctrl.error(new TypeError('network error')); return; }
      if (sent >= data.length) { ctrl.close(); return; }
      const end = Math.min(data.length, sent + 40000, cutAfter === undefined ? Infinity : cutAfter);
      ctrl.enqueue(data.slice(sent, end));
      sent = end;
    },
  });
}

/**
 * fakeDrop is one drop's server: it checks auth/flags against the route, issues single-use
 * challenges with fresh server keys and verifies MACs as the real server does, and lets a
 * test intercept any request (hooks[name](req) returning a Response, or undefined to go on).
 */
function fakeDrop(keys, { submission, hooks = {} } = {}) {
  const rt = b64(route(keys.flags, keys.auth));
  const base = `/api/v1/drops/${rt}`;
  const challenges = new Map();
  const s = { requests: [], macFailures: 0, claimed: null, confirmed: false, stored: [], have: 0, length: 0, commits: 0 };
  const keyOK = (b) => b.auth === b64(keys.auth) && b.flags === keys.flags;

  function proofOK(b, action, id, arg) {
    const ch = challenges.get(b.challenge);
    challenges.delete(b.challenge); // single use, whatever the outcome
    if (!ch || !keyOK(b)) return false;
    const want = expectedMAC({ serverPriv: ch.priv, serverPub: ch.pub, flags: keys.flags, auth: keys.auth, challenge: unb64(b.challenge), action, id, arg });
    const ok = typeof b.mac === 'string' && crypto.timingSafeEqual(Buffer.from(unb64(b.mac)), Buffer.from(want));
    if (!ok) s.macFailures++;
    return ok;
  }

  s.fetch = async (url, init) => {
    assert.ok(url.startsWith(base + '/'), `request outside the drop: ${url}`);
    const name = url.slice(base.length + 1);
    const isData = name.endsWith('/data') || name === 'upload';
    const body = isData ? init.body : JSON.parse(init.body);
    const req = { name, init, body, headers: init.headers };
    s.requests.push(req);
    const kind = name.replace(/^submissions\/[^/]+\/?/, 'submission/').replace(/^submission\/$/, 'submissions');
    if (hooks[kind]) {
      const r = await hooks[kind](req, s);
      if (r !== undefined) return r;
    }
    if (!isData && !keyOK(body)) return gone();
    switch (kind) {
      case 'challenge': {
        const ecdh = crypto.createECDH('prime256v1');
        ecdh.generateKeys();
        const n = b64(crypto.randomBytes(32));
        challenges.set(n, { priv: ecdh.getPrivateKey(), pub: ecdh.getPublicKey() });
        return json(200, { challenge: n, server_key: b64(ecdh.getPublicKey()), expires_in: 60 });
      }
      case 'list':
        if (!proofOK(body, D.ACTION_LIST)) return gone();
        return json(200, { submissions: [], fetched_since_list: 0, fetched_total: 0, lists_total: 1 });
      case 'wipe':
        if (!proofOK(body, D.ACTION_WIPE)) return gone();
        return json(200, { wiped: 0 });
      case 'submission/fetch': {
        const id = unb64(name.split('/')[1]);
        const claim = unb64(body.claim);
        if (!proofOK(body, D.ACTION_FETCH, id, claim)) return gone();
        if (s.claimed && b64(s.claimed) !== body.claim) return gone(); // claimed by someone else
        s.claimed = claim;
        if (typeof body.offset !== 'number' || !aligned(body.offset) || body.offset > submission.length) {
          return json(400, { error: 'bad_parameter', message: 'offset' });
        }
        const cut = s.cuts && s.cuts.length ? s.cuts.shift() : undefined;
        return new Response(stream(submission.subarray(body.offset), cut), {
          status: 200, headers: { 'Content-Type': 'application/octet-stream', 'Sealdrop-Size': String(submission.length) },
        });
      }
      case 'submission/confirm': {
        const id = unb64(name.split('/')[1]);
        const nonce = unb64(body.nonce);
        if (!s.claimed || !proofOK(body, D.ACTION_CONFIRM, id, sha(nonce))) return gone();
        if (b64(sha(nonce)) !== b64(s.claimed)) return gone();
        s.confirmed = true;
        return new Response(null, { status: 204 });
      }
      default:
        throw new Error(`the fake drop has no ${name}`);
    }
  };
  return s;
}

async function vectorKeys() { return Promise.all(V.keys.map(keysOf)); }

// ---- the verifier itself ----

test('the test verifier computes the vectors\' inbox messages and MACs (so it can judge the client)', async () => {
  for (const c of V.inbox) {
    const k = V.keys[c.key];
    const args = {
      flags: k.flags, auth: hex(k.auth_pub_hex), challenge: hex(c.challenge_hex), serverPub: hex(c.server_pub_hex),
      action: c.action, id: hex(c.id_hex), arg: hex(c.arg_hex),
    };
    assert.equal(Buffer.from(inboxMessage(args)).toString('hex'), c.message_hex);
    assert.equal(Buffer.from(expectedMAC({ serverPriv: hex(c.server_priv_hex), ...args })).toString('hex'), c.mac_hex);
    // and it can say no: another action is another MAC
    assert.notEqual(Buffer.from(expectedMAC({ serverPriv: hex(c.server_priv_hex), ...args, action: c.action % 4 + 1 })).toString('hex'), c.mac_hex);
  }
});

// ---- inbox request shapes ----

test('list and wipe ask for a challenge with {auth, flags}, then send exactly the vectors\' MAC', async () => {
  const keys = await vectorKeys();
  const cases = V.inbox.filter((c) => c.action === D.ACTION_LIST || c.action === D.ACTION_WIPE);
  assert.ok(cases.length >= 3, 'the vectors hold a list, a list after a cursor and a wipe');
  assert.ok(cases.some((c) => c.action === D.ACTION_LIST && !/^0+$/.test(c.id_hex)), 'a list after a cursor');
  for (const c of cases) {
    const k = keys[c.key];
    const vk = V.keys[c.key];
    const seen = [];
    globalThis.fetch = async (url, init) => {
      seen.push({ url, init, body: JSON.parse(init.body) });
      if (url.endsWith('/challenge')) {
        return json(200, { challenge: b64(hex(c.challenge_hex)), server_key: b64(hex(c.server_pub_hex)), expires_in: 60 });
      }
      return json(200, c.action === D.ACTION_LIST ? { submissions: [], fetched_since_list: 0, fetched_total: 0, lists_total: 1 } : { wiped: 3 });
    };
    const api = await dropApi(k);
    assert.equal(api.route, vk.route);
    // A list vector with a non-zero id is a list after that cursor.
    const cursor = /^0+$/.test(c.id_hex) ? undefined : b64(hex(c.id_hex));
    const got = c.action === D.ACTION_LIST ? await api.list(cursor) : await api.wipe();
    if (c.action === D.ACTION_WIPE) assert.deepEqual(got, { wiped: 3 });
    assert.equal(seen.length, 2);
    const [ch, act] = seen;
    assert.equal(ch.url, `/api/v1/drops/${vk.route}/challenge`);
    assert.deepEqual(ch.body, { auth: b64(hex(vk.auth_pub_hex)), flags: vk.flags });
    assert.equal(act.url, `/api/v1/drops/${vk.route}/${c.action === D.ACTION_LIST ? 'list' : 'wipe'}`);
    assert.deepEqual(act.body, {
      auth: b64(hex(vk.auth_pub_hex)), flags: vk.flags, challenge: b64(hex(c.challenge_hex)), mac: b64(hex(c.mac_hex)),
      ...(cursor ? { after: cursor } : {}),
    });
    for (const r of seen) {
      assert.equal(r.init.method, 'POST');
      assert.equal(r.init.credentials, 'same-origin');
      assert.equal(r.init.redirect, 'error');
      assert.equal(r.init.cache, 'no-store');
      assert.equal(r.init.referrerPolicy, 'no-referrer');
      assert.equal(r.init.headers['Content-Type'], 'application/json');
      // nothing secret in the request: neither scalar, in any case
      for (const secret of [vk.enc_priv_hex, vk.auth_priv_hex]) {
        assert.ok(!r.init.body.includes(b64(hex(secret)).slice(0, 20)) && !r.init.body.toLowerCase().includes(secret.slice(0, 20)));
      }
    }
  }
});

// ---- fetch: claim, cut, resume, confirm ----

function bytes(n, seed = 7) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

test('a cut download resumes at a whole chunk with the same claim, a new challenge and a valid MAC; confirm sends the claim nonce', async () => {
  const keys = await vectorKeys();
  const id = b64(bytes(16, 3));
  for (const { name, cuts, resumes } of [
    { name: 'cut inside chunk 2', cuts: [HEAD + CHUNK + 12345], resumes: [HEAD + CHUNK] },
    { name: 'cut inside the head', cuts: [40], resumes: [0] },
    { name: 'cut just past the head, then inside chunk 3', cuts: [HEAD + 5, 2 * CHUNK + 17], resumes: [HEAD, HEAD + 2 * CHUNK] },
  ]) {
    sleeps = [];
    const submission = bytes(HEAD + 3 * CHUNK + 1000);
    const srv = fakeDrop(keys[0], { submission });
    srv.cuts = [...cuts];
    globalThis.fetch = srv.fetch;
    const api = await dropApi(keys[0]);
    const progress = [];
    const { ciphertext, nonce } = await api.fetch(id, { onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(ciphertext, submission, name);
    assert.equal(srv.macFailures, 0, name);
    const fetches = srv.requests.filter((r) => r.name.endsWith('/fetch'));
    assert.equal(fetches.length, 1 + cuts.length, name);
    assert.deepEqual(fetches.map((r) => r.body.offset), [0, ...resumes], name);
    for (const f of fetches) {
      assert.equal(f.name, `submissions/${id}/fetch`);
      assert.ok(aligned(f.body.offset), `${name}: offset ${f.body.offset}`);
      assert.equal(f.body.claim, fetches[0].body.claim, `${name}: the same claim on resume`);
    }
    assert.equal(new Set(fetches.map((f) => f.body.challenge)).size, fetches.length, `${name}: a new challenge each time`);
    assert.equal(srv.requests.filter((r) => r.name === 'challenge').length, fetches.length, name);
    assert.equal(b64(sha(nonce)), fetches[0].body.claim, `${name}: the claim is SHA-256 of the nonce returned`);
    assert.equal(sleeps.length, cuts.length, `${name}: one backoff per cut`);
    assert.deepEqual(progress.at(-1), [submission.length, submission.length], name);

    await api.confirm(id, nonce);
    assert.ok(srv.confirmed, name);
    const conf = srv.requests.at(-1);
    assert.equal(conf.name, `submissions/${id}/confirm`);
    assert.deepEqual(Object.keys(conf.body).sort(), ['auth', 'challenge', 'flags', 'mac', 'nonce']);
    assert.equal(conf.body.nonce, b64(nonce));
    assert.equal(srv.macFailures, 0);
  }
});

test('confirm with another nonce than the claimed one is refused as gone', async () => {
  const keys = await vectorKeys();
  const srv = fakeDrop(keys[1], { submission: bytes(HEAD + 10) });
  globalThis.fetch = srv.fetch;
  const api = await dropApi(keys[1]);
  const id = b64(bytes(16, 9));
  const { nonce } = await api.fetch(id);
  const wrong = nonce.slice();
  wrong[0] ^= 1;
  await assert.rejects(api.confirm(id, wrong), (e) => e instanceof ApiError && e.code === 'gone' && e.status === 404);
  assert.equal(srv.confirmed, false);
  await api.confirm(id, nonce);
  assert.equal(srv.confirmed, true);
});

test('a download that keeps breaking gives up with the network message; a gone claim is not retried', async () => {
  const keys = await vectorKeys();
  const submission = bytes(HEAD + 2 * CHUNK);
  const srv = fakeDrop(keys[0], { submission });
  srv.cuts = [HEAD + 10, HEAD + 10, HEAD + 10, HEAD + 10, HEAD + 10, HEAD + 10];
  globalThis.fetch = srv.fetch;
  const api = await dropApi(keys[0]);
  await assert.rejects(api.fetch('AAAAAAAAAAAAAAAAAAAAAA'), (e) => e instanceof ApiError && e.code === 'network' && /Tor Browser/.test(e.message));
  assert.equal(srv.requests.filter((r) => r.name.endsWith('/fetch')).length, 5, 'four retries, then stop');

  const srv2 = fakeDrop(keys[0], { submission, hooks: { 'submission/fetch': () => gone() } });
  globalThis.fetch = srv2.fetch;
  const api2 = await dropApi(keys[0]);
  await assert.rejects(api2.fetch('AAAAAAAAAAAAAAAAAAAAAA'), (e) => e.code === 'gone' && /No drop box was found for this link/.test(e.message));
  assert.equal(srv2.requests.filter((r) => r.name.endsWith('/fetch')).length, 1);
});

// ---- submissions: the price, the upload route with resume and commit ----

// The price hash, written here against SECURITY.md with node:crypto, not price.js.
function priceZeros(token, { kind, scope, manage, length, ttl }, nonce) {
  const head = Buffer.alloc(1 + 16 + 32 + 8 + 4);
  head[0] = kind;
  Buffer.from(scope).copy(head, 1);
  Buffer.from(manage).copy(head, 17);
  head.writeBigUInt64BE(BigInt(length), 49);
  head.writeUInt32BE(ttl, 57);
  const h = sha(Buffer.concat([Buffer.from('sealdrop/v1 price'), token, head, nonce]));
  let n = 0;
  for (const byte of h) {
    if (byte !== 0) return n + Math.clz32(byte) - 24;
    n += 8;
  }
  return n;
}

const PRICE_TOKEN = bytes(20, 7);
const DROP_TTL = 1209600;
// What a submission of length bytes costs at a level (SECURITY.md: ceil(log2(KiB × hours)) + 2 × level − 12).
const bitsAt = (level, length) => {
  if (level <= 0) return 0;
  const units = Math.ceil(length / 1024) * Math.ceil(DROP_TTL / 3600);
  return Math.max(0, Math.ceil(Math.log2(units)) + 2 * level - 12);
};

const SUB_ID = 'SUBMISSIONIDxxxxxxxxxx';

/**
 * submitServer is the upload route (POST /api/v1/drops/{route}/upload) of one submission as
 * the real server answers it: the drop key in headers (else gone); the first request creates
 * the submission, asking the price of `level` (a 402 when unpaid, checked with its own
 * verifier); every piece at its offset (a 409 names what it holds); the piece that completes
 * it commits it, and a request after that answers the commit again. onSubmit may answer a
 * create, onAppend a piece.
 */
function submitServer(keys, { level = 0, onAppend, onSubmit } = {}) {
  const s = fakeDrop(keys, {
    hooks: {
      upload: (req, st) => {
        const h = req.headers;
        assert.equal(h['Content-Type'], 'application/octet-stream');
        if (h['Sealdrop-Drop-Auth'] !== b64(keys.auth) || h['Sealdrop-Drop-Flags'] !== String(keys.flags)) return gone();
        const manageHash = b64(sha(unb64(h['Sealdrop-Manage'])));
        const length = Number(h['Sealdrop-Length']);
        const off = Number(h['Sealdrop-Offset']);
        req.offset = off;
        req.length = length;
        if (!st.manageHash) {
          if (off !== 0) return gone();
          if (onSubmit) { const r = onSubmit(req, st); if (r) return r; }
          const need = bitsAt(level, length);
          const paid = need === 0 || (h['Sealdrop-Price-Token'] === b64(PRICE_TOKEN) && typeof h['Sealdrop-Price-Nonce'] === 'string'
            && priceZeros(PRICE_TOKEN, { kind: 3, scope: route(keys.flags, keys.auth), manage: unb64(manageHash), length, ttl: DROP_TTL }, unb64(h['Sealdrop-Price-Nonce'])) >= need);
          if (!paid) return json(402, { error: 'price', message: 'pay', bits: need, token: b64(PRICE_TOKEN), expires_in: 300 });
          st.length = length;
          st.manageHash = manageHash;
          st.creates = (st.creates || 0) + 1;
        }
        assert.equal(manageHash, st.manageHash, 'the manage secret of the submission');
        assert.equal(length, st.length);
        if (st.commits > 0) return json(200, { id: SUB_ID, received: st.length, committed: true, expires_in: 3600 });
        if (onAppend) { const r = onAppend(req, st); if (r !== undefined) return r; }
        if (off !== st.have) return json(409, { error: 'offset', received: st.have });
        st.stored.push(req.body.slice());
        st.have += req.body.length;
        if (st.have < st.length) return json(200, { id: SUB_ID, received: st.have, expires_in: DROP_TTL });
        st.commits++;
        return json(200, { id: SUB_ID, received: st.have, committed: true, expires_in: 3600 });
      },
    },
  });
  s.data = () => Buffer.concat(s.stored);
  s.uploads = () => s.requests.filter((r) => r.name === 'upload');
  return s;
}

// limits as the submit page has them: price token and level, the drop's lifetime and size.
const limitsAt = (level, maxEntry = 1 << 24) => ({
  max_append: 65536, price: { token: b64(PRICE_TOKEN), expires_in: 300, levels: { note: 0, drop: level } },
  drop: { ttl: DROP_TTL, max_entry: maxEntry },
});

test('deliver pays the price the limits predict with the smallest nonce, uploads in pieces to the upload route, the last commits, and the stored bytes open', async () => {
  const keys = await vectorKeys();
  const file = { name: 'a.bin', type: 'application/octet-stream', bytes: bytes(200000) };
  const level = 3;
  const srv = submitServer(keys[0], { level });
  globalThis.fetch = srv.fetch;
  const steps = [];
  const drop = { flags: keys[0].flags, enc: keys[0].enc, auth: keys[0].auth }; // what a drop link holds
  const text = 'The ledger is in the second drawer.';
  const done = await deliver({ drop, text, files: [file], limits: limitsAt(level), steps: (st, d, t) => steps.push([st, d, t]) });
  assert.deepEqual(done, { id: SUB_ID, expiresIn: 3600 });

  const ups = srv.uploads();
  assert.equal(srv.creates, 1);
  assert.equal(ups.filter((r) => r.offset === 0).length, 1, 'the price came with the limits: no 402, no extra request');
  const sub = ups[0];
  const need = bitsAt(level, sub.length);
  assert.ok(need >= 8, `a price worth watching (${need} bits)`);
  assert.equal(sub.headers['Sealdrop-Price-Token'], b64(PRICE_TOKEN));
  assert.ok(ups.every((u) => u.headers['Sealdrop-Price-Token'] === b64(PRICE_TOKEN)), 'every piece carries the token');
  const req = { kind: 3, scope: route(keys[0].flags, keys[0].auth), manage: sha(unb64(sub.headers['Sealdrop-Manage'])), length: sub.length, ttl: DROP_TTL };
  const nonce = unb64(sub.headers['Sealdrop-Price-Nonce']);
  assert.ok(priceZeros(PRICE_TOKEN, req, nonce) >= need, 'it pays');
  const n = Number(Buffer.from(nonce).readBigUInt64BE());
  for (let i = 0; i < n; i++) {
    const c = Buffer.alloc(8);
    c.writeBigUInt64BE(BigInt(i));
    assert.ok(priceZeros(PRICE_TOKEN, req, c) < need, 'the smallest nonce, as the Go client finds it');
  }
  assert.equal(sub.headers['Sealdrop-Drop-Auth'], b64(keys[0].auth));
  assert.equal(sub.length, srv.data().length);
  for (const u of ups.slice(1)) assert.equal(u.headers['Sealdrop-Price-Nonce'], undefined, 'later pieces pay nothing');
  const pow = steps.filter(([st]) => st === 'pow');
  assert.deepEqual(pow[0], ['pow', 0, 2 ** need], 'the bar starts at 0');
  assert.deepEqual(pow.at(-1), ['pow', 2 ** need, 2 ** need], 'and ends full');
  for (let i = 1; i < pow.length; i++) assert.ok(pow[i][1] >= pow[i - 1][1], 'never goes back');
  assert.equal(ups.length, 4, 'in pieces of max_append');
  assert.deepEqual(ups.map((u) => u.offset), [0, 65536, 131072, 196608]);
  for (const a of ups) assert.ok(a.body.length <= 65536);
  assert.equal(srv.requests.length, ups.length, 'no other request: no create, no commit');
  assert.equal(srv.commits, 1);
  const opened = await D.openSubmission({ keys: keys[0], ciphertext: new Uint8Array(srv.data()) });
  assert.equal(opened.text, text);
  assert.deepEqual(opened.files[0].bytes, file.bytes);
});

test('a submission up to max_append is one request', async () => {
  const keys = await vectorKeys();
  const drop = { flags: keys[0].flags, enc: keys[0].enc, auth: keys[0].auth };
  const srv = submitServer(keys[0]);
  globalThis.fetch = srv.fetch;
  const done = await deliver({ drop, text: 'short', files: [{ name: 'b', type: 'x/y', bytes: bytes(30000) }], limits: limitsAt(0) });
  assert.deepEqual(done, { id: SUB_ID, expiresIn: 3600 });
  assert.deepEqual(srv.requests.map((r) => r.name), ['upload']);
  assert.equal(srv.commits, 1);
});

test('below half full nothing is solved; a price that rose since the page loaded is paid when the server asks', async () => {
  const keys = await vectorKeys();
  const drop = { flags: keys[0].flags, enc: keys[0].enc, auth: keys[0].auth };
  const file = { name: 'a.bin', type: 'application/octet-stream', bytes: bytes(100000) };
  // Free: no price headers, no work.
  let srv = submitServer(keys[0], { level: 0 });
  globalThis.fetch = srv.fetch;
  let steps = [];
  await deliver({ drop, text: 'x', files: [file], limits: limitsAt(0), steps: (st) => steps.push(st) });
  let firsts = srv.uploads().filter((r) => r.offset === 0);
  assert.equal(firsts.length, 1);
  assert.equal(firsts[0].headers['Sealdrop-Price-Nonce'], undefined);
  assert.ok(!steps.includes('pow'));
  // The page thought the drop was free; the server asks level 2: one 402, then paid.
  srv = submitServer(keys[0], { level: 2 });
  globalThis.fetch = srv.fetch;
  steps = [];
  await deliver({ drop, text: 'x', files: [file], limits: limitsAt(0), steps: (st) => steps.push(st) });
  firsts = srv.uploads().filter((r) => r.offset === 0);
  assert.equal(firsts.length, 2, 'unpaid, then paid');
  assert.ok(steps.includes('pow'));
  assert.equal(srv.creates, 1);
  assert.equal(srv.commits, 1);
});

test('upload resumes from the server\'s offset after a failed piece (answer lost, or piece lost), and a lost commit answer is asked again', async () => {
  const keys = await vectorKeys();
  const data = bytes(10 * 1000 + 123);
  for (const { name, fail, at = 3 } of [
    // The server stored piece 3 but the answer never came back: the retry is told where it is.
    { name: 'answer lost', fail: (req, st) => { st.stored.push(req.body.slice()); st.have += req.body.length; throw new TypeError('NetworkError'); } },
    // The request died before the server got it.
    { name: 'append lost', fail: () => { throw new TypeError('NetworkError'); } },
    // The server got part of it and says so.
    { name: 'partial append', fail: (req, st) => { st.stored.push(req.body.slice(0, 700)); st.have += 700; return json(409, { error: 'offset', received: st.have }); } },
    // An earlier try is still running on the server (its circuit died): busy, wait, ask again.
    { name: 'busy', fail: (req, st) => { st.stored.push(req.body.slice(0, 700)); st.have += 700; return json(409, { error: 'busy', message: 'an append to this submission is still running; retry shortly' }); } },
    // The first request, which creates the submission, is cut after the server stored it.
    { name: 'first answer lost', at: 1, fail: (req, st) => { st.stored.push(req.body.slice()); st.have += req.body.length; throw new TypeError('NetworkError'); } },
    // The last piece committed the submission but its answer was lost: the same piece again.
    { name: 'commit answer lost', at: 6, fail: (req, st) => { st.stored.push(req.body.slice()); st.have += req.body.length; st.commits++; throw new TypeError('NetworkError'); } },
  ]) {
    let n = 0;
    const srv = submitServer(keys[0], { onAppend: (req, st) => (++n === at ? fail(req, st) : undefined) });
    globalThis.fetch = srv.fetch;
    sleeps = [];
    const api = await dropApi(keys[0]);
    const progress = [];
    const done = await api.put(bytes(32, 1), data, {}, { maxAppend: 2000, onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(done, { id: SUB_ID, expires_in: 3600 }, name);
    assert.deepEqual(new Uint8Array(srv.data()), data, name);
    assert.equal(srv.creates, 1, `${name}: one submission`);
    assert.equal(srv.commits, 1, name);
    const offsets = srv.uploads().map((r) => r.offset);
    // Two pieces in flight: the piece behind a failed one is given up with it and sent again.
    if (name === 'answer lost') assert.deepEqual(offsets.slice(0, 5), [0, 2000, 4000, 6000, 4000], `${name}: retried, told where to go on by a 409`);
    if (name === 'append lost') assert.deepEqual(offsets.slice(0, 6), [0, 2000, 4000, 6000, 4000, 6000], name);
    if (name === 'partial append') assert.equal(offsets[4], 4700, `${name}: went on from received`);
    if (name === 'busy') assert.deepEqual(offsets.slice(0, 7), [0, 2000, 4000, 6000, 4000, 6000, 4700], `${name}: waited, asked again, told 4700 by a 409`);
    if (name === 'first answer lost') assert.deepEqual(offsets.slice(0, 4), [0, 2000, 0, 2000], `${name}: the same first request again`);
    if (name === 'commit answer lost') assert.deepEqual(offsets.slice(-2), [10000, 10000], `${name}: the last piece again, answered committed`);
    assert.ok(offsets.every((o) => o <= data.length));
    assert.deepEqual(progress.at(-1), [data.length, data.length], name);
    assert.equal(sleeps.length, name === 'partial append' ? 0 : 1, `${name}: a network failure or busy backs off, a 409 with an offset does not need to`);
  }
});

test('an upload that keeps failing stops with the network message', async () => {
  const keys = await vectorKeys();
  globalThis.fetch = async () => { throw new TypeError('NetworkError'); };
  const api = await dropApi(keys[0]);
  await assert.rejects(api.put(bytes(32), bytes(10), {}, { maxAppend: 4 }),
    (e) => e instanceof ApiError && e.code === 'network' && /Tor Browser is connected/.test(e.message));
  assert.deepEqual(sleeps, [1000, 2000, 4000, 8000], 'four retries with doubling backoff');
});

// ---- refusals ----

test('refusals map to clear errors', async () => {
  const keys = await vectorKeys();
  const drop = { flags: keys[0].flags, enc: keys[0].enc, auth: keys[0].auth };
  for (const { name, piece = 0, answer, code, status, message } of [
    { name: 'used reply box / wrong key', answer: () => gone(), code: 'gone', status: 404, message: /No drop box was found for this link/ },
    { name: 'drop full', answer: () => json(507, { error: 'full', message: 'this drop or the server has no room now' }), code: 'full', status: 507, message: /full right now\. Nothing was stored/ },
    { name: 'too large', answer: () => json(413, { error: 'too_large', message: 'length is over max_entry' }), code: 'too_large', status: 413, message: /larger than the drop box accepts/ },
    { name: 'busy', answer: () => json(503, { error: 'busy', message: 'x' }), code: 'busy', status: 503, message: /busy/ },
    { name: 'full during upload', piece: 1, answer: () => json(507, { error: 'full', message: 'x' }), code: 'full', status: 507, message: /full right now/ },
    { name: 'a proxy\'s non-JSON error', answer: () => new Response('<html>bad gateway</html>', { status: 502 }), code: 'http_502', status: 502, message: /error 502/ },
  ]) {
    const srv = submitServer(keys[0]);
    const inner = srv.fetch;
    let n = 0;
    // From that piece on: a piece sent behind another and refused is sent again alone.
    globalThis.fetch = async (url, init) => (n++ >= piece ? answer() : inner(url, init));
    const limits = { ...limitsAt(0), max_append: 1000 };
    await assert.rejects(deliver({ drop, text: 'x', files: [{ name: 'b', type: 'x/y', bytes: bytes(3000) }], limits }), (e) => {
      assert.ok(e instanceof ApiError, name);
      assert.equal(e.code, code, name);
      assert.equal(e.status, status, name);
      assert.match(e.message, message, name);
      return true;
    });
    assert.equal(srv.commits, 0, `${name}: nothing committed`);
  }
});

test('a price that keeps rising is paid twice more, then reported plainly; nothing is uploaded', async () => {
  const keys = await vectorKeys();
  const drop = { flags: keys[0].flags, enc: keys[0].enc, auth: keys[0].auth };
  let asked = 0;
  const srv = submitServer(keys[0], {
    onSubmit: () => json(402, { error: 'price', message: 'pay', bits: 2 + asked++, token: b64(PRICE_TOKEN), expires_in: 300 }),
  });
  globalThis.fetch = srv.fetch;
  await assert.rejects(deliver({ drop, text: 'again', files: [], limits: limitsAt(0) }),
    (e) => e instanceof ApiError && e.code === 'price' && e.status === 402 && /became fuller in the meantime/i.test(e.message));
  assert.equal(srv.uploads().length, 3);
  assert.equal(srv.data().length, 0);
  assert.equal(srv.creates, undefined);
});

test('a price over what a browser can pay is refused before any work, with a plain way out', async () => {
  const keys = await vectorKeys();
  const drop = { flags: keys[0].flags, enc: keys[0].enc, auth: keys[0].auth };
  const srv = submitServer(keys[0], { level: 10 });
  globalThis.fetch = srv.fetch;
  await assert.rejects(deliver({ drop, text: 'x', files: [{ name: 'b', type: 'x/y', bytes: bytes(3 << 20) }], limits: limitsAt(10) }),
    (e) => e.code === 'too_dear' && /shorter time/.test(e.message));
  assert.deepEqual(srv.requests, [], 'nothing was asked');
});

test('a submission over the drop\'s max_entry is refused before anything is created', async () => {
  const keys = await vectorKeys();
  const drop = { flags: keys[0].flags, enc: keys[0].enc, auth: keys[0].auth };
  const srv = submitServer(keys[0]);
  globalThis.fetch = srv.fetch;
  await assert.rejects(deliver({ drop, text: 'x', files: [{ name: 'b', type: 'x/y', bytes: bytes(10000) }], limits: limitsAt(0, 4096) }),
    (e) => e instanceof ApiError && e.code === 'too_large' && e.status === 413 && /larger than the drop box accepts/.test(e.message));
  assert.deepEqual(srv.requests.map((r) => r.name), [], 'nothing was asked');
});

test('a resume whose challenge request fails on the network backs off and retries with the same claim', async () => {
  // After a cut, the next request is the challenge, on a circuit that may still be down. The
  // submission is already claimed with this download's nonce: giving up here would lose it.
  const keys = await vectorKeys();
  sleeps = [];
  const submission = bytes(HEAD + 2 * CHUNK + 5);
  let challenges = 0;
  const srv = fakeDrop(keys[0], {
    submission,
    hooks: { challenge: () => { if (++challenges === 2) throw new TypeError('NetworkError when attempting to fetch resource.'); } },
  });
  srv.cuts = [HEAD + CHUNK + 3];
  globalThis.fetch = srv.fetch;
  const api = await dropApi(keys[0]);
  const { ciphertext, nonce } = await api.fetch('AAAAAAAAAAAAAAAAAAAAAA');
  assert.deepEqual(ciphertext, submission);
  const fetches = srv.requests.filter((r) => r.name.endsWith('/fetch'));
  assert.deepEqual(fetches.map((r) => r.body.offset), [0, HEAD + CHUNK]);
  assert.equal(fetches[1].body.claim, fetches[0].body.claim);
  assert.equal(fetches[0].body.claim, b64(sha(nonce)));
  assert.equal(sleeps.length, 2, 'one backoff for the cut, one for the failed challenge');
  assert.equal(srv.macFailures, 0);
});
