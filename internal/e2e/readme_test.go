package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/servertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// readmeBlock returns the lines of the first code block (```sh or ```text, per lang) after the
// README heading "## heading" and before the next heading.
func readmeBlock(t *testing.T, readme, heading, lang string) []string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "\n## "+heading+"\n")
	require.True(t, ok, "README has no heading %q", heading)
	if i := strings.Index(after, "\n## "); i >= 0 {
		after = after[:i]
	}
	_, block, ok := strings.Cut(after, "\n```"+lang+"\n")
	require.True(t, ok, "README section %q has no ```%s block", heading, lang)
	block, _, ok = strings.Cut(block, "\n```")
	require.True(t, ok)
	return strings.Split(block, "\n")
}

// repoRoot is the module root (this package is internal/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	return root
}

// readmeCommands are the README's install block, its one run command and its one test command.
func readmeCommands(t *testing.T, root string) (install []string, run, test string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	install = readmeBlock(t, string(b), "Install", "sh")
	runBlock := readmeBlock(t, string(b), "Run it", "sh")
	testBlock := readmeBlock(t, string(b), "Run the tests", "sh")
	require.Len(t, runBlock, 1, "one command runs the server")
	require.Len(t, testBlock, 1, "one command runs every test")
	require.True(t, strings.HasPrefix(install[0], "apt-get install "), "the install block starts with the apt-get line: %q", install[0])
	return install, runBlock[0], testBlock[0]
}

// The README's commands are where .ci/run and TestREADMERunCommand read them, and .ci/run runs
// the test command as written (it reads it from the README, so they cannot drift).
func TestREADMECommands(t *testing.T) {
	root := repoRoot(t)
	install, run, test := readmeCommands(t, root)
	assert.Regexp(t, `^apt-get install( [a-z0-9.+-]+)+$`, install[0])
	for _, pkg := range []string{"tor", "firefox-esr", "chromium", "nodejs"} {
		assert.Contains(t, strings.Fields(install[0]), pkg)
	}
	assert.Equal(t, "./sealdrop serve --key-file ./onion.key --tor-data-dir ./tor-data", run)
	assert.Regexp(t, `^go test -race( -[a-z]+ [^ ]+)* \./\.\.\.$`, test)
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	require.NoError(t, err)
	assert.Contains(t, string(ci), `readme_block "Run the tests"`, ".ci/run takes the test command from the README")
	assert.NotContains(t, string(ci), "../shared", ".ci/run needs nothing outside the repository")
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "shared/bin", "the README needs nothing outside the repository")
}

// TestREADMERunCommand (issue 14): the README's commands work as written on a fresh clone, for
// an ordinary user. The test clones this repository, builds with the README's build line, and
// runs the README's run command on a terminal, as a uid without capabilities, in this binary's
// loopback-only namespace; a `tor` first in PATH adds the private network's options with
// --defaults-torrc (the binary is the released build, with no test flags). It checks tor's
// progress line on the terminal and that it is gone when the address is printed, the output the
// README shows, the default socket in a 0700 directory in ./tor-data, that the onion answers
// through Tor, that `sealdrop version` names the clone's revision, and SIGTERM's exit 0.
func TestREADMERunCommand(t *testing.T) {
	n := tn.Get(t)
	root := repoRoot(t)
	install, runCmd, _ := readmeCommands(t, root)
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to clone the repository (apt-get install git)")
	}

	base, err := os.MkdirTemp("", "sdr") // short: the socket path must stay under 108 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	clone := filepath.Join(base, "clone")
	out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", root, clone).CombinedOutput()
	require.NoError(t, err, "git clone: %s", out)
	head, err := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
	require.NoError(t, err)

	// The README's build line, as written (no shell features), in the clone.
	var built bool
	for _, l := range install[1:] {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "go" || f[1] != "build" {
			continue
		}
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), f[1:]...)
		cmd.Dir = clone
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", l, out)
		built = true
	}
	require.True(t, built, "the README's install block has a go build line")

	// tor, first in PATH, is the real one with the private network's options as its defaults.
	bin := filepath.Join(base, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	geoip := filepath.Join(base, "geoip-empty")
	require.NoError(t, os.WriteFile(geoip, nil, 0o644))
	var lines []string
	for _, l := range n.TorrcLines() {
		if strings.HasPrefix(l, "GeoIP") { // the network's own file is in a directory the user cannot read
			l = strings.Fields(l)[0] + " " + geoip
		}
		lines = append(lines, l)
	}
	defaults := filepath.Join(base, "testnet-defaults-torrc")
	require.NoError(t, os.WriteFile(defaults, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "tor"), []byte(fmt.Sprintf("#!/bin/sh\n# the private test network's tor\nexec %s \"$@\" --defaults-torrc %s\n", n.TorPath(), defaults)), 0o755))

	// An ordinary user: the caller if it is not root (then it holds no capability: see
	// internal/netns), else a fresh uid that owns the clone.
	home := filepath.Join(base, "home")
	require.NoError(t, os.Mkdir(home, 0o700))
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		uid := uint32(61000 + os.Getpid()%1000)
		require.NoError(t, filepath.Walk(base, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, int(uid), int(uid))
		}))
		cred = &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}
	}
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+home)

	// sealdrop version, in the clone: the clone's revision, unmodified, and tor's version.
	ver := exec.Command("./sealdrop", "version")
	ver.Dir, ver.Env = clone, env
	ver.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	vout, err := ver.CombinedOutput()
	require.NoError(t, err, "%s", vout)
	assert.Contains(t, string(vout), "revision "+strings.TrimSpace(string(head))+" ")
	assert.Contains(t, string(vout), "\nmodified no\n")
	assert.Regexp(t, `\ntor \d+\.\d+\.\d+\.\d+ \(`+regexp.QuoteMeta(filepath.Join(bin, "tor"))+`\)\n$`, string(vout))
	t.Logf("sealdrop version:\n%s", vout)

	// The run command, as written, on a terminal.
	ptm, pts := openPTY(t)
	cmd := exec.Command("/bin/sh", "-c", runCmd)
	cmd.Dir, cmd.Env = clone, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: cred, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	pts.Close()
	screen := &servertest.Buffer{}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(screen, ptm); close(copied) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		ptm.Close()
	})
	deadline := time.After(4 * time.Minute)
	for !strings.Contains(screen.String(), "capacity ") || !strings.HasSuffix(screen.String(), "\n") {
		select {
		case err := <-done:
			t.Fatalf("%s exited: %v\n%q", runCmd, err, screen.String())
		case <-deadline:
			t.Fatalf("no address within 4 minutes:\n%q", screen.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	raw := screen.String()
	t.Logf("terminal bytes: %q", raw)

	// Progress was shown on one line, and erased just before the address.
	assert.Contains(t, raw, "\r\x1b[Ktor: connecting to the Tor network, ", "progress on the terminal")
	assert.Regexp(t, `\r\x1b\[Khttp://`, raw, "the progress line is erased, and the address starts at its place")
	visible := render(raw)
	t.Logf("what the terminal shows:\n%s", strings.Join(visible, "\n"))
	require.Len(t, visible, 2, "two lines remain: %q", visible)
	addrLine := regexp.MustCompile(`^http://[a-z2-7]{56}\.onion/$`)
	capLine := regexp.MustCompile(`^capacity \d+ bytes \([0-9.]+ [KMG]?i?B\)$`)
	assert.Regexp(t, addrLine, visible[0])
	assert.Regexp(t, capLine, visible[1])
	// The README shows the same two lines (an earlier run's address and capacity).
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	shown := readmeBlock(t, string(b), "Run it", "text")
	require.Len(t, shown, 2, "the README shows the run command's output")
	assert.Regexp(t, addrLine, shown[0])
	assert.Regexp(t, capLine, shown[1])

	// The process is the ordinary user's and holds no capability.
	pid := sealdropPid(t, cmd.Process.Pid)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	uid, capEff := procStatus(string(status))
	assert.NotEqual(t, "0", uid, "runs as an ordinary user")
	assert.Equal(t, "0000000000000000", capEff, "no capabilities")

	// The socket is sealdrop's own, in a 0700 directory in ./tor-data.
	sock := filepath.Join(clone, "tor-data", "sealdrop", "http.sock")
	fi, err := os.Lstat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	di, err := os.Stat(filepath.Dir(sock))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())
	ki, err := os.Stat(filepath.Join(clone, "onion.key"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), ki.Mode().Perm())

	// It answers through the onion: the front page and the API.
	ct := newClientTor(t, n)
	onionBase := strings.TrimSuffix(visible[0], "/")
	waitReachable(t, ct, onionBase)
	hc, _ := torClient(t, ct)
	res, err := hc.Get(onionBase + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(page), "sealdrop")

	// SIGTERM wipes and exits 0, printing nothing more.
	before := screen.String()
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	select {
	case err := <-done:
		assert.NoError(t, err, "exit status after SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	ptm.Close()
	<-copied
	assert.Equal(t, before, screen.String(), "nothing printed after the startup lines")
	_, err = os.Lstat(sock)
	assert.True(t, os.IsNotExist(err), "socket removed at exit")
}

// sealdropPid is the sealdrop process the shell started for the run command: the shell itself
// if it exec'd the command, else its child.
func sealdropPid(t *testing.T, shell int) int {
	t.Helper()
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", shell)); strings.TrimSpace(string(comm)) == "sealdrop" {
		return shell
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", shell))
	for _, tk := range tasks {
		b, _ := os.ReadFile(tk)
		for _, c := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(c)
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "sealdrop" {
				return pid
			}
		}
	}
	t.Fatalf("no sealdrop process under the shell %d", shell)
	return 0
}

// openPTY returns a new pseudo-terminal's master and slave, 100 columns wide.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	num, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(num), 10), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100}))
	return m, s
}

// render is what a terminal shows after raw: lines end at \n, a \r returns to the line's start,
// ESC[K erases from the cursor to the end of the line (all that serve's output uses).
func render(raw string) []string {
	var lines []string
	var cur []rune
	col := 0
	for _, l := range strings.SplitAfter(raw, "\n") {
		cur, col = cur[:0], 0
		rs := []rune(strings.TrimSuffix(l, "\n"))
		for i := 0; i < len(rs); i++ {
			switch {
			case rs[i] == '\r':
				col = 0
			case rs[i] == 0x1b && i+2 < len(rs) && rs[i+1] == '[' && rs[i+2] == 'K':
				cur = cur[:col]
				i += 2
			default:
				if col < len(cur) {
					cur[col] = rs[i]
				} else {
					cur = append(cur, rs[i])
				}
				col++
			}
		}
		if strings.HasSuffix(l, "\n") || len(cur) > 0 {
			lines = append(lines, string(cur))
		}
	}
	return lines
}

func TestRender(t *testing.T) {
	assert.Equal(t, []string{"http://x.onion/", "capacity 1"},
		render("\r\x1b[Ktor: 5% a\r\x1b[Ktor: 10% b\r\x1b[Khttp://x.onion/\r\ncapacity 1\r\n"))
	assert.Equal(t, []string{"tor: 10% bX"}, render("tor: 10% b\rtor: 10% bX"), "no erase: the old text stays")
}

// procStatus reads the real uid and the effective capabilities from /proc/PID/status.
func procStatus(status string) (uid, capEff string) {
	sc := bufio.NewScanner(bytes.NewReader([]byte(status)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "Uid:" {
			uid = f[1]
		}
		if len(f) >= 2 && f[0] == "CapEff:" {
			capEff = f[1]
		}
	}
	return uid, capEff
}
