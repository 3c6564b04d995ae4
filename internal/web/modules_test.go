package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func filesOf(src map[string]string) map[string]*staticFile {
	out := map[string]*staticFile{}
	for p, b := range src {
		out[p] = &staticFile{body: []byte(b)}
	}
	return out
}

// TestModuleGraphFindsEveryImport: the head pins what the entry imports, through every form of
// import a module may use, transitively, and nothing a comment or a string only mentions.
func TestModuleGraphFindsEveryImport(t *testing.T) {
	files := filesOf(map[string]string{
		"js/app.js": "// import { no } from './comment.js';\n/*\n * import x from './block.js';\n */\n" +
			"import { a,\n  b } from './a.js';\nimport * as C from \"./c.js\";\nimport './side.js';\n" +
			"import def from '../vendor/lib.js';\nexport { z } from './re.js';\n" +
			"export const s = 'from ./not-a-module.js';\nconst later = () => import('./lazy.js');\n",
		"js/a.js":         "import { d } from './deep/d.js';\nexport const a = 1, b = 2;\n",
		"js/deep/d.js":    "import { a } from '../a.js';\nexport const d = a;\n", // a cycle
		"js/c.js":         "export {};\n",
		"js/side.js":      "",
		"vendor/lib.js":   "export default 1;\n",
		"js/re.js":        "export const z = 1;\n",
		"js/lazy.js":      "export {};\n",
		"js/comment.js":   "",
		"js/block.js":     "",
		"js/unrelated.js": "",
	})
	got, err := moduleGraph(files, "js/app.js")
	require.NoError(t, err)
	assert.Equal(t, []string{"js/a.js", "js/c.js", "js/deep/d.js", "js/lazy.js", "js/re.js", "js/side.js", "vendor/lib.js"}, got)

	none, err := moduleGraph(files, "js/c.js")
	require.NoError(t, err)
	assert.Empty(t, none)
}

// TestModuleGraphRefusesWhatItCannotPin: an import of another origin, of a bare name or of a
// file that is not served fails the page's rendering rather than leaving a module unpinned.
func TestModuleGraphRefusesWhatItCannotPin(t *testing.T) {
	for name, src := range map[string]string{
		"other origin": "import x from 'https://cdn.example/x.js';\n",
		"bare name":    "import x from 'lib';\n",
		"absolute":     "import x from '/static/js/x.js';\n",
		"missing file": "import x from './missing.js';\n",
		"missing lazy": "const m = import('./missing.js');\n",
	} {
		_, err := moduleGraph(filesOf(map[string]string{"js/app.js": src}), "js/app.js")
		assert.Error(t, err, name)
	}
	_, err := moduleGraph(filesOf(nil), "js/none.js")
	assert.Error(t, err, "an entry that is not served")
}
