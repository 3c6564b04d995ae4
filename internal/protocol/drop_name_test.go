package protocol

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type dropNameVectors struct {
	Fragment string `json:"fragment"`
	Valid    []struct {
		Name     string `json:"name"`
		Fragment string `json:"fragment"`
	} `json:"valid"`
	InvalidNames []struct {
		Name string `json:"name"`
		Why  string `json:"why"`
	} `json:"invalid_names"`
	InvalidFragments []struct {
		Input string `json:"input"`
		Why   string `json:"why"`
	} `json:"invalid_fragments"`
}

// TestDropNameVectors: a drop link may name who receives it after its keys; the browser
// module checks the same file (static/test/drop.test.js). A name cannot carry the characters
// that reorder or hide text, so a link cannot show one name and read as another.
func TestDropNameVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/drop-name-vectors.json")
	require.NoError(t, err)
	var v dropNameVectors
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Valid)
	require.NotEmpty(t, v.InvalidNames)
	require.NotEmpty(t, v.InvalidFragments)

	plain, err := ParseDropFragment(v.Fragment)
	require.NoError(t, err)
	assert.Empty(t, plain.Name, "a link without a name still parses, and names nobody")
	for _, c := range v.Valid {
		require.NoError(t, CheckDropName(c.Name), "%q", c.Name)
		d, err := ParseDropFragment("#" + c.Fragment)
		require.NoError(t, err, "%q", c.Name)
		assert.Equal(t, c.Name, d.Name)
		assert.Equal(t, plain.Route(), d.Route(), "the name is not part of the route")
		assert.Equal(t, c.Fragment, d.Fragment(), "the fragment writes back as it was read")
	}
	for _, c := range v.InvalidNames {
		assert.ErrorIs(t, CheckDropName(c.Name), ErrDrop, c.Why)
		named := *plain
		named.Name = c.Name
		if c.Name != "" { // an empty name writes no name at all
			_, err := ParseDropFragment(named.Fragment())
			assert.ErrorIs(t, err, ErrDrop, "a fragment carrying it: %s", c.Why)
		}
	}
	for _, c := range v.InvalidFragments {
		_, err := ParseDropFragment(c.Input)
		assert.ErrorIs(t, err, ErrDrop, c.Why)
	}
}
