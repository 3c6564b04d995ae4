//go:build linux

// Package netns gives a test binary a network of its own that has only loopback, so that the
// tests which start tor or a browser cannot reach anything beyond this machine.
//
// A package whose tests start tor or a browser calls Enter first thing in its TestMain. Enter
// re-executes the test binary in a new network namespace and exits with the child's exit code;
// the tests run in the child. Nothing outside the repository is needed: Go's
// SysProcAttr.Cloneflags creates the namespace (CLONE_NEWNET, plus CLONE_NEWUSER when the
// caller is not root), the child brings lo up with an ioctl and checks that no other interface
// exists. An ordinary user's tests run as that user, without capabilities: the first child is
// root only inside a user namespace of its own, brings lo up, and starts the second child in a
// nested user namespace that maps the caller's uid back, so the tests see the caller's uid and
// hold no capability at all. Root's tests run as root, in the new network namespace only.
//
// Where no namespace can be made (unprivileged user namespaces switched off by a sysctl,
// Ubuntu's AppArmor restriction, Docker's default seccomp profile, a kernel without them),
// Enter returns and the tests run where they are: Require then skips each test that needs the
// namespace, with the cause and the remedy, or fails it when SEALDROP_REQUIRE_OFFLINE_TESTS=1.
//
// What it does not do: it does not stop a test from reaching the host through a unix socket or
// the file system (a network namespace isolates the network only), and it does not order test
// binaries: Lock does, for the suites that start tor or a browser.
package netns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// EnvRequire names the variable that turns a missing namespace (or a missing tool such as tor,
// a browser or node) from a skip into a failure. CI sets it to 1 so that no suite can silently
// not run.
const EnvRequire = "SEALDROP_REQUIRE_OFFLINE_TESTS"

// The re-executed children find their stage, and the second stage the caller's ids, here.
const (
	envStage = "SEALDROP_NETNS_STAGE" // "1": the new network namespace; "2": back to the caller's uid
	envUID   = "SEALDROP_NETNS_UID"   // set for an unprivileged caller: its uid and gid
	envGID   = "SEALDROP_NETNS_GID"
	envOuter = "SEALDROP_NETNS_OUTER" // the caller's network namespace (readlink /proc/self/ns/net)
)

// reportFD is the pipe on which the first child tells its parent whether the namespace is
// ready ("ok") or why not, before any test runs.
const reportFD = 3

// exitSetup is the first child's exit code when it could not set the namespace up.
const exitSetup = 97

var (
	// ErrNotOffline means a network interface other than lo exists.
	ErrNotOffline = errors.New("netns: a network interface other than lo exists")
	// ErrUnavailable means no loopback-only namespace could be made here.
	ErrUnavailable = errors.New("netns: no loopback-only network namespace")
)

// unavailable is why Enter could not re-execute the binary in a namespace (nil when it did, or
// when Enter was not called).
var unavailable error

// Enter runs the rest of this test binary in a loopback-only network namespace: outside one it
// re-executes the binary inside a new one and exits with its exit code; inside (or when no
// namespace can be made) it returns, and the caller goes on to m.Run. Call it first in TestMain.
// It prints nothing unless a namespace could not be set up after it was made.
func Enter() {
	switch os.Getenv(envStage) {
	case "":
		if Check() == nil {
			return // already loopback-only (e.g. inside another tool's namespace)
		}
		code, err := spawnFirst()
		if err != nil {
			unavailable = err
			return
		}
		os.Exit(code)
	case "1":
		stageOne()
	case "2":
		if err := Check(); err != nil {
			fmt.Fprintf(os.Stderr, "netns: the nested namespace is not loopback-only: %v\n", err)
			os.Exit(exitSetup)
		}
	default:
		fmt.Fprintf(os.Stderr, "netns: unknown %s=%q\n", envStage, os.Getenv(envStage))
		os.Exit(exitSetup)
	}
}

// Check reports ErrNotOffline unless lo is the only network interface and it is up. It asks
// the kernel, never an environment variable.
func Check() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("netns: list interfaces: %w", err)
	}
	var others []string
	up := false
	for _, i := range ifs {
		if i.Name != "lo" || i.Flags&net.FlagLoopback == 0 {
			others = append(others, i.Name)
			continue
		}
		up = i.Flags&net.FlagUp != 0
	}
	if len(others) > 0 {
		return fmt.Errorf("%w (found %s)", ErrNotOffline, strings.Join(others, ", "))
	}
	if !up {
		return fmt.Errorf("%w: lo is down", ErrNotOffline)
	}
	return nil
}

// Reason is why the tests that need the namespace cannot run here, or nil: Check's answer,
// explained by what Enter found when it tried to make a namespace.
func Reason() error {
	err := Check()
	if err == nil {
		return nil
	}
	if unavailable != nil {
		return unavailable
	}
	return fmt.Errorf("%w: this test binary's TestMain does not call netns.Enter (%v)", ErrUnavailable, err)
}

// Require stops the calling test unless it runs in a loopback-only namespace: with
// SEALDROP_REQUIRE_OFFLINE_TESTS=1 it fails, otherwise it skips, naming the cause and remedy.
func Require(tb testing.TB) {
	tb.Helper()
	err := Reason()
	if err == nil {
		return
	}
	if Strict() {
		tb.Fatalf("%v\n%s=1 requires this test to run", err, EnvRequire)
	}
	tb.Skipf("skipping: %v (set %s=1 to make this a failure)", err, EnvRequire)
}

// Strict reports whether SEALDROP_REQUIRE_OFFLINE_TESTS=1: a test that cannot run fails.
func Strict() bool { return os.Getenv(EnvRequire) == "1" }

// spawnFirst starts the first child in a new network namespace (and a user namespace when
// this process is not root) and waits for it. It returns an error, and no exit code, when the
// namespace could not be made or set up; then no test has run yet.
func spawnFirst() (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer r.Close()
	uid, gid := os.Getuid(), os.Getgid()
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	env := append(os.Environ(), envStage+"=1")
	if ns, err := os.Readlink("/proc/self/ns/net"); err == nil {
		env = append(env, envOuter+"="+ns)
	}
	if uid != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		env = append(env, envUID+"="+strconv.Itoa(uid), envGID+"="+strconv.Itoa(gid))
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = attr
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, diagnose(err, "creating the namespaces", uid != 0)
	}
	stopRelay := relaySignals(cmd.Process)
	defer stopRelay()
	report, _ := io.ReadAll(bufio.NewReader(io.LimitReader(r, 4096)))
	if msg := strings.TrimSpace(string(report)); msg != "ok" {
		_ = cmd.Wait()
		if msg == "" {
			msg = "the child exited before reporting"
		}
		return 0, diagnose(errors.New(msg), "setting the namespace up", uid != 0)
	}
	return exitCode(cmd.Wait()), nil
}

// stageOne runs in the new network namespace, as root (the real one, or root of the new user
// namespace): it brings lo up, checks, and for an unprivileged caller starts the second stage
// as that caller's uid. It reports on reportFD before any test runs.
func stageOne() {
	report := os.NewFile(reportFD, "netns-report")
	syscall.CloseOnExec(reportFD) // no grandchild may hold the report pipe open
	fail := func(err error) {
		if report != nil {
			fmt.Fprintln(report, err)
			report.Close()
		}
		os.Exit(exitSetup)
	}
	if err := loopbackUp(); err != nil {
		fail(fmt.Errorf("bring lo up: %w", err))
	}
	if err := Check(); err != nil {
		fail(err)
	}
	if os.Getenv(envUID) == "" {
		if report != nil {
			fmt.Fprintln(report, "ok")
			report.Close()
		}
		return // root: the tests run here
	}
	uid, err1 := strconv.Atoi(os.Getenv(envUID))
	gid, err2 := strconv.Atoi(os.Getenv(envGID))
	if err := errors.Join(err1, err2); err != nil {
		fail(fmt.Errorf("caller ids: %w", err))
	}
	exe, err := os.Executable()
	if err != nil {
		fail(err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(withoutStage(os.Environ()), envStage+"=2")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// A nested user namespace whose only uid is the caller's, mapped to this namespace's root
	// (which is the caller outside): the exec then drops every capability.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: uid, HostID: 0, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: gid, HostID: 0, Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		fail(fmt.Errorf("nested user namespace: %w", err))
	}
	if report != nil {
		fmt.Fprintln(report, "ok")
		report.Close()
	}
	stopRelay := relaySignals(cmd.Process)
	code := exitCode(cmd.Wait())
	stopRelay()
	os.Exit(code)
}

func withoutStage(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, envStage+"=") {
			out = append(out, e)
		}
	}
	return out
}

// loopbackUp sets IFF_UP on lo, which also gives it 127.0.0.1 and ::1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// relaySignals passes the signals a test binary is stopped with (go test's timeout sends
// SIGQUIT, a terminal SIGINT) on to the child, which runs the tests and prints their stacks.
func relaySignals(p *os.Process) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				_ = p.Signal(s)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// exitCode is the exit status a parent should pass on for a child's Wait result.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		if c := ee.ExitCode(); c >= 0 {
			return c
		}
	}
	return 1
}
