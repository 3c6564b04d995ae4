// Calls of sealdrop's HTTP API v1 (SECURITY.md, "HTTP API v1"). Only ciphertext, token hashes,
// tokens and the manage secret pass through here; the read key K never does (it has no field).
//
// Tor circuits break. Uploads resume from what the server says it has; downloads resume at a
// chunk boundary with the same claim hash, inside the server's claim window (http.js).

import { b64uEncode } from './protocol.js';
import { makeHttp, ApiError, GoneError, WrongPinError, CIPHER_CHUNK } from './http.js';
import { t } from './i18n.js';

export { ApiError, GoneError, WrongPinError, CIPHER_CHUNK };

export const HEADER_BYTES = 25;

// What a note's refusals say to the person (the server's own message where it gives one).
const WORDS = {
  gone: t('note.gone'),
  wrongPin: (left) => t('note.wrong_pin', { count: Math.max(0, left) }),
  byStatus: {
    402: t('note.error_402'),
    413: t('note.error_413'),
    415: t('note.error_415'),
    429: t('note.error_429'),
    507: t('note.error_507'),
  },
};

/** b64 turns bytes into base64url; strings (already encoded) pass through. */
export function b64(v) {
  if (v === undefined || v === null) return v;
  return typeof v === 'string' ? v : b64uEncode(v);
}

/**
 * makeApi returns the API calls bound to a fetch function, so tests can cut connections.
 * @param {{fetch?: Function, sleep?: Function, base?: string, retries?: number, backoffMs?: number}} [opts]
 */
export function makeApi(opts = {}) {
  const http = makeHttp({ ...opts, words: WORDS });
  const note = (id) => `/api/v1/notes/${encodeURIComponent(id)}`;

  return {
    /** limits: {version, max_entry, max_append, free, ttls, default_ttl, max_ttl, price, drop} */
    limits: () => http.getJSON('/api/v1/limits'),

    /**
     * create a pending note; hashes may be bytes or base64url strings; payment is {} or
     * {price_token, price_nonce} (price.js payAndCreate). → {id, expires_in}
     */
    async create({ length, ttl, gate_hash, open_hash, destruct_hash, manage_hash }, payment = {}) {
      const body = { length, ttl, gate_hash: b64(gate_hash), destruct_hash: b64(destruct_hash), manage_hash: b64(manage_hash), ...payment };
      if (open_hash) body.open_hash = b64(open_hash);
      return http.postJSON('/api/v1/notes', body);
    },

    /**
     * put creates a note with its ciphertext (SECURITY.md, "HTTP API v1"): the first piece goes
     * with the create, whose parameters travel in headers, and commits the note when it is the
     * whole; every other piece goes to the same route at its offset, two in flight
     * (http.js upload), the one that completes the note committing it. A request cut on its way
     * is sent again: the server finds the note by the manage secret and the token and says
     * what it holds. payment is {price_token} or {price_token, price_nonce} (price.js
     * payAndCreate, bindToken). → {id, expires_in}
     */
    async put({ ttl, gate_hash, open_hash, destruct_hash }, manage, data, payment = {}, opts = {}) {
      const create = {
        'Sealdrop-Length': String(data.length),
        'Sealdrop-Gate-Hash': b64(gate_hash),
        'Sealdrop-Destruct-Hash': b64(destruct_hash),
      };
      if (ttl) create['Sealdrop-Ttl'] = String(ttl);
      if (open_hash) create['Sealdrop-Open-Hash'] = b64(open_hash);
      // The token always (the server binds the note's id to it), the nonce when paid.
      if (payment.price_token) create['Sealdrop-Price-Token'] = payment.price_token;
      if (payment.price_nonce) create['Sealdrop-Price-Nonce'] = payment.price_nonce;
      const unpaid = { ...create };
      delete unpaid['Sealdrop-Price-Nonce'];
      let id = null;
      // Every piece goes to the upload route at its offset (the id is bound to the manage
      // secret and the token): the one that completes the note commits it. Only a piece at 0
      // can make the note, so only it pays.
      const next = (start) => ({ path: '/api/v1/notes/upload', headers: start === 0 ? create : unpaid });
      const last = await http.upload(next, b64(manage), data, {
        ...opts,
        onAnswer: (got) => { if (!id && typeof got.id === 'string' && got.id) id = got.id; },
      });
      if (!id || !last) throw new ApiError('network', t('error.network'));
      if (last.committed) return { id, expires_in: last.expires_in };
      // A server that did not commit with the last piece: ask it to.
      const done = await http.postJSON(`${note(id)}/commit`, { manage: b64(manage) });
      return { id, expires_in: done.expires_in };
    },

    /** upload appends the ciphertext in pieces of maxAppend bytes, resuming after a cut. */
    upload: (id, manage, data, opts2) => http.upload(`${note(id)}/data`, b64(manage), data, opts2),

    /** commit makes an uploaded note visible to readers. → {id, expires_in} */
    commit: (id, manage) => http.postJSON(`${note(id)}/commit`, { manage: b64(manage) }),

    /**
     * open claims the note and downloads its ciphertext. After a broken download it asks again
     * with the same claim hash from the last whole chunk it holds.
     * @param {{gate, claim, open?, destruct?}} tokens bytes or base64url
     * @returns {Promise<Uint8Array>}
     */
    open(id, tokens, { onProgress, signal } = {}) {
      const body = { gate: b64(tokens.gate), claim: b64(tokens.claim) };
      if (tokens.open) body.open = b64(tokens.open);
      if (tokens.destruct) body.destruct = b64(tokens.destruct);
      return http.download((have) => http.request(`${note(id)}/open`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(have > 0 ? { ...body, offset: have } : body),
        signal,
      }), { head: HEADER_BYTES, onProgress });
    },

    /** confirm tells the server the note was read, so it is wiped now. */
    async confirm(id, gate, nonce) {
      await http.postJSON(`${note(id)}/confirm`, { gate: b64(gate), nonce: b64(nonce) });
    },

    /** status → {state: pending|waiting|opened|gone, expires_in} */
    status: (id, manage) => http.postJSON(`${note(id)}/status`, { manage: b64(manage) }),

    async revoke(id, manage) {
      await http.postJSON(`${note(id)}/revoke`, { manage: b64(manage) });
    },
  };
}

/** api is bound to the page's own origin. */
export const api = makeApi();
