// Package memscan is test support: it looks for secret bytes in a process's memory, as someone
// who seized the machine while the process ran (or at the instant it exits) would, so that tests
// can prove a wipe left no copy behind.
//
// What it scans: every mapping /proc/PID/maps lists as readable (private and shared: heap,
// stacks, memguard's locked blocks, the binary's data, mapped files), read through /proc/PID/mem.
// Pages the kernel refuses to hand over ([vvar], [vsyscall], device memory) are skipped and, for
// another process, counted. Canary.Count scans this process; ScanPID scans another one (root,
// or the same user with ptrace allowed).
//
// What it cannot see, so a zero count does not prove: CPU registers; kernel memory (socket and
// pipe buffers, the page cache, the crypto API); pages the process already returned to the
// operating system, which the kernel clears only when it hands them out again; swap and core
// files; other processes (tor, a browser). Canary.Count also skips mappings larger than 4 GiB:
// under -race those are the detector's shadow reservations, terabytes that hold no data copies
// but would take hours to read.
//
// A canary searched for in this process must never be held whole by the test, or the scan
// finds the test's own copy: Canary keeps two random halves whose XOR is the value and writes
// the value only into the destination the code under test owns. ScanPID takes plain needles,
// because they live in this process and the scan reads another. Linux only.
package memscan
