//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package vault

// rlimitMemlock is RLIMIT_MEMLOCK, which package syscall does not name.
const rlimitMemlock = 8
