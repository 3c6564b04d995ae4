// The limits (GET /api/v1/limits: sizes, lifetimes, and the price with its token) come inside
// the page: as it serves a page whose script imports this module, the server writes its limits
// answer of that instant into <meta name="sealdrop-limits"> (SECURITY.md, "The limits"), so
// that the page spends no request on them at load. A page without them, or with ones it
// cannot read, asks the server, as every page did before.

export const LIMITS_META = 'sealdrop-limits';

/**
 * MARGIN_MS: limits whose price token has less than this left of its life are asked afresh,
 * so that no proof of work is searched with a token the server no longer accepts by the time
 * the request arrives (the server's 402 would name a fresh one, at the cost of one request).
 */
export const MARGIN_MS = 30000;

const isLimits = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
  && typeof v.version === 'number' && typeof v.max_append === 'number';

/**
 * readLimits returns the limits the page carries, or null when it carries none or none that
 * read as a limits answer.
 * @param {{querySelector: Function}} doc the page's document
 */
export function readLimits(doc) {
  const meta = doc && doc.querySelector(`meta[name="${LIMITS_META}"]`);
  const text = meta && meta.getAttribute('content');
  if (!text) return null;
  try {
    const v = JSON.parse(text);
    return isLimits(v) ? v : null;
  } catch {
    return null;
  }
}

// life is how long limits got at `at` (the page's clock, ms) stay usable: their token's life
// less the margin; limits without a token's life are not kept.
const usableUntil = (l, at) => {
  const secs = l && l.price && Number(l.price.expires_in);
  return secs > 0 ? at + secs * 1000 - MARGIN_MS : -Infinity;
};

/**
 * pageLimits holds a page's limits: those it carries, then those it had to ask for.
 * carried is what the page came with (null: none), for what it shows at load; current()
 * gives the limits to send with, those held while their token is young enough, else it asks
 * (fetchLimits) and holds the answer.
 * @param {{fetchLimits: () => Promise<Object>, doc?: Object, now?: () => number}} opts now is
 *   the page's clock in ms from the start of its navigation (performance.now()): the carried
 *   limits were written after that start, so their age is never underestimated.
 */
export function pageLimits({ fetchLimits, doc = globalThis.document, now = () => performance.now() }) {
  const carried = readLimits(doc);
  let held = carried;
  let until = usableUntil(carried, 0);
  return {
    carried,
    async current() {
      if (held && now() < until) return held;
      const at = now();
      const l = await fetchLimits();
      held = l;
      until = usableUntil(l, at);
      return l;
    },
  };
}
