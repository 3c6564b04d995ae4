package protocol

// The module's go.sum lacks the checksums of testify's own dependencies (go-spew,
// go-difflib, go.yaml.in/yaml/v3), so importing testify does not build and go.mod/go.sum are
// not ours to edit. This shim offers the few testify calls these tests use with the same
// shapes; once go.sum is fixed, delete this file and import testify's assert and require.

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
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
	} else {
		t.Error(what)
	}
	return false
}

func equalObjects(a, b any) bool {
	ab, ok1 := a.([]byte)
	bb, ok2 := b.([]byte)
	if ok1 && ok2 {
		return bytes.Equal(ab, bb)
	}
	return reflect.DeepEqual(a, b)
}

func asInt(v any) (int64, bool) {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int64(r.Uint()), true
	}
	return 0, false
}

func short(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (c checker) Equal(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	if !equalObjects(want, got) {
		return c.fail(t, fmt.Sprintf("not equal:\nwant %s\n got %s", short(want), short(got)), msg)
	}
	return true
}

func (c checker) EqualValues(t testing.TB, want, got any, msg ...any) bool {
	t.Helper()
	a, ok1 := asInt(want)
	b, ok2 := asInt(got)
	if ok1 && ok2 {
		if a != b {
			return c.fail(t, fmt.Sprintf("not equal: want %d got %d", a, b), msg)
		}
		return true
	}
	return c.Equal(t, want, got, msg...)
}

func (c checker) NoError(t testing.TB, err error, msg ...any) bool {
	t.Helper()
	if err != nil {
		return c.fail(t, "unexpected error: "+err.Error(), msg)
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

func (c checker) ErrorIs(t testing.TB, err, target error, msg ...any) bool {
	t.Helper()
	if !errors.Is(err, target) {
		return c.fail(t, fmt.Sprintf("error %v is not %v", err, target), msg)
	}
	return true
}

func (c checker) True(t testing.TB, v bool, msg ...any) bool {
	t.Helper()
	if !v {
		return c.fail(t, "expected true", msg)
	}
	return true
}

func (c checker) False(t testing.TB, v bool, msg ...any) bool {
	t.Helper()
	if v {
		return c.fail(t, "expected false", msg)
	}
	return true
}

func (c checker) Len(t testing.TB, v any, n int, msg ...any) bool {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		return c.fail(t, fmt.Sprintf("length %d, want %d", l, n), msg)
	}
	return true
}

func (c checker) NotEmpty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if reflect.ValueOf(v).Len() == 0 {
		return c.fail(t, "expected not empty", msg)
	}
	return true
}

func (c checker) Empty(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if reflect.ValueOf(v).Len() != 0 {
		return c.fail(t, fmt.Sprintf("expected empty, got %s", short(v)), msg)
	}
	return true
}

func (c checker) Zero(t testing.TB, v any, msg ...any) bool {
	t.Helper()
	if !reflect.ValueOf(v).IsZero() {
		return c.fail(t, fmt.Sprintf("expected zero, got %v", v), msg)
	}
	return true
}

func (c checker) Less(t testing.TB, a, b int, msg ...any) bool {
	t.Helper()
	if a >= b {
		return c.fail(t, fmt.Sprintf("%d is not less than %d", a, b), msg)
	}
	return true
}
