// The one lookup of every text a script shows: t('key', {vars}). The texts are in the
// catalog (static/i18n/en.js), the same one the server renders the pages with ({{t "key"}} in
// templates/*.html), so that a language is one more catalog, not more code.
//
// A text may hold {name} placeholders, filled from vars. A text that depends on a number is an
// object of plural forms (CLDR categories "one", "other", … and exact "=0"), chosen by
// vars.count. Keys ending in "_html" hold markup for the pages only; scripts show text with
// textContent and never ask for them.

import en from '../i18n/en.js';

// The catalogs the scripts know, by language tag. The server renders a page with one of them
// and says which in <html lang>; the scripts follow it (English where there is no page, as in
// the Node tests).
const CATALOGS = { en };
const pageLang = globalThis.document ? globalThis.document.documentElement.lang : '';
const catalog = Object.hasOwn(CATALOGS, pageLang) ? CATALOGS[pageLang] : en;

/** lang and dir are the catalog's language and writing direction, as the page's <html> has them. */
export const lang = catalog['meta.lang'];
export const dir = catalog['meta.dir'];

const plurals = new Intl.PluralRules(lang);

function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (m, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : m));
}

/**
 * t returns the text of key, with vars filled in. A key the catalog lacks gives the key itself
 * (a test keeps every key the scripts use in the catalog).
 * @param {string} key
 * @param {Object<string, *>} [vars]
 * @returns {string}
 */
export function t(key, vars = {}) {
  let text = Object.hasOwn(catalog, key) ? catalog[key] : key;
  if (typeof text === 'object' && text !== null) {
    const n = Number(vars.count);
    text = text[`=${n}`] ?? text[plurals.select(n)] ?? text.other;
  }
  return fill(String(text), vars);
}
