package static_test

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/sealdrop/sealdrop/static"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the static hashes block of ../README.md")

const (
	begin = "<!-- static-hashes:begin -->\n"
	end   = "<!-- static-hashes:end -->\n"
)

// hashTable renders the README block listing the SHA-256 of every file the server sends
// under /static/, in the order fs.WalkDir gives (lexical).
func hashTable(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("| file | SHA-256 |\n|---|---|\n")
	n := 0
	err := fs.WalkDir(static.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(static.FS, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "| `/static/%s` | `%s` |\n", path, hex.EncodeToString(sum[:]))
		n++
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, n, "static.FS holds no file")
	return b.String()
}

// TestREADMEListsStaticHashes keeps the README's published hashes true: anyone can compare
// them with what a server sends (sha256sum of each fetched file).
func TestREADMEListsStaticHashes(t *testing.T) {
	want := hashTable(t)
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	readme := string(raw)
	i := strings.Index(readme, begin)
	j := strings.Index(readme, end)
	require.True(t, i >= 0 && j > i, "README.md has no %q ... %q block", strings.TrimSpace(begin), strings.TrimSpace(end))
	got := readme[i+len(begin) : j]
	if *update && got != want {
		readme = readme[:i+len(begin)] + want + readme[j:]
		require.NoError(t, os.WriteFile("../README.md", []byte(readme), 0o644))
		got = want
	}
	require.Equal(t, want, got, "README.md's static hashes are stale: run go test ./static -run TestREADMEListsStaticHashes -update")
}
