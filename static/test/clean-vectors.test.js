// Vectors shared by the browser's media privacy filter (static/js/clean/) and the server's Go
// port for submissions at Safest (internal/clean, TestSharedVectors): for each fixture, what
// the browser filter makes of it (kind, status, what it removed, and the SHA-256 of the
// cleaned file, PNGs with every iCCP chunk inflated, as the Go port packs profiles without
// compression) and whether the Go port must give exactly that ("same"), refuse the file
// ("refused": kinds it does not clean) or refuse it for the reason the browser filter gives for
// not checking it ("damaged": details hidden where a filter keeps bytes as they are, which both
// must refuse; the browser filter warns and sends the file unchanged). Rewrite with
// SEALDROP_UPDATE_CLEAN_VECTORS=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { cleanFile } from '../js/clean/index.js';
import { fixture, here } from './clean-helpers.js';

const PATH = join(here, 'clean-vectors.json');
const SAME = ['gps.jpg', 'prog.jpg', 'prog-ff00.jpg', 'gps.png'];
const REFUSED = ['style.css', 'data.xml', 'saved.html', 'inkscape.svg', 'report.rtf', 'gps.webp', 'anim.gif',
  'report.pdf', 'gps.tif', 'report.docx', 'gps.mp4', 'song.mp3', 'comment.ppm'];
const DAMAGED = ['smuggle-ffc8.jpg', 'smuggle-ffde.jpg', 'smuggle-ffdf.jpg', 'smuggle-ffcc.jpg', 'smuggle-srgb.png',
  'smuggle-gama.png', 'smuggle-fctl.png', 'smuggle-idat-tail.png'];

// canon is the cleaned file as compared: a PNG's iCCP chunks with their profile inflated.
export function canon(b) {
  if (!(b.length > 8 && b[0] === 0x89 && b[1] === 0x50)) return b;
  const out = [b.subarray(0, 8)];
  for (let i = 8; i + 12 <= b.length;) {
    const n = ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
    const type = String.fromCharCode(...b.subarray(i + 4, i + 8));
    if (type === 'iCCP') {
      const d = b.subarray(i + 8, i + 8 + n);
      const z = d.indexOf(0);
      out.push(new TextEncoder().encode('iCCP'), d.subarray(0, z + 2), new Uint8Array(inflateSync(d.subarray(z + 2))));
    } else {
      out.push(b.subarray(i, i + 12 + n));
    }
    i += 12 + n;
  }
  return Buffer.concat(out);
}

async function vector(file, go) {
  const r = await cleanFile(fixture(file));
  const out = new Uint8Array(await r.blob.arrayBuffer());
  const v = { file, go, kind: r.kind, status: r.status, removed: r.removed, sha256: createHash('sha256').update(canon(out)).digest('hex') };
  const why = /could not be checked \((.*)\), so hidden/.exec(r.warning || '');
  if (why) v.damaged = why[1];
  return v;
}

test('shared clean vectors: the browser filter gives what the file records', async () => {
  const got = [];
  for (const f of SAME) got.push(await vector(f, 'same'));
  for (const f of REFUSED) got.push(await vector(f, 'refused'));
  for (const f of DAMAGED) got.push(await vector(f, 'damaged'));
  if (process.env.SEALDROP_UPDATE_CLEAN_VECTORS === '1') {
    writeFileSync(PATH, JSON.stringify({ comment: 'static/test/clean-vectors.test.js writes this; internal/clean TestSharedVectors reads it', vectors: got }, null, 1) + '\n');
  }
  const want = JSON.parse(readFileSync(PATH, 'utf8')).vectors;
  assert.deepEqual(got, want);
  for (const v of want) if (v.go === 'same') assert.equal(v.status, 'cleaned', `${v.file}: the shared fixtures carry planted details`);
  for (const v of want) {
    if (v.go !== 'damaged') continue;
    assert.equal(v.status, 'warn', `${v.file}: never called clean`);
    assert.ok(v.damaged, `${v.file}: could not be checked`);
    assert.equal(v.sha256, createHash('sha256').update(canon(fixture(v.file))).digest('hex'), `${v.file}: sent unchanged, with the warning`);
  }
});
