//go:build !linux

package vault

// rlimitMemlock is unknown off Linux: the budget is not checked in advance there, and a failed
// lock is still caught by New's recover.
const rlimitMemlock = -1
