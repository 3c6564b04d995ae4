// Tests for ui.js fileName: a file name from someone else (note, chat or room sender) made safe
// to show and to save (review 25p F1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileName, FILE_NAME_MAX } from '../js/ui.js';

const BAD = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff/\\]/u;

test('fileName replaces bidi, control, format and path characters', () => {
  assert.equal(fileName('report\u202Efdp.exe'), 'report_fdp.exe');
  assert.equal(fileName('a\nb\u0007c\u2067d\u200Fe\u061Cf.txt'), 'a_b_c_d_e_f.txt');
  assert.equal(fileName('../../etc/passwd'), '.._.._etc_passwd');
  assert.equal(fileName('x\uD800y'), 'x_y', 'a lone surrogate');
  for (let c = 0; c < 0x3000; c++) {
    assert.doesNotMatch(fileName(`a${String.fromCharCode(c)}b`), BAD, `U+${c.toString(16)}`);
  }
});

test('fileName keeps ordinary names, right-to-left ones included', () => {
  assert.equal(fileName('Interview notes (final).pdf'), 'Interview notes (final).pdf');
  assert.equal(fileName('تقرير.pdf'), 'تقرير.pdf');
  assert.equal(fileName('写真 😀.jpg'), '写真 😀.jpg');
});

test('fileName caps a long name, keeping its extension, and names an empty one', () => {
  const long = fileName(`${'x'.repeat(20000)}.txt`);
  assert.ok(long.length <= FILE_NAME_MAX, `${long.length}`);
  assert.ok(long.endsWith('….txt'));
  const astral = fileName(`${'😀'.repeat(300)}.png`);
  assert.ok(astral.length <= FILE_NAME_MAX, `${astral.length}`);
  assert.ok(astral.endsWith('😀….png'), 'no surrogate pair is split');
  assert.ok(fileName(`${'y'.repeat(300)}.${'z'.repeat(40)}`).length <= FILE_NAME_MAX, 'a long extension is not kept');
  assert.equal(fileName(''), 'file');
  assert.equal(fileName('\u202E'), '_');
  assert.equal(fileName(undefined), 'file');
});
