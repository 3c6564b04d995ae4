//go:build linux

package netns

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// callerUID is the uid this test binary was started with, before Enter re-executed it.
var callerUID = os.Getuid()

func TestMain(m *testing.M) {
	if os.Getenv(envUID) != "" {
		callerUID, _ = strconv.Atoi(os.Getenv(envUID))
	}
	Enter()
	os.Exit(m.Run())
}

// Inside, the only interface is an up lo: 127.0.0.1 and ::1 answer, and any other address is
// unreachable at once (no route), not after a timeout.
func TestOnlyLoopback(t *testing.T) {
	Require(t)
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		t.Fatalf("interfaces %+v, want only lo, up", ifs)
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
		c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", l.Addr(), err)
		}
		c.Close()
		l.Close()
	}
	for _, addr := range []string{"192.0.2.1:80", "[2001:db8::1]:80", "10.0.0.1:80"} {
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("dial %s succeeded from the loopback-only namespace", addr)
		}
		if !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("dial %s: %v, want network unreachable", addr, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("dial %s took %v: a missing route fails at once", addr, d)
		}
	}
}

// The tests run as the user who started them: root stays root (in the new network namespace
// only), and anyone else keeps their uid and holds no capability at all.
func TestRunsAsCaller(t *testing.T) {
	Require(t)
	if got := os.Getuid(); got != callerUID {
		t.Fatalf("uid %d inside, caller was %d", got, callerUID)
	}
	if callerUID == 0 {
		return
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		for _, k := range []string{"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"} {
			if v, ok := strings.CutPrefix(l, k); ok && strings.Trim(strings.TrimSpace(v), "0") != "" {
				t.Errorf("%s %s: an ordinary user's tests must hold no capability", k, strings.TrimSpace(v))
			}
		}
	}
	// Control: the capability check reads real values (a shell started here has none either).
	out, err := exec.Command("sh", "-c", "grep CapEff /proc/self/status").Output()
	if err != nil || !strings.Contains(string(out), "0000000000000000") {
		t.Errorf("a child's CapEff: %q (%v)", out, err)
	}
}

// The namespace is this binary's own, not the one go test was started in.
func TestOwnNamespace(t *testing.T) {
	Require(t)
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	outer := os.Getenv(envOuter)
	if outer == "" {
		t.Skip("not re-executed by Enter (the binary was started in a loopback-only namespace already)")
	}
	if !strings.HasPrefix(outer, "net:[") || self == outer {
		t.Fatalf("network namespace %s, the caller's %s: want a new one", self, outer)
	}
}

// A failure inside the child reaches go test as the child's exit code.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"kill -TERM $$", 128 + int(syscall.SIGTERM)}} {
		err := exec.Command("sh", "-c", tc.script).Run()
		if got := exitCode(err); got != tc.want {
			t.Errorf("%q: exit code %d, want %d (%v)", tc.script, got, tc.want, err)
		}
	}
}

// Each refusal names its cause and its remedy.
func TestCause(t *testing.T) {
	saved := procFile
	t.Cleanup(func() { procFile = saved })
	for _, tc := range []struct {
		name         string
		files        map[string]string
		err          error
		unprivileged bool
		want         string
	}{
		{"debian sysctl", map[string]string{"/proc/sys/kernel/unprivileged_userns_clone": "0"}, syscall.EPERM, true, "sysctl -w kernel.unprivileged_userns_clone=1"},
		{"no user namespaces", map[string]string{"/proc/sys/user/max_user_namespaces": "0"}, syscall.ENOSPC, true, "user.max_user_namespaces"},
		{"ubuntu apparmor", map[string]string{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1"}, syscall.EPERM, true, "Ubuntu 23.10"},
		{"docker seccomp", map[string]string{"/proc/self/status": "Name:\tx\nSeccomp:\t2\n"}, syscall.EPERM, true, "seccomp=unconfined"},
		{"root in a container", map[string]string{}, syscall.EPERM, false, "SYS_ADMIN"},
		{"old kernel", map[string]string{}, syscall.EINVAL, true, "CONFIG_USER_NS"},
		{"unknown", map[string]string{"/proc/sys/kernel/unprivileged_userns_clone": "1"}, syscall.EPERM, true, "run the tests as root"},
	} {
		procFile = func(p string) (string, error) {
			if v, ok := tc.files[p]; ok {
				return strings.TrimSpace(v), nil
			}
			return "", os.ErrNotExist
		}
		err := diagnose(tc.err, "creating the namespaces", tc.unprivileged)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrUnavailable mentioning %q", tc.name, err, tc.want)
		}
	}
}

// The lock admits one holder at a time, whoever created the file.
func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := takeLock(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("lock file mode %v, want 0444 (any user may open it to lock)", fi.Mode().Perm())
	}
	got := make(chan error, 1)
	go func() {
		f, err := takeLock(path)
		if err == nil {
			f.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a second holder got the lock while the first held it (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the lock was not handed on after the first holder let go")
	}
}
