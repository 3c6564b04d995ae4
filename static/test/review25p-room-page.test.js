// Review 25p: the room page (static/js/room.js) against a hostile relay and a hostile member,
// and what it leaves for a coercer next to the reader. The real page runs in Node with the fake
// DOM, relay and API of room-page-harness.js; the other members are honest room-protocol.js
// members. The controls first (they pass: the harness is honest), then one test per finding
// (they fail until the page is fixed; the report is /work/notes/room25p-review.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  openJoinPage, join, makePeers, completeVersion, endPage, until, sentRecords, R,
} from './room-page-harness.js';
import { MSG_TEXT, MSG_FILE_BEGIN, MSG_FILE_CHUNK } from '../js/chat-protocol.js';

const enc = (s) => new TextEncoder().encode(s);
const text = (peer, s) => peer.seal(R.encodeRoomMessage(MSG_TEXT, enc(s)));

// A room of two: the page (seat 2, named Bob) and an honest peer (seat 1), version 1 complete.
async function roomOfTwo(opts = {}) {
  const page = await openJoinPage(opts);
  await join(page, { name: 'Bob' });
  const peers = await makePeers(page, [1]);
  await completeVersion(page, peers, 1, [1, 2]);
  return { page, peers };
}

async function sendFile(peer, sock, { id = 7, name, type = 'application/octet-stream', data }) {
  sock.bin(1, await peer.seal(R.encodeRoomMessage(MSG_FILE_BEGIN, enc(JSON.stringify({ id, name, type, size: data.length })))));
  const body = new Uint8Array(4 + data.length);
  new DataView(body.buffer).setUint32(0, id);
  body.set(data, 4);
  sock.bin(1, await peer.seal(R.encodeRoomMessage(MSG_FILE_CHUNK, body)));
}

const notes = (page) => page.doc.querySelectorAll('li.note').map((li) => li.textContent);

// ---- controls: what the page does right ----

test('control: the invite\'s fragment leaves the address bar before anything else', async () => {
  const page = await openJoinPage();
  assert.equal(page.location.hash, '', 'the fragment is gone at once');
  assert.ok(!page.$('join').hidden, 'the join form is shown');
  await join(page, { name: 'Bob' });
  const peers = await makePeers(page, [1]);
  await completeVersion(page, peers, 1, [1, 2]);
  assert.ok(!page.location.href.includes(page.frag.slice(0, 20)));
  await endPage(page);
});

test('control: a record dropped for this member is shown at the sender\'s next record; a relabelled one as reflect', async () => {
  const { page, peers } = await roomOfTwo();
  const a = await text(peers[1], 'one');
  await text(peers[1], 'two (dropped by the relay)');
  const c = await text(peers[1], 'three');
  page.relay.sock.bin(1, a);
  page.relay.sock.bin(1, c);
  await until(() => page.$('log').textContent.includes('three'), 'the third message');
  assert.ok(notes(page).some((n) => /^1 message from \(place 1\) did not arrive/.test(n)), `gap shown: ${notes(page)}`);
  page.relay.sock.bin(3, c); // stamped as from a seat that did not send it
  await until(() => notes(page).some((n) => n.includes('said came from another person')), 'the reflect alarm');
  await endPage(page);
});

test('control: a list that lists again a seat that left is the "view" alarm', async () => {
  const { page, peers } = await roomOfTwo();
  const bye = await peers[1].bye();
  page.relay.sock.bin(1, bye);
  page.relay.sock.text({ t: 'seats', v: 2, in: [2], out: [] });
  await until(() => notes(page).some((n) => n.includes('left the room')), 'the bye');
  page.relay.sock.text({ t: 'seats', v: 3, in: [1, 2], out: [] });
  await until(() => notes(page).some((n) => n.includes('were shown different lists')), 'the view alarm');
  await endPage(page);
});

// ---- findings ----

// F1 (hostile member): a received file's name goes into the log as plain text inside the
// message span, with no <bdi> and no check: an RLO (U+202E) makes "report<RLO>fdp.exe" read
// "reportexe.pdf", control characters and a name of tens of kilobytes go in as they are, and
// the same name is the download attribute.
test('F1: a received file name with an RLO, control characters or 20,000 characters is shown and saved safely', async () => {
  const { page, peers } = await roomOfTwo();
  try {
    const hostile = 'report\u202Efdp.exe';
    await sendFile(peers[1], page.relay.sock, { id: 1, name: hostile, data: enc('MZ!') });
    await until(() => page.doc.querySelectorAll('a.download').length === 1, 'the first download');
    const li = page.doc.querySelectorAll('#log li.them').at(-1);
    const a = page.doc.querySelectorAll('a.download')[0];
    const controls = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
    const shown = li.querySelector('.text').textContent;
    assert.doesNotMatch(shown, controls, `the log shows the name with bidi or control characters: ${JSON.stringify(shown)}`);
    assert.doesNotMatch(a.download, controls, `the download name keeps bidi or control characters: ${JSON.stringify(a.download)}`);
    assert.ok(li.querySelector('bdi'), 'the file name is isolated in <bdi>, as member names are');

    await sendFile(peers[1], page.relay.sock, { id: 2, name: `a\nb\u0007${'x'.repeat(20000)}.txt`, data: enc('hi') });
    await until(() => page.doc.querySelectorAll('a.download').length === 2, 'the second download');
    const li2 = page.doc.querySelectorAll('#log li.them').at(-1);
    assert.ok(li2.textContent.length < 400, `a 20,000-character file name fills the log (${li2.textContent.length} characters)`);
    assert.ok(page.doc.querySelectorAll('a.download')[1].download.length <= 255, 'the saved name is capped');
  } finally {
    await endPage(page);
  }
});

// F2 (coercer): every received file is an object URL that is never revoked: not at leave, not
// when the room ends; the blobs stay in the tab's memory (and fetchable by their URL) after
// the page says "the messages are gone from this screen".
test('F2: the object URLs of received files are revoked when the room ends', async () => {
  const { page, peers } = await roomOfTwo();
  await sendFile(peers[1], page.relay.sock, { name: 'notes.txt', data: enc('secret source notes') });
  await until(() => page.doc.querySelectorAll('a.download').length === 1, 'the download');
  assert.equal(page.urls.made.length, 1);
  await endPage(page);
  assert.ok(!page.$('ended').hidden, 'the ended view');
  assert.deepEqual(page.urls.revoked, page.urls.made, 'every object URL the page made is revoked at the end');
});

// F3 (hostile relay or a flaky network while left out): away, the page closes its socket and
// opens the next one at once on every close, with no delay at all. A relay that refuses the
// new socket (or a network that is down) makes it open sockets as fast as the event loop runs.
test('F3: while left out, a refused socket is not retried in a hot loop', async () => {
  const { page } = await roomOfTwo();
  page.relay.refuseAll = true;
  page.relay.sock.text({ t: 'seats', v: 2, in: [1], out: [2] });
  await until(() => page.relay.sockets.length > 1, 'the page to come back');
  const start = page.relay.sockets.length;
  await new Promise((r) => { setTimeout(r, 300); });
  const tries = page.relay.sockets.length - start;
  page.relay.refuseAll = false;
  // Stop the loop before asserting: the next socket is told the room ended.
  await until(() => page.relay.sock.readyState === 1, 'an open socket');
  page.relay.sock.text({ t: 'end', reason: 'revoked' });
  assert.ok(tries <= 3, `${tries} sockets opened in 300 ms while left out`);
});

// F4 (hostile relay): "while out, the page seals nothing" (room.js's own rule) holds only for
// the messages typed: a hello of the version before, delivered after the list that left this
// member out, still makes the page send its keys and seal its name on the old chain.
test('F4: nothing is sent or sealed while this member is left out', async () => {
  const { page, peers } = await roomOfTwo();
  // Version 2, the same two: the page sends its hello and waits for the peer's.
  page.relay.sock.text({ t: 'seats', v: 2, in: [1, 2], out: [] });
  const peerHello = (await peers[1].seats(2, [1, 2])).hello;
  await until(() => sentRecords(page, R.REC_HELLO).length === 2, 'the page\'s hello of version 2');
  // The relay leaves the page out of version 3, then hands it the peer's hello of version 2.
  page.relay.sock.text({ t: 'seats', v: 3, in: [1], out: [2] });
  await until(() => page.relay.sockets.length === 2, 'the fresh socket of a member left out');
  const before = sentRecords(page).length;
  page.relay.sock.bin(1, peerHello);
  await new Promise((r) => { setTimeout(r, 500); });
  const after = sentRecords(page).slice(before).map((r) => ({ 1: 'hello', 2: 'keys', 3: 'data' })[r[0]]);
  await endPage(page);
  assert.deepEqual(after, [], 'records sent while left out');
});

// F5 (coercer): the join PIN is a visible text field (type=text) and stays filled after a
// wrong try and after joining (hidden, in the DOM). The note page empties its PIN field after
// every try (open.js); the room page never does.
test('F5: the PIN typed at join does not stay in its field after a wrong try or after joining', async () => {
  let wrong = true;
  const page = await openJoinPage({
    pin: true,
    api: async (path) => {
      if (!/\/join$/.test(path)) return null;
      if (wrong) { wrong = false; return { status: 403, body: { error: 'wrong_pin', tries_left: 4 } }; }
      return null;
    },
  });
  assert.ok(!page.$('join-pin-field').hidden, 'the PIN field is shown');
  page.$('join-name').value = 'Bob';
  page.$('join-pin').value = '482913';
  page.$('join-form').dispatch('submit');
  await until(() => !page.$('error').hidden, 'the wrong PIN answer');
  assert.match(page.$('error').textContent, /Wrong PIN/);
  const afterWrong = page.$('join-pin').value;
  page.$('join-pin').value = '482914';
  page.$('join-form').dispatch('submit');
  await until(() => page.relay.sockets.length > 0, 'the socket');
  const afterJoin = page.$('join-pin').value;
  await endPage(page);
  assert.equal(afterWrong, '', 'a wrong PIN stays in the field, in clear text');
  assert.equal(afterJoin, '', 'the PIN stays in the (hidden) field for the room\'s life');
});

// F6 (coercer): after the room ends, the ended view says the messages are gone; the log is
// emptied, but the member list (every name), the safety code and a typed, unsent draft stay in
// the document (hidden).
test('F6: names, safety code and the draft are gone from the page once the room ended', async () => {
  const { page, peers } = await roomOfTwo();
  page.relay.sock.bin(1, await peers[1].seal(R.encodeRoomMessage(R.MSG_NAME, enc('Alice Source'))));
  await until(() => page.$('members').textContent.includes('Alice Source'), 'the peer\'s name');
  page.$('message').value = 'draft: meet at the north entrance';
  await endPage(page);
  assert.ok(!page.$('ended').hidden);
  assert.equal(page.$('members').textContent, '', 'the member list (names) stays in the page');
  assert.equal(page.$('safety').textContent, '', 'the safety code stays in the page');
  assert.equal(page.$('message').value, '', 'the unsent draft stays in the page');
});

// F7 (hostile relay: a ghost member, or members gone): the safety code shown is the last one
// computed, for the previous member list, while the member list already shows the relay's new
// one. A relay that adds a ghost seat (it can never send a hello: no Km) leaves the old code on
// screen beside a list of three: members who compare codes now find them equal and trust a
// list with a ghost in it.
test('F7: the safety code on screen is never one of another member list', async () => {
  const { page } = await roomOfTwo();
  const code1 = page.$('safety').textContent;
  assert.match(code1, /^\d{4}( \d{4}){5}$/);
  page.relay.sock.text({ t: 'seats', v: 2, in: [1, 2, 3], out: [] }); // seat 3: a ghost
  await until(() => page.$('members').textContent.includes('(place 3)'), 'the ghost in the list');
  await new Promise((r) => { setTimeout(r, 200); });
  const shown = page.$('safety').textContent;
  await endPage(page);
  assert.notEqual(shown, code1, 'the code of members 1 and 2 is shown beside a list of 1, 2 and 3');
});

// F8 (hostile relay): a hello whose Km MAC fails can only come from someone without the room's
// link, in practice the relay; the page words every "handshake" refusal as "someone other than
// the person you invited may hold the invite link for <member> … Do not believe what comes
// from <member>". So the relay, with one forged hello, makes the page tell everyone to distrust
// an honest member (whose genuine hello is then taken and whose safety code matches).
test('F8: a hello forged by the relay does not make the page accuse the member it names', { todo: 'open: review 25p F8, not fixed yet (the page names the member a forged hello claims)' }, async () => {
  const { page, peers } = await roomOfTwo();
  page.relay.sock.text({ t: 'seats', v: 2, in: [1, 2], out: [] });
  const genuine = (await peers[1].seats(2, [1, 2])).hello;
  const forged = genuine.slice();
  forged[forged.length - 1] ^= 1; // the relay has no Km: its MAC fails
  page.relay.sock.bin(1, forged);
  page.relay.sock.bin(1, genuine);
  await until(() => notes(page).some((n) => n.includes('(place 1)') && n.includes('invite link')), 'the handshake note');
  const note = notes(page).find((n) => n.includes('invite link'));
  await endPage(page);
  assert.doesNotMatch(note, /Do not believe what comes from/, `a relay's forgery accuses the member: ${note}`);
});

// F9 (address bar): an invite whose id was damaged in transit (one more character, as some
// chat apps do) is served the room page by /g/{id} (any id); the page's path check fails, it
// shows the create form, and the invite's fragment (the seat key and the room key) stays in
// the address bar.
test('F9: a fragment never stays in the address bar, whatever the path', { todo: 'open: review 25p F9, not fixed yet (an invite whose id gained a character keeps its fragment)' }, async () => {
  const page = await openJoinPage({ pathSuffix: 'x' });
  const hash = page.location.hash;
  assert.equal(hash, '', 'the invite\'s keys stay in the address bar');
});

// F5b (coercer, the creator's side of F5): the PIN and the destruct PIN typed at create stay
// in their (hidden) fields for the room's whole life, and after it: whoever gets the creator's
// open tab reads the destruct PIN, the one secret that must look like a typo.
test('F5b: the PIN and destruct PIN typed at create do not stay in their fields', async () => {
  const page = await openJoinPage({
    at: '/room',
    api: async (path) => (path === '/api/v1/rooms' ? { status: 201, body: { id: 'AAAAAAAAAAAAAAAAAAAAAA', expires_in: 86400 } } : null),
  });
  assert.ok(!page.$('create').hidden, 'the create form');
  page.$('seats').value = '2';
  page.$('create-name').value = 'Editor';
  page.$('pin').value = '482913';
  page.$('dpin').value = '111999';
  page.$('create-form').dispatch('submit');
  await until(() => page.relay.sockets.length > 0 || !page.$('error').hidden, 'the room socket');
  assert.ok(page.$('error').hidden, page.$('error').textContent);
  const pin = page.$('pin').value;
  const dpin = page.$('dpin').value;
  await endPage(page);
  assert.equal(pin, '', 'the PIN stays in its field');
  assert.equal(dpin, '', 'the destruct PIN stays in its field');
});
