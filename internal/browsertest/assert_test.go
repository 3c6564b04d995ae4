package browsertest

// The module's go.sum lacks the checksums of testify's own dependencies (go-spew, go-difflib,
// go.yaml.in/yaml/v3), so importing testify does not build, and go.mod/go.sum are not ours to
// edit. This shim offers the testify calls these tests use with the same shapes; once go.sum is
// fixed, delete it and import testify's assert and require.

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type checker struct{ fatal bool }

var (
	assert  = checker{}
	require = checker{fatal: true}
)

func (c checker) fail(t testing.TB, what string, msg []any) bool {
	t.Helper()
	if len(msg) > 0 {
		if f, ok := msg[0].(string); ok {
			what += ": " + fmt.Sprintf(f, msg[1:]...)
		} else {
			what += ": " + fmt.Sprint(msg...)
		}
	}
	if c.fatal {
		t.Fatal(what)
	}
	t.Error(what)
	return false
}

func (c checker) NoError(t testing.TB, err error, msg ...any) bool {
	t.Helper()
	if err != nil {
		return c.fail(t, fmt.Sprintf("unexpected error: %v", err), msg)
	}
	return true
}

func (c checker) Error(t testing.TB, err error, msg ...any) bool {
	t.Helper()
	if err == nil {
		return c.fail(t, "expected an error", msg)
	}
	return true
}

func (c checker) Equal(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	if wb, ok := want.([]byte); ok {
		if gb, ok := got.([]byte); ok && bytes.Equal(wb, gb) {
			return true
		}
	} else if reflect.DeepEqual(want, got) {
		return true
	}
	return c.fail(t, fmt.Sprintf("not equal:\nwant %.300v\ngot  %.300v", want, got), msg)
}

func (c checker) NotEqual(t testing.TB, a, b any, msg ...any) bool {
	t.Helper()
	if reflect.DeepEqual(a, b) {
		return c.fail(t, fmt.Sprintf("should differ: %.300v", a), msg)
	}
	return true
}

func (c checker) True(t testing.TB, v bool, msg ...any) bool {
	t.Helper()
	if !v {
		return c.fail(t, "should be true", msg)
	}
	return true
}

func (c checker) False(t testing.TB, v bool, msg ...any) bool {
	t.Helper()
	if v {
		return c.fail(t, "should be false", msg)
	}
	return true
}

func (c checker) Contains(t testing.TB, s, sub string, msg ...any) bool {
	t.Helper()
	if !strings.Contains(s, sub) {
		return c.fail(t, fmt.Sprintf("%.300q does not contain %q", s, sub), msg)
	}
	return true
}

func (c checker) NotContains(t testing.TB, s, sub string, msg ...any) bool {
	t.Helper()
	if strings.Contains(s, sub) {
		return c.fail(t, fmt.Sprintf("%.300q contains %q", s, sub), msg)
	}
	return true
}

func (c checker) Empty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	rv := reflect.ValueOf(v)
	if v != nil && rv.Len() != 0 {
		return c.fail(t, fmt.Sprintf("should be empty, has %d: %.500v", rv.Len(), v), msg)
	}
	return true
}

func (c checker) NotEmpty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if v == nil || reflect.ValueOf(v).Len() == 0 {
		return c.fail(t, "should not be empty", msg)
	}
	return true
}

func (c checker) Greater(t testing.TB, a, b int, msg ...any) bool {
	t.Helper()
	if a <= b {
		return c.fail(t, fmt.Sprintf("%d is not greater than %d", a, b), msg)
	}
	return true
}
