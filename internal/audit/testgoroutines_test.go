package audit_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/audit"
)

// TestNoFailNowOffTestGoroutine: no test calls require.*, t.Fatal, t.FailNow or t.Skip (nor a
// helper that does) on a goroutine it started or in an HTTP handler. FailNow ends only the
// goroutine that calls it: off the test's goroutine the failure is reported late or lost, the
// test goes on with what that goroutine did not do, and a test that has already ended panics.
// Such a goroutine sends its error back, or uses assert and t.Error.
func TestNoFailNowOffTestGoroutine(t *testing.T) {
	_, root := load(t)
	s, err := audit.LoadTests(root)
	require.NoError(t, err)
	require.Greater(t, len(s.Files), 100, "the module's test files were found")
	var bad []string
	for _, f := range s.FailNowOffTestGoroutine(module) {
		rel, _ := filepath.Rel(root, f.Pos.Filename)
		bad = append(bad, rel+":"+strconv.Itoa(f.Pos.Line)+" ("+f.Func+"): "+f.What)
	}
	assert.Empty(t, bad)
}

// The checker catches each planted call in testdata/failnow (the lines marked "caught"):
// direct calls in go statements, WaitGroup.Go, AfterFunc and HTTP handlers, and calls of
// helpers, closures and methods that fail; and none of the fine ones (assert and t.Error,
// errors sent back, subtests, synctest bubbles, a method of another type of the same name).
func TestCheckerFailNowOffTestGoroutine(t *testing.T) {
	root, err := filepath.Abs("testdata/failnow")
	require.NoError(t, err)
	s, err := audit.LoadTests(root)
	require.NoError(t, err)
	require.Len(t, s.Files, 2, "the planted test file and its helper package")
	var want []string
	for _, name := range []string{"planted_test.go", "helper/helper.go"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "// caught") {
				want = append(want, filepath.Join(root, name)+":"+strconv.Itoa(i+1))
			}
		}
	}
	require.Len(t, want, 12, "the planted calls")
	var got []string
	for _, f := range s.FailNowOffTestGoroutine("example.com/m") {
		got = append(got, f.Pos.Filename+":"+strconv.Itoa(f.Pos.Line))
		t.Log(f)
	}
	assert.ElementsMatch(t, want, got)
}
