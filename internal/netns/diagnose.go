//go:build linux

package netns

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// procFile reads a /proc file; a variable so that tests can describe other machines.
var procFile = func(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// diagnose wraps err (from step) in ErrUnavailable with the most likely cause on this machine
// and what fixes it.
func diagnose(err error, step string, unprivileged bool) error {
	return fmt.Errorf("%w: %s: %v: %s", ErrUnavailable, step, err, cause(err, unprivileged))
}

// cause names what on this machine most likely refused the namespace, and the remedy.
func cause(err error, unprivileged bool) string {
	if errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
		return "this kernel lacks network or user namespaces (CONFIG_NET_NS, CONFIG_USER_NS): run the tests on a kernel that has them"
	}
	seccomp := ""
	if status, e := procFile("/proc/self/status"); e == nil {
		for _, l := range strings.Split(status, "\n") {
			if v, ok := strings.CutPrefix(l, "Seccomp:"); ok && strings.TrimSpace(v) == "2" {
				seccomp = "a seccomp filter is active (Docker's default profile blocks namespaces): run the container with --security-opt seccomp=unconfined and --cap-add SYS_ADMIN (or --privileged), or run the tests on the host"
			}
		}
	}
	if unprivileged {
		if v, e := procFile("/proc/sys/kernel/unprivileged_userns_clone"); e == nil && v == "0" {
			return "unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone = 0): as root, sysctl -w kernel.unprivileged_userns_clone=1, or run the tests as root"
		}
		if v, e := procFile("/proc/sys/user/max_user_namespaces"); e == nil && v == "0" {
			return "user namespaces are limited to none (user.max_user_namespaces = 0): as root, sysctl -w user.max_user_namespaces=10000, or run the tests as root"
		}
		if v, e := procFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); e == nil && v == "1" {
			return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, the default since Ubuntu 23.10): as root, sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 for the test run (or an AppArmor profile that allows userns for go test's binaries), or run the tests as root"
		}
	}
	if seccomp != "" {
		return seccomp
	}
	if unprivileged {
		return "the kernel refused an unprivileged user namespace (a container or security module may forbid them): run the tests as root, or on a host that allows user namespaces"
	}
	return "root could not create a network namespace (a container without CAP_SYS_ADMIN?): run the tests on the host or in a container with --cap-add SYS_ADMIN"
}
