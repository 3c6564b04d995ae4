// Calls of sealdrop's HTTP API v1 (SECURITY.md, "HTTP API v1"). Only ciphertext, token hashes,
// tokens and the manage secret pass through here; the read key K never does (it has no field).
//
// Tor circuits break. Uploads resume from what the server says it has; downloads resume at a
// chunk boundary with the same claim hash, inside the server's claim window.

import { b64uEncode } from './protocol.js';
import { joinChunks } from './bytes.js';

export const HEADER_BYTES = 25;
export const CIPHER_CHUNK = 65552; // 65,536 plaintext bytes + 16-byte tag

/** ApiError is any refusal the server explained, or a network failure (code "network"). */
export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

/** GoneError: the one answer for never existed, read, expired, revoked, destroyed. */
export class GoneError extends ApiError {
  constructor() {
    super('gone', 'This note is no longer available.', 404);
    this.name = 'GoneError';
  }
}

/** WrongPinError carries how many tries are left before the note is deleted. */
export class WrongPinError extends ApiError {
  constructor(triesLeft) {
    super('wrong_pin', triesLeft > 0
      ? `Wrong PIN. ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left before the note is deleted.`
      : 'Wrong PIN. The note has been deleted.', 403);
    this.name = 'WrongPinError';
    this.triesLeft = triesLeft;
  }
}

const NETWORK_MESSAGE = 'The connection to the server failed. Check that Tor Browser is connected, then try again.';

const FRIENDLY = {
  402: 'The server is getting full and asks for a little work from your browser first. Send again.',
  413: 'This is larger than the server accepts.',
  507: 'The server is full right now. Try again later, or send less.',
  415: 'The server refused the request.',
  429: 'The server is busy. Wait a minute and try again.',
};

/** b64 turns bytes into base64url; strings (already encoded) pass through. */
export function b64(v) {
  if (v === undefined || v === null) return v;
  return typeof v === 'string' ? v : b64uEncode(v);
}

async function errorFrom(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON: use the status */ }
  if (res.status === 404) return new GoneError();
  if (body && body.error === 'wrong_pin') return new WrongPinError(Number(body.tries_left) || 0);
  const code = (body && body.error) || `http_${res.status}`;
  const message = (body && body.message) || FRIENDLY[res.status] || `The server refused the request (error ${res.status}).`;
  const err = new ApiError(code, message, res.status);
  if (body && typeof body.received === 'number') err.received = body.received;
  if (res.status === 402 && body && body.error === 'price') err.price = { bits: Number(body.bits), token: body.token };
  return err;
}

const defaultSleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/**
 * makeApi returns the API calls bound to a fetch function, so tests can cut connections.
 * @param {{fetch?: Function, sleep?: Function, base?: string, retries?: number, backoffMs?: number}} [opts]
 */
export function makeApi(opts = {}) {
  const fetchImpl = opts.fetch || ((...a) => globalThis.fetch(...a));
  const sleep = opts.sleep || defaultSleep;
  const base = opts.base || '';
  const retries = opts.retries === undefined ? 4 : opts.retries;
  const backoffMs = opts.backoffMs === undefined ? 1000 : opts.backoffMs;

  async function call(path, init = {}) {
    const req = {
      method: init.method || 'GET',
      headers: init.headers || {},
      body: init.body,
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      redirect: 'error',
      signal: init.signal,
    };
    let res;
    try {
      res = await fetchImpl(base + path, req);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError('network', NETWORK_MESSAGE);
    }
    return res;
  }

  async function json(path, body, signal) {
    const res = await call(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal,
    });
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return null;
    return res.json();
  }

  const note = (id) => `/api/v1/notes/${encodeURIComponent(id)}`;

  return {
    /** limits: {version, max_entry, max_append, free, ttls, default_ttl, max_ttl, price, drop} */
    async limits() {
      const res = await call('/api/v1/limits');
      if (!res.ok) throw await errorFrom(res);
      return res.json();
    },

    /**
     * create a pending note; hashes may be bytes or base64url strings; payment is {} or
     * {price_token, price_nonce} (price.js payAndCreate). → {id, expires_in}
     */
    async create({ length, ttl, gate_hash, open_hash, destruct_hash, manage_hash }, payment = {}) {
      const body = { length, ttl, gate_hash: b64(gate_hash), destruct_hash: b64(destruct_hash), manage_hash: b64(manage_hash), ...payment };
      if (open_hash) body.open_hash = b64(open_hash);
      return json('/api/v1/notes', body);
    },

    /**
     * upload appends the ciphertext in pieces of maxAppend bytes. A network failure, or a 409
     * "busy" (an earlier try still running), is retried with backoff; a 409 with an offset says
     * where the server really is, and the upload goes on from there.
     */
    async upload(id, manage, data, { maxAppend, onProgress, signal } = {}) {
      const step = Math.max(1, maxAppend || 1 << 20);
      const M = b64(manage);
      let offset = 0;
      let failures = 0;
      if (onProgress) onProgress(0, data.length);
      while (offset < data.length) {
        const end = Math.min(offset + step, data.length);
        let res;
        try {
          res = await call(`${note(id)}/data`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/octet-stream', 'Sealdrop-Manage': M, 'Sealdrop-Offset': String(offset) },
            body: data.subarray(offset, end),
            signal,
          });
        } catch (e) {
          if (!(e instanceof ApiError) || ++failures > retries) throw e;
          await sleep(backoffMs * 2 ** (failures - 1));
          continue; // the next try may get a 409 telling where to go on from
        }
        if (res.ok) {
          const got = await res.json();
          offset = typeof got.received === 'number' ? got.received : end;
          failures = 0;
        } else {
          const err = await errorFrom(res);
          if (err.status === 409 && typeof err.received === 'number' && err.received <= data.length) {
            if (++failures > retries) throw err;
            offset = err.received;
          } else if (err.status === 409 && err.code === 'busy') {
            // An earlier try of ours is still running on the server (its circuit died under
            // it); the server cuts it off, so wait and ask again.
            if (++failures > retries) throw err;
            await sleep(backoffMs * 2 ** (failures - 1));
            continue;
          } else {
            throw err;
          }
        }
        if (onProgress) onProgress(offset, data.length);
      }
    },

    /** commit makes an uploaded note visible to readers. → {id, expires_in} */
    async commit(id, manage) {
      return json(`${note(id)}/commit`, { manage: b64(manage) });
    },

    /**
     * open claims the note and downloads its ciphertext. After a broken download it asks again
     * with the same claim hash from the last whole chunk it holds.
     * @param {{gate, claim, open?, destruct?}} tokens bytes or base64url
     * @returns {Promise<Uint8Array>}
     */
    async open(id, tokens, { onProgress, signal } = {}) {
      const body = { gate: b64(tokens.gate), claim: b64(tokens.claim) };
      if (tokens.open) body.open = b64(tokens.open);
      if (tokens.destruct) body.destruct = b64(tokens.destruct);
      let parts = [];
      let have = 0;
      let total = -1;
      let failures = 0;
      for (;;) {
        const req = have > 0 ? { ...body, offset: have } : body;
        let res;
        try {
          res = await call(`${note(id)}/open`, {
            method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req), signal,
          });
        } catch (e) {
          if (!(e instanceof ApiError) || ++failures > retries) throw e;
          await sleep(backoffMs * 2 ** (failures - 1));
          continue;
        }
        if (!res.ok) throw await errorFrom(res);
        const size = Number(res.headers.get('Sealdrop-Size'));
        if (Number.isFinite(size) && size > 0) total = size;
        let got = have;
        const fresh = [];
        try {
          if (res.body && res.body.getReader) {
            const reader = res.body.getReader();
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              fresh.push(value);
              got += value.length;
              if (onProgress) onProgress(got, total > 0 ? total : got);
            }
          } else {
            const buf = new Uint8Array(await res.arrayBuffer());
            fresh.push(buf);
            got += buf.length;
          }
          if (total > 0 && got !== total) throw new ApiError('network', NETWORK_MESSAGE);
        } catch (e) {
          if (e && e.name === 'AbortError') throw e;
          if (++failures > retries) throw new ApiError('network', NETWORK_MESSAGE);
          // Keep only whole chunks: the server resumes at 25 + k*65552.
          const all = joinChunks(parts.concat(fresh));
          const keep = got < HEADER_BYTES ? 0 : HEADER_BYTES + Math.floor((got - HEADER_BYTES) / CIPHER_CHUNK) * CIPHER_CHUNK;
          parts = keep > 0 ? [all.subarray(0, keep)] : [];
          have = keep;
          await sleep(backoffMs * 2 ** (failures - 1));
          continue;
        }
        parts = parts.concat(fresh);
        const out = joinChunks(parts);
        if (onProgress) onProgress(out.length, out.length);
        return out;
      }
    },

    /** confirm tells the server the note was read, so it is wiped now. */
    async confirm(id, gate, nonce) {
      await json(`${note(id)}/confirm`, { gate: b64(gate), nonce: b64(nonce) });
    },

    /** status → {state: pending|waiting|opened|gone, expires_in} */
    async status(id, manage) {
      return json(`${note(id)}/status`, { manage: b64(manage) });
    },

    async revoke(id, manage) {
      await json(`${note(id)}/revoke`, { manage: b64(manage) });
    },
  };
}

/** api is bound to the page's own origin. */
export const api = makeApi();
