// Package audit holds static checks of sealdrop's own source (the security brief's T12, T13,
// T18 and T25), run as ordinary tests over the module's non-test files, and one check of its
// tests:
//
//   - no math/rand outside _test.go files (capabilities come from crypto/rand only);
//   - nothing prints or logs outside cmd/, and in cmd/ only at listed call sites (startup
//     lines, command-line tools); nothing reads a request's RemoteAddr, anywhere;
//   - in vault/ and internal/web/, secrets are compared only in constant time: no bytes.Equal,
//     bytes.Compare, and no == or != on byte arrays, byte slices or strings converted from
//     bytes, unless a "// audit:ok <reason>" comment on the line says why it is not a secret;
//   - every goroutine of the server recovers from a panic (a deferred recover), or is listed
//     with the reason it cannot panic;
//   - go.mod requires current golang.org/x/crypto, net and sys;
//   - every parser of request input has a Fuzz target;
//   - no code sets, reads or keeps an HTTP cookie (net/http's cookie API, a cookie jar, a
//     Cookie or Set-Cookie header named in a string);
//   - and, over the test code: no test calls require.*, t.Fatal, t.FailNow or t.Skip (or a
//     helper that does) on a goroutine it started or in an HTTP handler, where FailNow ends
//     only that goroutine and the failure is lost or reported late.
//
// Each checker is a function of this package so that its tests can show it catches a small
// bad snippet: a check that cannot fail proves nothing. What it does not prove: that the code
// is free of timing channels the compiler or CPU introduce, or of prints through a route the
// checks do not know (a third-party library writing to stderr).
package audit
