// Package browsertest drives Firefox ESR, the engine of Tor Browser, from plain `go test` over
// WebDriver BiDi, with Tor Browser's security-level preferences (Standard, Safer, Safest), and
// serves the app to it under a fake .onion origin through an in-process HTTP proxy.
//
// What it proves: that sealdrop's pages work in the real client at each level, that the browser
// never sends key material (every request's method, URL, headers and body pass through
// FakeOnionProxy and are recorded), that no request leaves the onion origin (every other host is
// refused and recorded), and that pages raise no JavaScript error or CSP violation (console and
// error capture through log.entryAdded).
//
// What the tests cover, grouped by file. A scenario gets a fresh vault and app behind the shared
// proxy, runs at Standard and Safer unless its name says one level, and ends by checking the
// requests it caused (assertClean): nothing off the onion, no key in any encoding, no PIN, no
// console error or CSP violation.
//   - the harness itself (harness_test.go, smoke_test.go): the security-level preferences, that
//     the key check finds every encoding a page could put on the wire, the proxy's recording and
//     refusals, Close killing the whole process group, WebCrypto present at Standard and Safer
//     with WebAssembly gone at Safer and only the noscript content at Safest, and that a blocked
//     inline script does reach the console capture (so "no CSP violation" can fail);
//   - notes (notes_test.go): text and files with a GPS-tagged JPEG opened once, byte-identical,
//     picture intact and tags gone, then gone on reload; wrong PINs counting down; the destruct
//     PIN looking like a wrong one and destroying the note (with a plain wrong PIN as control);
//     the manage link (waiting, opened, revoke); Safest showing noscript panels and consuming
//     nothing; a 25 MiB file at Safer with moving progress bars;
//   - chat (chat_test.go): two people with the same safety code, text and a file both ways and
//     End, the server keeping nothing; a PIN and a third person seeing the gone view; Safest's
//     noscript panel burning nothing; the POST send/poll fallback when no WebSocket opens;
//   - drop boxes (drop_test.go, drop_resume_test.go): create, submit text and a GPS JPEG with a
//     reply request, read once with the tags gone, reply and read the reply once, the theft
//     warning, second reads empty; Safest's noscript panels sending only GETs; the submit page's
//     refusals (a link whose keys are not its route's, a full drop); the proof-of-work bar and a
//     fetch cut midway that resumes from a whole chunk (FakeOnionProxy can cut the next answer);
//   - round trips (roundtrips_test.go, issue 17): per user action after the page has loaded (a
//     note of text, of a 1 MiB and a 25 MiB file; open; manage status; chat start, join and
//     first message; drop submit with and without a reply box; inbox list and fetch), at Safer,
//     the requests in sequence and the new connections on that critical path, asserted
//     exactly (the README's "Round trips per action"); the proxy numbers connections and
//     records when each answer went out, and CriticalPath (critical.go) finds the path;
//   - phone (phone_test.go, issue 19): the note, drop, reply and chat pages' states at 360×740
//     CSS px (Tor Browser for Android): nothing wider than the screen, tap targets at least
//     44×44 px, text fields at 16 px or more, one visible h1 and no skipped heading level, and
//     the create page's button in the first screen with its options folded;
//   - Chromium (chromium_test.go; SEALDROP_CHROMIUM=0 turns it off): a quick second engine, not a
//     Tor-like one, running the core note and PIN flows and the console-capture control, with
//     the secure-context flag it needs for .onion and its process cleanup checked;
//   - last (zz_quiet_test.go): every request the shared browsers made during the whole run
//     stayed on the onion origin, so a call-home feature firing between tests is still caught.
//
// Some scenarios save screenshots (into $SEALDROP_SCREENSHOTS, or a kept temporary directory);
// those in screenshots/ are the README's.
//
// What it does not prove: Tor Browser itself is not installed here. NoScript, letterboxing,
// Tor's circuit isolation and the tor-browser patches to Firefox are absent; Safest is emulated
// with javascript.enabled=false. A page that passes here can still fail in Tor Browser for
// reasons outside the engine.
//
// Reading the page at Safest: WebDriver BiDi evaluation is privileged and still runs with
// javascript.enabled=false, both in the harness's sandbox realm (what Eval, Text, Visible and
// WaitFor use at every level) and in the page realm (EvalPage), but only synchronously: the
// page's job queue does not run, so a promise never settles there. Results are therefore
// serialised with JSON.stringify inside a plain (non-async) function.
//
// Downloads (Tab.Download) land in Browser.DownloadDir without a dialog, so a test compares
// the bytes a person would save with the bytes that were sent. Fetching the page's blob: URLs
// from script instead would break the page's CSP (connect-src 'self').
//
// Safety: a browser may try to call home. Firefox is started with every such feature switched
// off, but the only real guarantee is the network namespace: TestMain calls netns.Enter, which
// re-executes the test binary in a network namespace of its own with only loopback.
// RequireBrowser fails a test when SEALDROP_REQUIRE_OFFLINE_TESTS=1 and a non-loopback interface
// exists, and skips it otherwise.
// Every Firefox is started in its own process group and killed with it on Close.
package browsertest
