// The one way the pages talk to the server: every request goes without the cache and the
// referrer and refuses redirects, on the page's own connections (PRIVACY); every refusal becomes an ApiError with the server's code; a
// network failure becomes the "network" error with a plain message; uploads and downloads go on
// after a cut circuit from what the server says it holds. The note API (api.js), the drop API
// (drop-api.js) and the chat page (chat.js) each bind it to their own wording (makeHttp's words).

import { joinChunks } from './bytes.js';
import { t } from './i18n.js';

/** ApiError is any refusal the server explained, or a network failure (code "network"). */
export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

/** GoneError: the one answer (404) for never existed, used, expired, revoked, destroyed. */
export class GoneError extends ApiError {
  constructor(message) {
    super('gone', message, 404);
    this.name = 'GoneError';
  }
}

/** WrongPinError carries how many tries are left before the entry is deleted. */
export class WrongPinError extends ApiError {
  constructor(triesLeft, message) {
    super('wrong_pin', message, 403);
    this.name = 'WrongPinError';
    this.triesLeft = triesLeft;
  }
}

/**
 * PRIVACY is what every request carries: no cache, no referrer, no redirect.
 *
 * credentials is 'same-origin', not 'omit': Firefox (Tor Browser) keeps requests that omit
 * credentials on a pool of connections apart from the page's own, so with nothing fetched while
 * the page loads, the first request after a click waited for a new connection, over Tor a new
 * stream and one more round trip. Measured (internal/browsertest TestRoundTripsSafer, new
 * connections on the path with 'omit' → 'same-origin'): text note 1 → 0, 1 MiB file 2 → 0,
 * 25 MiB file 26 → 0 to 24 (its appends use up the page's idle connections), open 1 → 0, chat
 * start 1 → 0, chat join 2 → 1, drop submission 1 → 0, inbox fetch 1 → 0.
 * 'omit' protected nothing here: what stands instead is that the server never sets a cookie and
 * never reads one (internal/web TestNoCookieOnAnyRoute on every route's answers, internal/audit
 * TestNoCookies on the Go code), so there is none to send; Tor Browser keeps cookies per
 * first-party onion; and a seized server would serve its own script, whatever this one says.
 */
export const PRIVACY = Object.freeze({
  credentials: 'same-origin', cache: 'no-store', referrerPolicy: 'no-referrer', redirect: 'error',
});

/** CIPHER_CHUNK is a sealed chunk: 65,536 plaintext bytes and a 16-byte tag. */
export const CIPHER_CHUNK = 65552;

/** networkError is the error of a request that got no answer. */
export const networkError = () => new ApiError('network', t('error.network'));

const defaultSleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/**
 * makeHttp returns the requests of one API.
 * @param {{fetch?: Function, sleep?: Function, base?: string, retries?: number, backoffMs?: number,
 *   words?: {gone?: string, wrongPin?: (triesLeft: number) => string, byCode?: Object<string, string>,
 *   byStatus?: Object<number, string>}}} [opts] fetch and sleep for tests (the page's own by
 *   default); words: the messages of the errors, where the API words them itself: a refusal's
 *   message is words.byCode[code], else the server's own message, else words.byStatus[status].
 */
export function makeHttp(opts = {}) {
  const fetchImpl = opts.fetch || ((...a) => globalThis.fetch(...a));
  const sleep = opts.sleep || defaultSleep;
  const base = opts.base || '';
  const retries = opts.retries === undefined ? 4 : opts.retries;
  const backoffMs = opts.backoffMs === undefined ? 1000 : opts.backoffMs;
  const words = opts.words || {};
  const byCode = words.byCode || {};
  const byStatus = words.byStatus || {};
  const backoff = (failures) => sleep(backoffMs * 2 ** (failures - 1));

  /** request sends one request with the privacy options; it throws only on no answer. */
  async function request(path, init = {}) {
    try {
      return await fetchImpl(base + path, {
        method: init.method || 'GET',
        headers: init.headers || {},
        body: init.body,
        signal: init.signal,
        ...PRIVACY,
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw networkError();
    }
  }

  /** errorFrom turns a refusal into its ApiError: gone, wrong_pin, price (with .price), offsets. */
  async function errorFrom(res) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON: use the status */ }
    if (res.status === 404) return new GoneError(words.gone);
    if (body && body.error === 'wrong_pin' && words.wrongPin) {
      const left = Number(body.tries_left) || 0;
      return new WrongPinError(left, words.wrongPin(left));
    }
    const code = (body && body.error) || `http_${res.status}`;
    const message = byCode[code] || (body && body.message) || byStatus[res.status]
      || t('error.refused', { status: res.status });
    const err = new ApiError(code, message, res.status);
    if (body && typeof body.received === 'number') err.received = body.received;
    if (res.status === 402 && body && body.error === 'price') err.price = { bits: Number(body.bits), token: body.token };
    return err;
  }

  /** postJSON posts a JSON body and answers the JSON reply (null for 204). */
  async function postJSON(path, body, signal) {
    const res = await request(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal,
    });
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return null;
    return res.json();
  }

  /** getJSON asks for a JSON answer. */
  async function getJSON(path) {
    const res = await request(path);
    if (!res.ok) throw await errorFrom(res);
    return res.json();
  }

  /**
   * upload sends data in pieces of maxAppend bytes, with the manage secret (base64url) and each
   * piece's offset, to target: an append path, or a function of the next piece's offset that
   * names its path and extra headers ({path, headers}). Up to `window` pieces (2) are in flight: each
   * request closes its connection, so the next piece goes out on a new one while the piece
   * before it is still being sent, and the server holds it until that one is stored
   * (SECURITY.md, "Pipelined pieces"); over Tor the new stream's round trip hides behind the
   * transfer. A network failure, or a 409 "busy" (an earlier try still running), is retried
   * with backoff; a 409 with the offset the server holds says where to go on from. Whatever
   * fails, the pieces after it are given up and sent again from where the server stands. A
   * refusal of a piece sent behind another (one that came too early, say) is not final: the
   * piece is sent again alone. onAnswer(answer) sees every answer, in order; upload returns
   * the last.
   */
  async function upload(target, manage, data, {
    maxAppend, onProgress, signal, onAnswer, window: win = 2,
  } = {}) {
    const step = Math.max(1, maxAppend || 1 << 20);
    const most = Math.max(1, win);
    let offset = 0; // the server holds every byte before it
    let failures = 0;
    let last = null;
    let flight = [];
    const giveUp = () => { for (const f of flight) f.abort.abort(); flight = []; };
    /** send starts the piece [start, end); its promise never rejects but for the caller's abort. */
    const send = (start, behind) => {
      const end = Math.min(start + step, data.length);
      const abort = new AbortController();
      const stop = () => abort.abort();
      if (signal) signal.addEventListener('abort', stop, { once: true });
      const { path, headers } = typeof target === 'function' ? target(start) : { path: target, headers: {} };
      const done = (async () => {
        try {
          const res = await request(path, {
            method: 'POST',
            headers: {
              'Content-Type': 'application/octet-stream', 'Sealdrop-Manage': manage, 'Sealdrop-Offset': String(start), ...headers,
            },
            body: data.subarray(start, end),
            signal: abort.signal,
          });
          if (res.ok) return { got: await res.json() };
          return { err: await errorFrom(res) };
        } catch (e) {
          if (signal && signal.aborted) return { aborted: e };
          return { err: e instanceof ApiError ? e : networkError() };
        } finally {
          if (signal) signal.removeEventListener('abort', stop);
        }
      })();
      return { start, end, behind, abort, done };
    };
    if (onProgress) onProgress(0, data.length);
    try {
      while (offset < data.length) {
        let next = flight.length ? flight[flight.length - 1].end : offset;
        while (flight.length < most && next < data.length) {
          const f = send(next, flight.length > 0);
          flight.push(f);
          next = f.end;
        }
        const f = flight.shift();
        const r = await f.done;
        if (r.aborted) throw r.aborted;
        if (r.got) {
          last = r.got;
          if (onAnswer) onAnswer(r.got);
          const at = typeof r.got.received === 'number' ? r.got.received : f.end;
          failures = 0;
          if (at !== f.end) giveUp(); // the server holds something else: go on from there
          offset = at;
        } else {
          giveUp();
          const err = r.err;
          if (err.status === 409 && typeof err.received === 'number' && err.received <= data.length) {
            if (++failures > retries) throw err;
            // A 409 that was answered while an earlier piece was still being stored names less
            // than that piece's answer, read since: what the server holds never shrinks.
            offset = Math.max(offset, err.received);
          } else if (err.code === 'network' || (err.status === 409 && err.code === 'busy')) {
            // A cut, or an earlier try of ours still running on the server (its circuit died
            // under it; the server cuts it off): wait and send again; a 409 says where to go on.
            if (++failures > retries) throw err;
            await backoff(failures);
          } else if (f.behind) {
            // Sent behind another piece, it may have come before that one: send it alone.
            if (++failures > retries) throw err;
          } else {
            throw err;
          }
        }
        if (onProgress) onProgress(offset, data.length);
      }
    } finally {
      giveUp();
    }
    return last;
  }

  /**
   * download reads a ciphertext. ask(have) sends the request for the bytes from offset `have`
   * on and returns its Response; after a cut (of the request or of the body) it asks again
   * from the last whole chunk it holds (head + k·CIPHER_CHUNK), with backoff. A refusal is
   * thrown as its ApiError, and so is any error of ask that is not a network failure.
   * @returns {Promise<Uint8Array>}
   */
  async function download(ask, { head, onProgress } = {}) {
    let parts = [];
    let have = 0;
    let total = -1;
    let failures = 0;
    for (;;) {
      let res;
      try {
        res = await ask(have);
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'network' || ++failures > retries) throw e;
        await backoff(failures);
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
        if (total > 0 && got !== total) throw networkError();
      } catch (e) {
        if (e && e.name === 'AbortError') throw e;
        if (++failures > retries) throw networkError();
        // Keep only whole chunks: the server resumes at head + k·CIPHER_CHUNK.
        const all = joinChunks(parts.concat(fresh));
        const keep = got < head ? 0 : head + Math.floor((got - head) / CIPHER_CHUNK) * CIPHER_CHUNK;
        parts = keep > 0 ? [all.subarray(0, keep)] : [];
        have = keep;
        await backoff(failures);
        continue;
      }
      const out = joinChunks(parts.concat(fresh));
      if (onProgress) onProgress(out.length, out.length);
      return out;
    }
  }

  return { request, errorFrom, postJSON, getJSON, upload, download };
}
