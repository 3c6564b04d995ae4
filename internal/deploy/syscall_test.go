//go:build linux

package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/admin"
	"github.com/sealdrop/sealdrop/internal/deploy"
	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const workloadEnv = "SEALDROP_DEPLOY_SYSCALL_WORKLOAD"

// expandGroup lists the system calls a systemd syscall group allows, nested groups expanded.
func expandGroup(t *testing.T, sa, group string, seen map[string]bool, out map[string]bool) {
	t.Helper()
	if seen[group] {
		return
	}
	seen[group] = true
	b, err := exec.Command(sa, "syscall-filter", group).CombinedOutput()
	require.NoError(t, err, "%s", b)
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.TrimSpace(line)
		if i == 0 || f == "" || strings.HasPrefix(f, "#") {
			continue // the group's own name, blanks, comments
		}
		if strings.HasPrefix(f, "@") {
			expandGroup(t, sa, f, seen, out)
		} else {
			out[f] = true
		}
	}
}

var straceLine = regexp.MustCompile(`^\d+\s+(?:<\.\.\. ([a-z0-9_]+) resumed>|([a-z0-9_]+)\()`)

// The unit's system-call filter (what @system-service allows, minus @privileged and
// @resources) admits every call that memguard, the vault and the admin socket make, and those
// code paths create only AF_UNIX sockets (listen mode allows no other family). The workload runs
// under strace -f; a call outside the filter would be refused with EPERM under systemd.
func TestFilterAdmitsSealdropCalls(t *testing.T) {
	if os.Getenv(workloadEnv) != "" {
		t.Skip("parent only")
	}
	sa := systemdAnalyze(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("needs strace to record the workload's system calls")
	}
	// The filter as the unit writes it: allow-lists add, "~" lists remove, in order.
	_, u := render(t, deploy.UnitOptions{})
	filters := u["Service"]["SystemCallFilter"]
	require.NotEmpty(t, filters)
	allowed := map[string]bool{}
	for _, f := range filters {
		deny := strings.HasPrefix(f, "~")
		for _, item := range strings.Fields(strings.TrimPrefix(f, "~")) {
			set := map[string]bool{item: true}
			if strings.HasPrefix(item, "@") {
				set = map[string]bool{}
				expandGroup(t, sa, item, map[string]bool{}, set)
			}
			for c := range set {
				if deny {
					delete(allowed, c)
				} else {
					allowed[c] = true
				}
			}
		}
	}
	require.True(t, allowed["mlock"] && allowed["prlimit64"] && !allowed["setrlimit"] && !allowed["setuid"],
		"unexpected group contents from systemd-analyze")

	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace, "--", os.Args[0],
		"-test.run=^TestFilterWorkloadChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), workloadEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("PTRACE")) {
		t.Skipf("strace cannot trace here: %s", out)
	}
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestFilterWorkloadChild")

	f, err := os.Open(trace)
	require.NoError(t, err)
	defer f.Close()
	calls := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := straceLine.FindStringSubmatch(line)
		if m == nil {
			continue // signals, exits
		}
		name := m[1] + m[2]
		calls[name]++
		if (name == "socket" || name == "socketpair") && !strings.Contains(line, "resumed>") {
			assert.Contains(t, line, "AF_UNIX", "a socket that is not AF_UNIX")
		}
	}
	require.NoError(t, sc.Err())
	// The workload really locked memory and served the socket (the check is not vacuous).
	for _, c := range []string{"mlock", "munlock", "mprotect", "madvise", "socket", "accept4", "connect", "prlimit64"} {
		assert.Positive(t, calls[c], "the workload made no %s call", c)
	}
	var refused []string
	for c := range calls {
		if !allowed[c] {
			refused = append(refused, c)
		}
	}
	assert.Empty(t, refused, "calls the unit's SystemCallFilter would refuse")
	t.Logf("%d distinct system calls traced", len(calls))
}

// TestFilterWorkloadChild: what sealdrop's vault and admin socket do at run time.
func TestFilterWorkloadChild(t *testing.T) {
	dir := os.Getenv(workloadEnv)
	if dir == "" {
		t.Skip("run by TestFilterAdmitsSealdropCalls")
	}
	v, err := vault.New(vault.Config{Budget: 1 << 20, SweepEvery: -1})
	require.NoError(t, err)
	caps := vault.Caps{Gate: vault.Hash{1}, Manage: vault.Hash{2}}
	_, _, err = v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 5000, TTL: time.Hour, Caps: caps},
		bytes.NewReader(make([]byte, 5000)))
	require.NoError(t, err)

	start := time.Now()
	ln, err := admin.Listen(filepath.Join(dir, "admin.sock"))
	require.NoError(t, err)
	srv, err := admin.New(admin.Config{
		Status: func() admin.Status { return admin.FromStats(v.Stats(), start, time.Now(), "") },
		Wipe:   v.Wipe,
		Exit:   func() {},
	})
	require.NoError(t, err)
	go srv.Serve(ln)
	st, err := admin.GetStatus(t.Context(), filepath.Join(dir, "admin.sock"))
	require.NoError(t, err)
	require.Equal(t, 1, st.Notes)
	require.NoError(t, admin.Wipe(t.Context(), filepath.Join(dir, "admin.sock"), false))
	require.Zero(t, v.Stats().Entries[vault.KindNote])
	require.NoError(t, srv.Close())
	require.NoError(t, v.Close())
}
