package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sealdrop/sealdrop/internal/deploy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unitFile is a parsed unit: section → key → values in order. Comments and blanks are dropped.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "not a key=value line: %q", line)
			require.NotEmpty(t, section, "key outside a section: %q", line)
			u[section][k] = append(u[section][k], v)
		}
	}
	require.NoError(t, sc.Err())
	return u
}

func render(t *testing.T, o deploy.UnitOptions) (string, unitFile) {
	t.Helper()
	text, err := deploy.Unit(o)
	require.NoError(t, err)
	return text, parseUnit(t, text)
}

// The security lines every mode must carry, exactly.
var common = map[string]string{
	"LimitCORE":               "0",
	"NoNewPrivileges":         "yes",
	"ProtectSystem":           "strict",
	"ProtectHome":             "yes",
	"PrivateTmp":              "yes",
	"PrivateDevices":          "yes",
	"MemoryDenyWriteExecute":  "yes",
	"RuntimeDirectory":        "sealdrop",
	"CapabilityBoundingSet":   "",
	"AmbientCapabilities":     "",
	"ProtectKernelTunables":   "yes",
	"ProtectKernelModules":    "yes",
	"ProtectKernelLogs":       "yes",
	"ProtectControlGroups":    "yes",
	"RestrictNamespaces":      "yes",
	"LockPersonality":         "yes",
	"RestrictRealtime":        "yes",
	"RestrictSUIDSGID":        "yes",
	"SystemCallArchitectures": "native",
	"SystemCallErrorNumber":   "EPERM",
	"UMask":                   "0077",
	"StandardOutput":          "null",
	"StandardError":           "journal",
	"KillSignal":              "SIGTERM",
	"TimeoutStopSec":          "15",
	"Restart":                 "on-failure",
	"User":                    "sealdrop",
	"Group":                   "sealdrop",
}

func TestUnitSecurityLines(t *testing.T) {
	for _, tc := range []struct {
		mode    deploy.Mode
		exec    string
		special map[string]string
		absent  []string
	}{
		{
			mode: deploy.ModeListen,
			exec: "/usr/local/bin/sealdrop serve --listen unix:/run/sealdrop/http.sock --circuit-ids --admin-socket /run/sealdrop/admin.sock --budget 268435456",
			special: map[string]string{
				"RestrictAddressFamilies": "AF_UNIX",
				"PrivateNetwork":          "yes",
				"IPAddressDeny":           "any",
				"RuntimeDirectoryMode":    "2750",
				"ExecStartPre":            "+/bin/chgrp debian-tor /run/sealdrop",
				"ProcSubset":              "pid",
			},
			// Listen mode writes nothing but sockets: no state directory at all.
			absent: []string{"StateDirectory", "StateDirectoryMode"},
		},
		{
			mode: deploy.ModeManaged,
			exec: "/usr/local/bin/sealdrop serve --key-file /var/lib/sealdrop/onion.key --tor-data-dir /var/lib/sealdrop/tor --http-socket /run/sealdrop/http.sock --admin-socket /run/sealdrop/admin.sock --budget 268435456",
			special: map[string]string{
				"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
				"RuntimeDirectoryMode":    "0700",
				"StateDirectory":          "sealdrop",
				"StateDirectoryMode":      "0700",
			},
			absent: []string{"PrivateNetwork", "IPAddressDeny", "ExecStartPre", "ProcSubset"},
		},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			_, u := render(t, deploy.UnitOptions{Mode: tc.mode})
			s := u["Service"]
			require.NotNil(t, s)
			for k, v := range common {
				assert.Equal(t, []string{v}, s[k], k)
			}
			for k, v := range tc.special {
				assert.Equal(t, []string{v}, s[k], k)
			}
			for _, k := range tc.absent {
				assert.NotContains(t, s, k)
			}
			assert.Equal(t, []string{tc.exec}, s["ExecStart"])
			assert.Equal(t, []string{strconv.FormatInt(deploy.MemlockLimit(deploy.DefaultBudget), 10)}, s["LimitMEMLOCK"])
			// The allow-list keeps @memlock (in @system-service) and removes only these groups.
			assert.Equal(t, []string{"@system-service", "~@privileged @resources"}, s["SystemCallFilter"])
		})
	}
}

// @system-service must keep the calls memguard makes, and the groups the unit removes must not
// contain them, on the systemd installed here.
func TestSyscallFilterKeepsMemguardCalls(t *testing.T) {
	sa := systemdAnalyze(t)
	group := func(name string) map[string]bool {
		out, err := exec.Command(sa, "syscall-filter", name).CombinedOutput()
		require.NoError(t, err, "%s", out)
		set := map[string]bool{}
		for _, f := range strings.Fields(string(out)) {
			set[f] = true
		}
		return set
	}
	service, privileged, resources := group("@system-service"), group("@privileged"), group("@resources")
	require.True(t, service["@memlock"] || service["mlock"], "@system-service lacks @memlock")
	memlock := group("@memlock")
	defaults := group("@default")
	for _, call := range []string{"mlock", "munlock", "madvise", "mprotect", "mmap", "prlimit64"} {
		assert.True(t, service[call] || memlock[call] || defaults[call], "%s not allowed by @system-service", call)
		assert.False(t, privileged[call] || resources[call], "%s is removed with @privileged/@resources", call)
	}
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; the unit is checked where it is (apt-get install systemd)")
	}
	return sa
}

func writeUnit(t *testing.T, mode deploy.Mode) string {
	t.Helper()
	// systemd-analyze verify checks that ExecStart's binary exists: use one that does.
	text, _ := render(t, deploy.UnitOptions{Mode: mode, Binary: "/bin/true"})
	p := filepath.Join(t.TempDir(), "sealdrop.service")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestUnitVerifies(t *testing.T) {
	sa := systemdAnalyze(t)
	for _, mode := range []deploy.Mode{deploy.ModeListen, deploy.ModeManaged} {
		t.Run(string(mode), func(t *testing.T) {
			p := writeUnit(t, mode)
			out, err := exec.Command(sa, "verify", p).CombinedOutput()
			require.NoError(t, err, "%s", out)
			// verify exits 0 even for unknown keys; it only prints them. Any output is a finding.
			require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify complained")
		})
	}
}

// The verify check can fail: a misspelt directive is reported.
func TestVerifyCatchesUnknownDirective(t *testing.T) {
	sa := systemdAnalyze(t)
	p := writeUnit(t, deploy.ModeListen)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	bad := strings.Replace(string(b), "LockPersonality=yes", "LockPersonalty=yes", 1)
	require.NotEqual(t, string(b), bad)
	require.NoError(t, os.WriteFile(p, []byte(bad), 0o644))
	out, _ := exec.Command(sa, "verify", p).CombinedOutput()
	require.Contains(t, string(out), "LockPersonalty")
}

var exposureRE = regexp.MustCompile(`Overall exposure level for sealdrop\.service: ([0-9]+\.[0-9])`)

// Measured with systemd 252: listen 0.4 ("SAFE"), managed 1.2 ("OK"; tor needs the network).
// The thresholds leave a little room for other systemd versions weighing things differently.
func TestUnitExposure(t *testing.T) {
	sa := systemdAnalyze(t)
	for _, tc := range []struct {
		mode deploy.Mode
		max  float64
	}{
		{deploy.ModeListen, 1.0},
		{deploy.ModeManaged, 2.0},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			p := writeUnit(t, tc.mode)
			out, err := exec.Command(sa, "security", "--offline=yes", p).CombinedOutput()
			if err != nil && strings.Contains(string(out), "offline") && !exposureRE.Match(out) {
				t.Skipf("this systemd-analyze has no --offline security check: %s", out)
			}
			m := exposureRE.FindSubmatch(out)
			require.NotNil(t, m, "no exposure level in:\n%s", out)
			score, err := strconv.ParseFloat(string(m[1]), 64)
			require.NoError(t, err)
			t.Logf("systemd-analyze security exposure, %s mode: %.1f", tc.mode, score)
			assert.LessOrEqual(t, score, tc.max, "%s", out)
		})
	}
}

func TestUnitOptions(t *testing.T) {
	_, u := render(t, deploy.UnitOptions{
		Mode:           deploy.ModeManaged,
		Binary:         "/opt/sealdrop/bin/sealdrop",
		BudgetBytes:    64 << 20,
		User:           "drop",
		Group:          "dropgrp",
		StateDirectory: "/var/lib/drop",
		KeyFile:        "/var/lib/drop/keys/onion.key",
	})
	s := u["Service"]
	assert.Equal(t, []string{"drop"}, s["User"])
	assert.Equal(t, []string{"dropgrp"}, s["Group"])
	assert.Equal(t, []string{"drop"}, s["StateDirectory"])
	assert.Equal(t, []string{"/opt/sealdrop/bin/sealdrop serve --key-file /var/lib/drop/keys/onion.key --tor-data-dir /var/lib/drop/tor --http-socket /run/sealdrop/http.sock --admin-socket /run/sealdrop/admin.sock --budget 67108864"}, s["ExecStart"])
	assert.Equal(t, []string{strconv.FormatInt(deploy.MemlockLimit(64<<20), 10)}, s["LimitMEMLOCK"])

	_, u = render(t, deploy.UnitOptions{TorGroup: "toranon", User: "drop"})
	assert.Equal(t, []string{"drop"}, u["Service"]["Group"], "group defaults to the user")
	assert.Equal(t, []string{"+/bin/chgrp toranon /run/sealdrop"}, u["Service"]["ExecStartPre"])

	for _, tc := range []struct {
		name string
		o    deploy.UnitOptions
	}{
		{"unknown mode", deploy.UnitOptions{Mode: "attach"}},
		{"relative binary", deploy.UnitOptions{Binary: "sealdrop"}},
		{"binary with space", deploy.UnitOptions{Binary: "/usr/local/bin/seal drop"}},
		{"binary with specifier", deploy.UnitOptions{Binary: "/usr/local/bin/%n"}},
		{"binary with newline", deploy.UnitOptions{Binary: "/usr/bin/x\nExecStartPost=/bin/sh"}},
		{"unclean binary", deploy.UnitOptions{Binary: "/usr/local/../bin/sealdrop"}},
		{"tiny budget", deploy.UnitOptions{BudgetBytes: 4096}},
		{"negative budget", deploy.UnitOptions{BudgetBytes: -1}},
		{"absurd budget", deploy.UnitOptions{BudgetBytes: 1 << 62}},
		{"bad user", deploy.UnitOptions{User: "root;x"}},
		{"bad group", deploy.UnitOptions{Group: "Sealdrop"}},
		{"tor's group in listen mode", deploy.UnitOptions{Group: "debian-tor"}},
		{"state outside /var/lib", deploy.UnitOptions{StateDirectory: "/srv/sealdrop"}},
		{"state is /var/lib", deploy.UnitOptions{StateDirectory: "/var/lib/"}},
		{"key outside state", deploy.UnitOptions{Mode: deploy.ModeManaged, KeyFile: "/etc/sealdrop/onion.key"}},
		{"key is the state dir", deploy.UnitOptions{Mode: deploy.ModeManaged, KeyFile: "/var/lib/sealdrop"}},
		{"key in tor's data dir", deploy.UnitOptions{Mode: deploy.ModeManaged, KeyFile: "/var/lib/sealdrop/tor/k"}},
		{"key prefix trick", deploy.UnitOptions{Mode: deploy.ModeManaged, KeyFile: "/var/lib/sealdrop2/onion.key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deploy.Unit(tc.o)
			require.ErrorIs(t, err, deploy.ErrInvalid)
		})
	}
}

func TestMemlockLimit(t *testing.T) {
	const mib = 1 << 20
	prev := int64(0)
	for _, b := range []int64{1 * mib, 1*mib + 1, 64 * mib, 256 * mib, 4096 * mib, 1 << 40} {
		l := deploy.MemlockLimit(b)
		assert.Zero(t, l%mib, "whole MiB")
		// At least one page per 32 MiB arena plus the headroom, beyond the budget.
		assert.GreaterOrEqual(t, l-b, deploy.MemlockHeadroom+(b/(32*mib)+1)*int64(os.Getpagesize()), "budget %d", b)
		// And not wastefully more: under a MiB plus 0.1% above that.
		assert.Less(t, l-b, deploy.MemlockHeadroom+mib+b/1024, "budget %d", b)
		assert.GreaterOrEqual(t, l, prev)
		prev = l
	}
}
