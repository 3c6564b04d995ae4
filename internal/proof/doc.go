// Package proof holds process-level proofs of sealdrop's promises (SECURITY.md, the security
// brief's T3, T5, T6, T15–T17, T19 and the soak): its tests build the real binary, run it and
// observe it from outside, through its sockets, /proc/PID (memory, limits, status, file
// descriptors), strace and its exit code. The package has no code of its own.
//
// The tests build the binary with -tags prooftest, which adds three routes (internal/web's
// prooftest.go): POST /__test/gc (settle pending wipes, collect garbage, return memory to the
// OS), /__test/panic (a handler panic) and /__test/gopanic (a recovered panic in a background
// goroutine). TestDefaultBuildHasNoTestRoutes proves the release build has none of them.
//
// Slow proofs (strace, 10,000 connections, the low-memlock start, signals under ptrace, the
// long corpus) run only with SEALDROP_SLOW_TESTS=1; the soak runs with SEALDROP_SOAK=1m or 10m.
// Linux only: it reads /proc.
package proof
