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
import { makeHttp, ApiError } from './http.js';
import { payAndCreate, PRICE_SUBMISSION } from './price.js';
import { t } from './i18n.js';

const SUBMISSION_HEAD = 65 + 25; // ephemeral key + envelope header: where a resumed fetch may start

// A drop's refusals, worded for the source and the journalist rather than by the server.
const MESSAGES = {
  gone: t('drop.error_gone'),
  full: t('drop.error_full'),
  too_large: t('drop.error_too_large'),
  busy: t('drop.error_busy'),
  price: t('drop.error_price'),
};

const http = makeHttp({ words: { gone: MESSAGES.gone, byCode: MESSAGES } });
const json = (path, body) => http.postJSON(path, body);

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

    /**
     * put sends a sealed submission through the upload route (SECURITY.md, "HTTP API for
     * drops"): the first piece creates the submission, its parameters and payment in headers,
     * every piece goes to the same route at its offset, two in flight (http.js upload), and the one that completes it commits
     * it; up to maxAppend bytes that is one request. A request cut on its way is sent again:
     * the server finds the submission by the manage secret and the token and says what it
     * holds. payment is {price_token} or {price_token, price_nonce} (price.js payAndCreate,
     * bindToken). → {id, expires_in}
     */
    async put(manage, data, payment = {}, opts = {}) {
      const headers = {
        'Sealdrop-Drop-Auth': b64uEncode(drop.auth), 'Sealdrop-Drop-Flags': String(drop.flags), 'Sealdrop-Length': String(data.length),
      };
      // Every piece carries the token: the server binds the submission's id to it.
      if (payment.price_token) headers['Sealdrop-Price-Token'] = payment.price_token;
      const paid = payment.price_nonce ? { ...headers, 'Sealdrop-Price-Nonce': payment.price_nonce } : headers;
      let id = null;
      // Only a piece at 0 can make the submission: later pieces pay nothing.
      const last = await http.upload((start) => ({ path: `${base}/upload`, headers: start === 0 ? paid : headers }), b64uEncode(manage), data, {
        ...opts,
        onAnswer: (got) => { if (!id && typeof got.id === 'string' && got.id) id = got.id; },
      });
      if (!id || !last || !last.committed) throw new ApiError('network', t('error.network'));
      return { id, expires_in: last.expires_in };
    },

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
      // The challenge is inside each try: after a cut it is the first request on a circuit that
      // may still be down, and the claim (this nonce) is already spent on the server.
      const ciphertext = await http.download(async (have) => {
        const body = { ...await proof(ACTION_FETCH, id, hash), claim: b64uEncode(hash), offset: have };
        return http.request(`${base}/submissions/${id}/fetch`, {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
        });
      }, { head: SUBMISSION_HEAD, onProgress });
      return { ciphertext, nonce };
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

/**
 * deliver seals text and files to a drop and sends them through the upload route (paying the
 * price, when the server is getting full): one request up to the append size, one per piece
 * above. steps gets ('encrypt' | 'pow' | 'upload', done, total) as it goes. limits is the
 * server's limits answer (the page carries it: limits.js): the append size, the drop's size
 * limit and lifetime, and the price; so that nothing is asked before the upload. A price that rose meanwhile is paid when the
 * server says so.
 */
export async function deliver({ drop, text, files, replyBox, limits, steps }) {
  const step = steps || (() => {});
  const api = await dropApi(drop);
  const ciphertext = await sealSubmission({ drop, text, files, replyBox, onProgress: (d, n) => step('encrypt', d, n) });
  step('encrypt', 1, 1);
  const dl = (limits && limits.drop) || {};
  if (dl.max_entry && ciphertext.length > dl.max_entry) throw new ApiError('too_large', MESSAGES.too_large, 413);
  const manage = randomBytes(32);
  const manageHash = await sha256(manage);
  const price = limits && limits.price ? { level: (limits.price.levels || {}).drop || 0, token: limits.price.token, floor: dl.price_floor || 0 } : null;
  try {
    const done = await payAndCreate((payment) => api.put(manage, ciphertext, payment, {
      maxAppend: limits && limits.max_append, onProgress: (d, n) => step('upload', d, n),
    }), {
      kind: PRICE_SUBMISSION, scope: b64uDecode(api.route), manage: manageHash, length: ciphertext.length, ttl: dl.ttl || 0,
    }, price, { onWork: (d, n) => step('pow', d, n), bindToken: true });
    return { id: done.id, expiresIn: done.expires_in };
  } finally {
    manage.fill(0);
  }
}
