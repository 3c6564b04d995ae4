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
// off, but the only real guarantee is the network namespace: run these tests under
// /work/shared/bin/loopback-only (or the project's copy). RequireOfflineBrowser fails a test when
// SEALDROP_REQUIRE_OFFLINE_TESTS=1 and a non-loopback interface exists, and skips it otherwise.
// Every Firefox is started in its own process group and killed with it on Close.
package browsertest
