// Review 25p, F10: the room page's reconnect loop (static/js/room.js connect: a fixed 3 s retry
// on every close, for ever). A member whose room ended while it was disconnected (idle, expired,
// revoked, dropped: the relay's "end" never reached it) is answered gone on every new socket,
// and the page says "Connection lost. Reconnecting…" and opens a socket every 3 seconds for as
// long as the tab stays open: it never learns, nor says, that the room is over. Own file: it
// mocks setTimeout (the page's timers) for the whole process.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { openJoinPage, join, makePeers, completeVersion } from './room-page-harness.js';

const tick = () => new Promise((r) => { setImmediate(r); });

test('F10: a page whose sockets are refused for 10 minutes backs off and finds out the room is gone', { todo: 'open: review 25p F10, not fixed yet (the retries back off but never learn the room ended)' }, async () => {
  const page = await openJoinPage(); // the API answers gone (404) to every call but the join
  await join(page, { name: 'Bob' });
  const peers = await makePeers(page, [1]);
  await completeVersion(page, peers, 1, [1, 2]);
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    page.relay.refuseAll = true; // the session is gone: every upgrade is refused
    page.relay.sock.drop();
    await tick();
    const start = page.relay.sockets.length;
    for (let s = 0; s < 600; s++) {
      mock.timers.tick(1000);
      for (let i = 0; i < 5; i++) await tick();
    }
    const tries = page.relay.sockets.length - start;
    const told = !page.$('ended').hidden || !page.$('gone').hidden;
    const said = page.$('status').textContent;
    // End the page before asserting: its next socket is let in and told the room ended.
    page.relay.refuseAll = false;
    for (let s = 0; s < 120 && page.relay.sock.readyState !== 1; s++) {
      mock.timers.tick(1000);
      for (let i = 0; i < 5; i++) await tick();
    }
    page.relay.sock.text({ t: 'end', reason: 'revoked' });
    assert.ok(tries <= 20, `${tries} sockets in 10 minutes, still "${said}"`);
    assert.ok(told, `after 10 minutes of refused sockets the page still says "${said}"`);
  } finally {
    mock.timers.reset();
  }
});
