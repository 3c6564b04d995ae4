// Tests for static/js/i18n.js and the catalog static/i18n/en.js: the scripts' one lookup, and
// the catalog read as the server reads it (internal/web/catalog.go: the object after the line
// "export default {", JSON with whole-line comments) giving the same texts as the module.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { t, lang, dir } from '../js/i18n.js';
import en from '../i18n/en.js';

const here = path.dirname(fileURLToPath(import.meta.url));

test('the catalog module is the JSON the server reads', () => {
  const src = readFileSync(path.join(here, '../i18n/en.js'), 'utf8');
  const lines = src.split('\n');
  const start = lines.indexOf('export default {');
  assert.ok(start > 0, 'a line "export default {"');
  const body = lines.slice(start).join('\n').replace(/^export default /, '').replace(/;\n$/, '');
  const json = body.split('\n').filter((l) => !l.trim().startsWith('//')).join('\n');
  assert.deepEqual(JSON.parse(json), en);
});

test('lang and dir are the catalog\'s', () => {
  assert.equal(lang, 'en');
  assert.equal(dir, 'ltr');
});

test('t fills placeholders and leaves unknown ones', () => {
  assert.equal(t('create.featured_contact', { name: 'The <Daily> Ledger' }), 'Contact The <Daily> Ledger');
  assert.equal(t('create.featured_contact'), 'Contact {name}');
  assert.equal(t('common.percent', { n: 0 }), '0%');
  assert.equal(t('report.kind', { kind: 'JPEG photo', summary: '{name}' }), '(JPEG photo): {name}', 'a value is not filled again');
});

test('t chooses plural forms by count, an exact form first', () => {
  assert.equal(t('duration.days', { count: 1 }), '1 day');
  assert.equal(t('duration.days', { count: 6 }), '6 days');
  assert.equal(t('inbox.visit', { day: '2030-01-01', count: 0 }), '2030-01-01: no messages read');
  assert.equal(t('inbox.visit', { day: '2030-01-01', count: 1 }), '2030-01-01: 1 message read');
  assert.equal(t('inbox.visit', { day: '2030-01-01', count: 12 }), '2030-01-01: 12 messages read');
  assert.equal(t('note.wrong_pin', { count: 0 }), 'Wrong PIN. The note has been deleted.');
  assert.equal(t('note.wrong_pin', { count: 1 }), 'Wrong PIN. 1 try left before the note is deleted.');
  assert.equal(t('chat.wrong_pin', { count: 4 }), 'Wrong PIN. 4 tries left.');
});

test('a key the catalog lacks gives the key, not a crash', () => {
  assert.equal(t('no.such.key'), 'no.such.key');
  assert.equal(t('toString'), 'toString', 'only the catalog\'s own keys');
});
