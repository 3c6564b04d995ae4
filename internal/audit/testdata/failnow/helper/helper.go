// Package helper is a test helper package of the planted module: it imports testing.
package helper

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// MustGet fails its caller's goroutine.
func MustGet(t testing.TB) string {
	t.Helper()
	require.True(t, true)
	return "x"
}

// Get fails nothing.
func Get() string { return "x" }
