package nodetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sealdrop/sealdrop/internal/netns"
)

// minNode is the oldest Node the browser-module tests run on.
var minNode = [3]int{20, 12, 0}

// pinned is where `npm ci --prefix internal/nodetest` puts the Node that package-lock.json pins.
func pinned() string {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	return filepath.Join("node_modules", "node-linux-"+arch, "bin", "node")
}

// nodeVersion runs `node --version` and parses "v20.20.2".
func nodeVersion(node string) ([3]int, error) {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return [3]int{}, err
	}
	m := regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		return [3]int{}, fmt.Errorf("unexpected version %q", out)
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, nil
}

func atLeast(v, min [3]int) bool {
	for i := range v {
		if v[i] != min[i] {
			return v[i] > min[i]
		}
	}
	return true
}

// findNode returns the first recent enough node of $SEALDROP_NODE, PATH and the pinned one, or
// why there is none.
func findNode() (string, error) {
	var tried []string
	candidates := []string{os.Getenv("SEALDROP_NODE")}
	if p, err := exec.LookPath("node"); err == nil {
		candidates = append(candidates, p)
	} else {
		tried = append(tried, "no node on PATH")
	}
	candidates = append(candidates, pinned())
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err != nil {
			continue
		}
		v, err := nodeVersion(c)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		if atLeast(v, minNode) {
			return c, nil
		}
		tried = append(tried, fmt.Sprintf("%s is v%d.%d.%d", c, v[0], v[1], v[2]))
	}
	return "", fmt.Errorf("no Node %d.%d or newer (%s): install one, or fetch the pinned Node 20 from the npm registry with `npm ci --prefix internal/nodetest` (Debian 12: apt-get install npm first)",
		minNode[0], minNode[1], strings.Join(tried, "; "))
}

func TestVersionCompare(t *testing.T) {
	for _, tc := range []struct {
		v    [3]int
		want bool
	}{{[3]int{20, 12, 0}, true}, {[3]int{20, 20, 2}, true}, {[3]int{22, 0, 0}, true}, {[3]int{20, 11, 9}, false}, {[3]int{18, 20, 4}, false}} {
		if got := atLeast(tc.v, minNode); got != tc.want {
			t.Errorf("atLeast(%v) = %v", tc.v, got)
		}
	}
}

// TestBrowserModules runs node --test static/test/ and passes only if every module test passed;
// under SEALDROP_REQUIRE_OFFLINE_TESTS=1 a skipped module test (a missing tool) fails it too.
func TestBrowserModules(t *testing.T) {
	node, err := findNode()
	if err != nil {
		if netns.Strict() {
			t.Fatalf("%v (%s=1)", err, netns.EnvRequire)
		}
		t.Skipf("skipping the browser-module tests: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test", "--test-reporter=tap", "static/test/")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	counts := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^# (tests|pass|fail|skipped|skip|todo|cancelled) (\d+)$`).FindAllStringSubmatch(out.String(), -1) {
		counts[m[1]], _ = strconv.Atoi(m[2])
	}
	skipped := counts["skipped"] + counts["skip"]
	if err != nil || counts["tests"] == 0 || counts["fail"] > 0 || counts["cancelled"] > 0 {
		t.Fatalf("node --test static/test/ (%s): %v, %v\n%s", node, err, counts, out.String())
	}
	if skipped > 0 {
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "# SKIP") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		if netns.Strict() {
			t.Fatalf("%d browser-module tests skipped (%s=1):\n%s", skipped, netns.EnvRequire, strings.Join(lines, "\n"))
		}
		t.Logf("%d browser-module tests skipped:\n%s", skipped, strings.Join(lines, "\n"))
	}
	t.Logf("node --test static/test/ with %s: %d tests, %d passed, %d skipped", node, counts["tests"], counts["pass"], skipped)
}
