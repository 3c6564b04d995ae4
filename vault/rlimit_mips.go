//go:build linux && (mips || mipsle || mips64 || mips64le)

package vault

// rlimitMemlock is RLIMIT_MEMLOCK on MIPS, which numbers its limits differently.
const rlimitMemlock = 9
