// Calls of the drop API (SECURITY.md, "HTTP API for drops"), shared by the submit page and the
// inbox. Only public keys (A, flags), proofs, ciphertext and one-time secrets pass through
// here: e and a never leave drop-protocol.js, which turns them into MACs and plaintext.
//
// A drop answers every wrong route, key, proof or id with the same gone; this module keeps
// that single answer (code "gone") and lets each page say what it means there.

import { b64uEncode, b64uDecode, randomBytes, sha256 } from './protocol.js';
import {
  ACTION_LIST, ACTION_FETCH, ACTION_CONFIRM, ACTION_WIPE, routeId, inboxMAC, sealSubmission,
} from './drop-protocol.js';
import { ApiError } from './api.js';
import { payAndCreate, PRICE_SUBMISSION } from './price.js';

const NETWORK_MESSAGE = 'The connection to the server failed. Check that Tor Browser is connected, then try again.';
const SUBMISSION_HEAD = 65 + 25; // ephemeral key + envelope header: where a resumed fetch may start
const CIPHER_CHUNK = 65552;

const MESSAGES = {
  gone: 'This drop box does not answer to this link: the link is wrong or incomplete, or it was already used.',
  full: 'This drop box is full right now. Nothing was stored. Try again later, or send less.',
  too_large: 'This is larger than the drop box accepts. Send fewer or smaller files.',
  busy: 'The server is busy. Wait a minute and try again.',
  price: 'The anti-spam check was not enough: the drop box filled meanwhile. Send again.',
};

async function errorFrom(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON: use the status */ }
  if (res.status === 404) return new ApiError('gone', MESSAGES.gone, 404);
  const code = (body && body.error) || `http_${res.status}`;
  const message = MESSAGES[code] || (body && body.message) || `The server refused the request (error ${res.status}).`;
  const err = new ApiError(code, message, res.status);
  if (body && typeof body.received === 'number') err.received = body.received;
  if (res.status === 402 && body && body.error === 'price') err.price = { bits: Number(body.bits), token: body.token };
  return err;
}

async function call(path, init) {
  try {
    return await fetch(path, {
      method: 'POST',
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      redirect: 'error',
      ...init,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError('network', NETWORK_MESSAGE);
  }
}

async function json(path, body) {
  const res = await call(path, { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  return res.json();
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/**
 * dropApi binds the calls to one drop: drop is {flags, enc, auth} (a drop link's keys) or the
 * keys of an inbox link (then the inbox calls work too).
 */
export async function dropApi(drop) {
  const route = await routeId(drop);
  const base = `/api/v1/drops/${route}`;
  const who = () => ({ auth: b64uEncode(drop.auth), flags: drop.flags });

  async function proof(action, id, arg) {
    const ch = await json(`${base}/challenge`, who());
    const challenge = b64uDecode(ch.challenge);
    const serverKey = b64uDecode(ch.server_key);
    const mac = await inboxMAC({ keys: drop, challenge, serverKey, action, id: id ? b64uDecode(id) : null, arg });
    return { ...who(), challenge: ch.challenge, mac: b64uEncode(mac) };
  }

  return {
    route,

    /** submit creates a pending submission; payment is {} or {price_token, price_nonce}. */
    submit: ({ length, manageHash }, payment = {}) => json(`${base}/submissions`, {
      ...who(), length, manage_hash: b64uEncode(manageHash), ...payment,
    }),

    /** upload appends like a note's upload, resuming from what the server says it holds. */
    async upload(id, manage, data, { maxAppend, onProgress } = {}) {
      const step = Math.max(1, maxAppend || 1 << 20);
      const M = b64uEncode(manage);
      let offset = 0;
      let failures = 0;
      if (onProgress) onProgress(0, data.length);
      while (offset < data.length) {
        const end = Math.min(offset + step, data.length);
        let res;
        try {
          res = await call(`${base}/submissions/${id}/data`, {
            headers: { 'Content-Type': 'application/octet-stream', 'Sealdrop-Manage': M, 'Sealdrop-Offset': String(offset) },
            body: data.subarray(offset, end),
          });
        } catch (e) {
          if (!(e instanceof ApiError) || ++failures > 4) throw e;
          await sleep(1000 * 2 ** (failures - 1));
          continue;
        }
        if (res.ok) {
          const got = await res.json();
          offset = typeof got.received === 'number' ? got.received : end;
          failures = 0;
        } else {
          const err = await errorFrom(res);
          if (err.status === 409 && err.code === 'busy') {
            // An earlier try of ours is still running on the server (its circuit died under
            // it); the server cuts it off, so wait and ask again.
            if (++failures > 4) throw err;
            await sleep(1000 * 2 ** (failures - 1));
            continue;
          }
          if (err.status !== 409 || typeof err.received !== 'number' || ++failures > 4) throw err;
          offset = err.received;
        }
        if (onProgress) onProgress(offset, data.length);
      }
    },

    commit: (id, manage) => json(`${base}/submissions/${id}/commit`, { ...who(), manage: b64uEncode(manage) }),

    /**
     * list → {submissions: [{id, age_hours, size}] (at most 100, oldest first), pending, more,
     * visits: [{day, fetched}], fetched_since_list, fetched_total, lists_total}. after (a
     * submission id) asks for the page that follows it; the proof binds it.
     */
    async list(after) {
      const body = await proof(ACTION_LIST, after || null);
      if (after) body.after = after;
      return json(`${base}/list`, body);
    },

    /**
     * fetch claims a submission and downloads its ciphertext; a broken download resumes from
     * its last whole chunk with a new challenge and the same claim. → {ciphertext, nonce}
     */
    async fetch(id, { onProgress } = {}) {
      const nonce = randomBytes(32);
      const hash = await sha256(nonce);
      let parts = [];
      let have = 0;
      let failures = 0;
      for (;;) {
        let res;
        try {
          // The challenge is inside the retry: after a cut it is the first request on a circuit
          // that may still be down, and the claim (this nonce) is already spent on the server.
          const body = { ...await proof(ACTION_FETCH, id, hash), claim: b64uEncode(hash), offset: have };
          res = await call(`${base}/submissions/${id}/fetch`, { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        } catch (e) {
          if (!(e instanceof ApiError) || e.code !== 'network' || ++failures > 4) throw e;
          await sleep(1000 * 2 ** (failures - 1));
          continue;
        }
        if (!res.ok) throw await errorFrom(res);
        const total = Number(res.headers.get('Sealdrop-Size')) || 0;
        let got = have;
        const fresh = [];
        try {
          const reader = res.body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            fresh.push(value);
            got += value.length;
            if (onProgress) onProgress(got, total || got);
          }
          if (total && got !== total) throw new ApiError('network', NETWORK_MESSAGE);
        } catch (e) {
          if (++failures > 4) throw new ApiError('network', NETWORK_MESSAGE);
          const all = join(parts.concat(fresh), got);
          const keep = got < SUBMISSION_HEAD ? 0 : SUBMISSION_HEAD + Math.floor((got - SUBMISSION_HEAD) / CIPHER_CHUNK) * CIPHER_CHUNK;
          parts = keep > 0 ? [all.subarray(0, keep)] : [];
          have = keep;
          await sleep(1000 * 2 ** (failures - 1));
          continue;
        }
        return { ciphertext: join(parts.concat(fresh), got), nonce };
      }
    },

    /** confirm wipes a fetched submission now rather than when the claim window ends. */
    async confirm(id, nonce) {
      const hash = await sha256(nonce);
      await json(`${base}/submissions/${id}/confirm`, { ...await proof(ACTION_CONFIRM, id, hash), nonce: b64uEncode(nonce) });
    },

    /** wipe → {wiped: N} */
    wipe: async () => json(`${base}/wipe`, await proof(ACTION_WIPE)),
  };
}

function join(parts, n) {
  if (parts.length === 1 && parts[0].length === n) return parts[0];
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/**
 * deliver seals text and files to a drop and sends them: create (paying the price, when the
 * server is getting full), upload, commit. steps gets ('encrypt' | 'pow' | 'upload', done, total)
 * as it goes. limits is the server's /api/v1/limits: the append size, the drop's size limit and
 * lifetime, and the price; so that nothing is asked before the create. A price that rose
 * meanwhile is paid when the server says so.
 */
export async function deliver({ drop, text, files, replyBox, limits, steps }) {
  const step = steps || (() => {});
  const api = await dropApi(drop);
  const ciphertext = await sealSubmission({ drop, text, files, replyBox, onProgress: (d, t) => step('encrypt', d, t) });
  step('encrypt', 1, 1);
  const dl = (limits && limits.drop) || {};
  if (dl.max_entry && ciphertext.length > dl.max_entry) throw new ApiError('too_large', MESSAGES.too_large, 413);
  const manage = randomBytes(32);
  const manageHash = await sha256(manage);
  const price = limits && limits.price ? { level: (limits.price.levels || {}).drop || 0, token: limits.price.token, floor: dl.price_floor || 0 } : null;
  const created = await payAndCreate((payment) => api.submit({ length: ciphertext.length, manageHash }, payment), {
    kind: PRICE_SUBMISSION, scope: b64uDecode(api.route), manage: manageHash, length: ciphertext.length, ttl: dl.ttl || 0,
  }, price, { onWork: (d, t) => step('pow', d, t) });
  await api.upload(created.id, manage, ciphertext, { maxAppend: limits && limits.max_append, onProgress: (d, t) => step('upload', d, t) });
  const done = await api.commit(created.id, manage);
  manage.fill(0);
  return { id: created.id, expiresIn: (done && done.expires_in) || created.expires_in };
}
