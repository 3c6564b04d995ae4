// Helpers for the tests that check the browser modules against the vector files the Go package
// writes (internal/protocol/testdata): reading a file, hex both ways, a ProtocolError's code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

// vectors reads internal/protocol/testdata/NAME.
export const vectors = (name) => JSON.parse(readFileSync(path.join(here, '../../internal/protocol/testdata', name), 'utf8'));

export const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
export const tohex = (b) => Buffer.from(b).toString('hex');

// code runs fn and returns 'ok', or the code of the ProtocolError it throws (anything else fails).
export async function code(fn) {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    assert.equal(e.name, 'ProtocolError', String(e));
    return e.code;
  }
}
