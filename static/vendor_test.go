package static_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/sealdrop/sealdrop/static"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vendored lists the code from elsewhere that the server sends, by its path under /static/,
// with the SHA-256 of the file as its publisher ships it. Beside each file are LICENSE and a
// README.md that says where it came from and how to check it against the publisher.
var vendored = []struct {
	path, sha256 string
}{
	// npm qrcode-generator 2.0.4, package/dist/qrcode.mjs (tarball integrity
	// sha512-mZSiP6RnbHl4xL2Ap5HfkjLnmxfKcPWpWe/c+5XxCuetEenqmNFf1FH/ftXPCtFG5/TDobjsjz6sSNL0Sr8Z9g==).
	{"vendor/qrcode-generator-2.0.4/qrcode.js", "ea91d7118a5395289170da848b7c6758b996163bfbccf312591ab65a4911b7c0"},
}

// TestVendoredFilesArePinned proves that each vendored file is served byte for byte as
// published (a local edit fails it), that its note states the same hash, and that its licence
// travels with it.
func TestVendoredFilesArePinned(t *testing.T) {
	for _, v := range vendored {
		b, err := fs.ReadFile(static.FS, v.path)
		require.NoError(t, err, "%s is not embedded", v.path)
		sum := sha256.Sum256(b)
		assert.Equal(t, v.sha256, hex.EncodeToString(sum[:]), "%s differs from the published file", v.path)

		dir := path.Dir(v.path)
		note, err := os.ReadFile(path.Join(dir, "README.md"))
		require.NoError(t, err, "%s needs a note of where it came from", v.path)
		assert.Contains(t, string(note), v.sha256, "%s/README.md must state the pinned SHA-256", dir)
		lic, err := os.ReadFile(path.Join(dir, "LICENSE"))
		require.NoError(t, err, "%s needs its licence file", v.path)
		assert.NotEmpty(t, strings.TrimSpace(string(lic)))
	}
}

// TestVendoredQRCodeGeneratorKeepsItsNotice: the served file carries its own MIT notice, so
// the licence travels with the bytes a browser receives.
func TestVendoredQRCodeGeneratorKeepsItsNotice(t *testing.T) {
	b, err := fs.ReadFile(static.FS, "vendor/qrcode-generator-2.0.4/qrcode.js")
	require.NoError(t, err)
	assert.Contains(t, string(b), "Copyright (c) 2009 Kazuhiko Arase")
	assert.Contains(t, string(b), "Licensed under the MIT license")
	lic, err := os.ReadFile("vendor/qrcode-generator-2.0.4/LICENSE")
	require.NoError(t, err)
	assert.Contains(t, string(lic), "Copyright (c) 2009 Kazuhiko Arase")
	assert.Contains(t, string(lic), "MIT license")
}
