// Keys in the chat box (issue 19): Enter sends, Shift+Enter adds a line, and the Enter that
// ends an IME composition is the IME's. The browser suite presses the real keys
// (TestChatKeysSafer); this pins the decision for every combination.
// Run: node --test static/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enterSends } from '../js/ui.js';

const key = (k, more = {}) => ({ key: k, shiftKey: false, isComposing: false, keyCode: k === 'Enter' ? 13 : 65, ...more });

test('Enter sends, with or without Ctrl, Alt or Meta', () => {
  assert.equal(enterSends(key('Enter')), true);
  for (const m of ['ctrlKey', 'altKey', 'metaKey']) assert.equal(enterSends(key('Enter', { [m]: true })), true, m);
});

test('Shift+Enter adds a line: it does not send', () => {
  assert.equal(enterSends(key('Enter', { shiftKey: true })), false);
  assert.equal(enterSends(key('Enter', { shiftKey: true, ctrlKey: true })), false);
});

test('an Enter during an IME composition does not send', () => {
  assert.equal(enterSends(key('Enter', { isComposing: true })), false, 'isComposing');
  assert.equal(enterSends(key('Enter', { keyCode: 229 })), false, 'keyCode 229 (Process key)');
});

test('other keys do not send', () => {
  for (const k of ['a', ' ', 'Tab', 'Process', 'Escape']) assert.equal(enterSends(key(k)), false, k);
});
