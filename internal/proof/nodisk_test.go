//go:build linux

package proof

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// traced are the calls that create, change or write files, and open them.
const traced = "open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat," +
	"write,pwrite64,writev,pwritev,pwritev2,truncate,ftruncate,link,linkat,symlink,symlinkat,fallocate"

var (
	reCall      = regexp.MustCompile(`^(\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)(?: resumed>|\()(.*)$`)
	reOpenWrite = regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND`)
	reWriteFD   = regexp.MustCompile(`^(\d+)<([^>]*)>`)
	reFirstPath = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	// a quoted path argument, or the path strace -y shows for an fd argument
	reAnyPath = regexp.MustCompile(`"(/(?:[^"\\]|\\.)*)"|\d+<(/[^>]*)>`)
)

// allowedOpen reports whether an open's path (the first quoted one) is allowed; /dev/null may
// always be opened for writing.
func allowedOpen(args string, allowed func(string) bool) bool {
	p, ok := firstPath(args)
	return ok && (p == "/dev/null" || allowed(p))
}

// reAtPath is an *at call's directory fd, as strace -y shows it, and the quoted path after it.
var reAtPath = regexp.MustCompile(`^(?:AT_FDCWD|\d+)<(/[^>]*)>, "((?:[^"\\]|\\.)*)"`)

// firstPath is the path a call's first quoted argument names: a relative one is resolved
// against the directory fd before it (os.RemoveAll, for one, unlinks by name in a directory).
func firstPath(args string) (string, bool) {
	if m := reAtPath.FindStringSubmatch(args); m != nil {
		if strings.HasPrefix(m[2], "/") {
			return m[2], true
		}
		return filepath.Join(m[1], m[2]), true
	}
	p := reFirstPath.FindStringSubmatch(args)
	if p == nil {
		return "", false
	}
	return p[1], true
}

// fullFlow runs everything a server meets: notes with a file, opens, wrong PINs, a destruct
// PIN, a revoke, malformed and oversized requests, a handler panic and a background panic.
func fullFlow(t *testing.T, s *server) {
	t.Helper()
	for i := range 3 {
		n := newCanaryNote(150000+i*1000, i == 1)
		s.upload(n.note, piece)
		if i == 1 {
			for range 2 {
				w := rand32()
				require.Equal(t, http.StatusForbidden, s.openNote(n.note, &w).status)
			}
			require.Equal(t, http.StatusForbidden, s.openNote(n.note, &n.destruct).status)
			continue
		}
		a := s.openNote(n.note, nil)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, http.StatusNoContent, s.confirm(n.note).status)
	}
	r := newNote(5000, false)
	s.upload(r, piece)
	require.Equal(t, http.StatusNoContent, s.revoke(r).status)
	for name, req := range leakCorpus() {
		if strings.HasPrefix(name, "huge") || name == "many headers" {
			continue // covered by the leak test; slow under strace
		}
		_ = s.raw([]byte(req))
	}
	big := newNote(64, false)
	require.Equal(t, http.StatusCreated, s.create(big).status)
	a, err := s.appendData(big, 0, make([]byte, 2<<20))
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	require.Equal(t, http.StatusInternalServerError, s.postJSON("/__test/panic", map[string]any{}).status)
	require.Equal(t, http.StatusNoContent, s.postJSON("/__test/gopanic", map[string]any{}).status)
}

// TestNoLogsNoDisk (T6): under strace -f, a full flow in --listen mode opens no file for
// writing, creates, renames, links or truncates nothing, removes only its own unix socket,
// writes to no file, and writes nothing to stdout or stderr after the startup lines; SIGTERM
// still exits 0.
func TestNoLogsNoDisk(t *testing.T) {
	slow(t)
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is required for this proof (apt-get install strace)")
	}
	trace := filepath.Join(t.TempDir(), "trace")
	s := start(t, startOpts{args: []string{"--budget", "4M"},
		wrap: []string{"strace", "-f", "-qq", "-y", "-s", "64", "-e", "signal=none", "-e", "trace=" + traced, "-o", trace}})
	pid := s.pid()
	fullFlow(t, s)
	s.hc.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	assert.Equal(t, 0, s.wait(), "exit code (strace passes on the server's)")

	f, err := os.Open(trace)
	require.NoError(t, err)
	defer f.Close()
	problems, startup, calls, err := checkTrace(f, s.sock)
	require.NoError(t, err)
	require.Greater(t, calls, 100, "control: the trace recorded the flow's calls")
	assert.Equal(t, 2, startup, "the two startup lines were seen in the trace")
	assert.Empty(t, problems, "file system or output activity")
	t.Logf("%d traced calls checked", calls)
}

// checkTrace reads strace -f -y output and lists every call that touches the file system or
// prints, except removing the socket sock and the two startup lines on stdout.
func checkTrace(r io.Reader, sock string) (problems []string, startup, calls int, err error) {
	return checkTraceAllow(r, func(p string) bool { return p == sock }, true)
}

// checkTraceAllow is checkTrace where allowed says which paths may be created, written,
// renamed or removed, and stdio says whether writes to fds 1 and 2 are checked (managed mode
// checks the captured output instead: tor's own fds 1 and 2 are /dev/null).
func checkTraceAllow(r io.Reader, allowed func(path string) bool, stdio bool) (problems []string, startup, calls int, err error) {
	paths := func(args string) []string {
		var out []string
		for _, m := range reAnyPath.FindAllStringSubmatch(args, -1) {
			if m[1] != "" {
				out = append(out, m[1])
			} else {
				out = append(out, m[2])
			}
		}
		return out
	}
	allAllowed := func(args string) bool {
		ps := paths(args)
		for _, p := range ps {
			if !allowed(p) {
				return false
			}
		}
		return len(ps) > 0
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := reCall.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		calls++
		call, args := m[2], m[3]
		if strings.Contains(line, "resumed>") {
			continue // the arguments were on the "unfinished" line
		}
		switch call {
		case "open", "openat", "openat2", "creat":
			if (call == "creat" || reOpenWrite.MatchString(args)) && !allowedOpen(args, allowed) {
				problems = append(problems, "opened for writing: "+line)
			}
		case "unlink", "unlinkat":
			if p, ok := firstPath(args); !ok || !allowed(p) {
				problems = append(problems, "removed: "+line)
			}
		case "execve", "execveat":
		case "write", "pwrite64", "writev", "pwritev", "pwritev2":
			fd := reWriteFD.FindStringSubmatch(args)
			switch {
			case fd == nil:
				problems = append(problems, "write to an unnamed fd: "+line)
			case (fd[1] == "1" || fd[1] == "2") && !stdio:
			case fd[1] == "1" || fd[1] == "2":
				if fd[1] == "1" && startup < 2 && (strings.Contains(args, `"listening on `) || strings.Contains(args, `"capacity `)) {
					startup++
					continue
				}
				problems = append(problems, "printed: "+line)
			case strings.HasPrefix(fd[2], "socket:") || strings.HasPrefix(fd[2], "UNIX") || strings.HasPrefix(fd[2], "TCP") ||
				strings.HasPrefix(fd[2], "anon_inode:") || strings.HasPrefix(fd[2], "pipe:") || allowed(fd[2]):
			default:
				problems = append(problems, "write to a file: "+line)
			}
		default: // mkdir, rename, link, symlink, truncate, fallocate: only on allowed paths
			if !allAllowed(args) {
				problems = append(problems, call+": "+line)
			}
		}
	}
	return problems, startup, calls, sc.Err()
}

// The trace checker catches each kind of file system or output activity.
func TestCheckTraceCatches(t *testing.T) {
	ok := `100 write(1<pipe:[5]>, "listening on unix:/s"..., 20) = 20
100 write(1<pipe:[5]>, "capacity 1 bytes (1 B)\n", 23) = 23
101 openat(AT_FDCWD</>, "/proc/self/status", O_RDONLY|O_CLOEXEC) = 3</proc/9/status>
102 write(7<socket:[99]>, "HTTP/1.1 200 OK\r\n"..., 300) = 300
102 write(4<anon_inode:[eventfd]>, "\1\0\0\0\0\0\0\0", 8) = 8
103 unlinkat(AT_FDCWD</>, "/s", 0) = 0
103 unlinkat(5</>, "s", 0) = 0
104 openat(AT_FDCWD</>, "/etc/x", O_RDONLY <unfinished ...>
104 <... openat resumed>) = 3</etc/x>
`
	problems, startup, calls, err := checkTrace(strings.NewReader(ok), "/s")
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, 2, startup)
	assert.Equal(t, 9, calls)
	for _, bad := range []string{
		`100 openat(AT_FDCWD</>, "/tmp/log", O_WRONLY|O_CREAT|O_APPEND, 0644) = 3</tmp/log>`,
		`100 openat(AT_FDCWD</>, "/tmp/x", O_RDWR) = 3</tmp/x>`,
		`100 creat("/tmp/x", 0600) = 3</tmp/x>`,
		`100 write(3</tmp/log>, "x", 1) = 1`,
		`100 pwrite64(3</var/lib/x>, "x", 1, 0) = 1`,
		`100 write(2<pipe:[6]>, "panic: boom\n", 12) = 12`,
		`100 write(1<pipe:[5]>, "opened note abc\n", 16) = 16`,
		`100 unlinkat(AT_FDCWD</>, "/etc/passwd", 0) = 0`,
		`100 unlinkat(5</etc>, "passwd", 0) = 0`,
		`100 unlinkat(5</s>, "../etc/passwd", 0) = 0`,
		`100 mkdirat(AT_FDCWD</>, "/tmp/d", 0700) = 0`,
		`100 renameat2(AT_FDCWD</>, "/a", AT_FDCWD</>, "/b", 0) = 0`,
		`100 ftruncate(3</tmp/x>, 0) = 0`,
	} {
		problems, _, _, err := checkTrace(strings.NewReader(bad+"\n"), "/s")
		require.NoError(t, err)
		assert.Len(t, problems, 1, bad)
	}
}
