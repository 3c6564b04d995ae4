// Package servertest holds what the tests that run sealdrop as a process share: a build of the
// binary made once per test binary, a buffer its output can be written to while the test
// reads it, and the wait for its startup lines.
//
// It runs only inside tests and imports nothing of the project, so that any test package
// (onion's too) may use it.
package servertest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Buffer is a bytes.Buffer safe for a process's output goroutine and the test reading it.
// The buffer is a field, not embedded: an embedded bytes.Buffer would lend Buffer its
// ReadFrom, which io.Copy prefers to Write, and the copy would bypass the lock.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Package is the import path of the sealdrop command.
const Package = "github.com/sealdrop/sealdrop/cmd/sealdrop"

var (
	buildMu  sync.Mutex
	builds   = map[string]string{} // build tags -> binary
	buildDir string
)

// Build builds sealdrop with the given build tags ("" for the release build) once per test
// binary and returns the binary's path. RemoveBuilds removes what it built.
func Build(tags string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := builds[tags]; ok {
		return bin, nil
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "sealdrop-test-bin-")
		if err != nil {
			return "", err
		}
		buildDir = d
	}
	name := "sealdrop"
	if tags != "" {
		name += "-" + strings.ReplaceAll(tags, ",", "-")
	}
	bin := filepath.Join(buildDir, name)
	args := []string{"build", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	out, err := exec.Command(goTool(), append(args, Package)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	builds[tags] = bin
	return bin, nil
}

// goTool is the go command of the toolchain that built the test, when it is there.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// RemoveBuilds removes the binaries Build made; a TestMain calls it after m.Run.
func RemoveBuilds() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	buildDir, builds = "", map[string]string{}
}

// ErrExited is AwaitStartup's error when the process ended before its startup lines.
var ErrExited = errors.New("sealdrop exited before its startup lines")

// AwaitStartup waits until stdout holds sealdrop serve's two startup lines (the address, then
// the capacity) and returns the first, the address line as printed. It fails when exited is
// closed first (the process ended) or when timeout passes.
func AwaitStartup(stdout *Buffer, exited <-chan struct{}, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		out := stdout.String()
		if strings.Count(out, "\n") >= 2 {
			return strings.SplitN(out, "\n", 2)[0], nil
		}
		select {
		case <-exited:
			// The lines may have come just before the exit.
			if strings.Count(stdout.String(), "\n") >= 2 {
				continue
			}
			return "", ErrExited
		case <-deadline:
			return "", fmt.Errorf("no startup lines within %v", timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
