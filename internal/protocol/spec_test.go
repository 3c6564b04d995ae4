package protocol

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// spec is SECURITY.md.
func spec(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../SECURITY.md")
	require.NoError(t, err)
	return string(b)
}

// TestSpecDigitTableIsTheVectors (issue 18 item 10): the PIN digit table written in the spec
// is the vectors' pin.digit_zeros, code point for code point and in order.
func TestSpecDigitTableIsTheVectors(t *testing.T) {
	s := spec(t)
	i := strings.Index(s, "The digit table (normative")
	require.Positive(t, i)
	block := s[i:]
	start := strings.Index(block, "```")
	end := strings.Index(block[start+3:], "```")
	require.True(t, start > 0 && end > 0)
	var got []int
	for _, f := range strings.Fields(block[start+3 : start+3+end]) {
		var c int
		_, err := fmt.Sscanf(f, "U+%X", &c)
		require.NoError(t, err, f)
		got = append(got, c)
	}
	b, err := os.ReadFile(vectorsPath)
	require.NoError(t, err)
	var v struct {
		PIN struct {
			Zeros []int `json:"digit_zeros"`
		} `json:"pin"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	require.Len(t, v.PIN.Zeros, 68)
	require.Equal(t, v.PIN.Zeros, got)
}

// TestSpecTamperParts (issue 18 item 12): every part of a tamper vector is what the spec says:
// a slice with env, from and to, or a literal without env whose from and to are 0 and whose
// hex is absent only when empty.
func TestSpecTamperParts(t *testing.T) {
	b, err := os.ReadFile(vectorsPath)
	require.NoError(t, err)
	var v struct {
		Tamper []struct {
			Name  string           `json:"name"`
			Parts []map[string]any `json:"parts"`
		} `json:"tamper"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	empty := false
	for _, tv := range v.Tamper {
		for _, p := range tv.Parts {
			if _, ok := p["env"]; ok {
				require.Contains(t, p, "from", tv.Name)
				require.Contains(t, p, "to", tv.Name)
				require.NotContains(t, p, "hex", tv.Name)
				continue
			}
			require.EqualValues(t, 0, p["from"], tv.Name)
			require.EqualValues(t, 0, p["to"], tv.Name)
			if h, ok := p["hex"]; ok {
				require.NotEmpty(t, h, tv.Name)
			} else {
				empty = true
				require.Equal(t, "empty", tv.Name)
			}
		}
	}
	require.True(t, empty, "the empty literal")
	require.Contains(t, spec(t), "`hex` is\n  absent for an empty literal")
}

// TestSpecChatErrorClasses (issue 18 item 12): the spec defines exactly the chat error classes
// the implementation reports, and every class the chat vectors expect is one of them.
func TestSpecChatErrorClasses(t *testing.T) {
	s := spec(t)
	i := strings.Index(s, "**Error classes.**")
	require.Positive(t, i)
	end := strings.Index(s[i:], "\n\nA hello is checked")
	require.Positive(t, end)
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^- (`[a-z]+`(?:, `[a-z]+`)*):").FindAllStringSubmatch(s[i:i+end], -1) {
		for _, c := range strings.Split(m[1], ", ") {
			defined[strings.Trim(c, "`")] = true
		}
	}
	var names []string
	for c := range defined {
		names = append(names, c)
	}
	sort.Strings(names)
	require.Equal(t, []string{"auth", "epoch", "format", "handshake", "order", "reflect", "replay"}, names)
	for _, err := range []error{ErrChatReplay, ErrChatOrder, ErrChatReflect, ErrChatEpoch, ErrChatHandshake, ErrAuth, ErrFormat} {
		require.True(t, defined[chatErrClass(err)], "%v", err)
	}
	b, err := os.ReadFile(chatVectorsPath)
	require.NoError(t, err)
	var cv chatVectors
	require.NoError(t, json.Unmarshal(b, &cv))
	for _, tv := range cv.Tamper {
		for _, r := range tv.Results {
			require.True(t, r == "ok" || defined[r], "%s: %s", tv.Name, r)
		}
	}
	for _, f := range cv.Failures {
		require.True(t, defined[f.Error], "%s: %s", f.Name, f.Error)
	}
}

// TestSpecRoomErrorClasses: the room section lists exactly the classes the implementation
// reports, and every class the room vectors expect is one of them.
func TestSpecRoomErrorClasses(t *testing.T) {
	s := spec(t)
	i := strings.Index(s, "The error classes (Go `roomErrClass`")
	require.Positive(t, i)
	end := strings.Index(s[i:], "\n\n")
	require.Positive(t, end)
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(s[i:i+end], -1) {
		defined[m[1]] = true
	}
	delete(defined, "roomErrClass")
	var names []string
	for c := range defined {
		names = append(names, c)
	}
	sort.Strings(names)
	require.Equal(t, []string{"auth", "epoch", "format", "ghost", "handshake", "order", "reflect", "replay", "view", "wait"}, names)
	for _, err := range []error{ErrRoomReflect, ErrRoomEpoch, ErrRoomGhost, ErrRoomReplay, ErrRoomOrder, ErrRoomView, ErrRoomHandshake, ErrRoomWait, ErrAuth, ErrFormat} {
		require.True(t, defined[roomErrClass(err)], "%v", err)
	}
	b, err := os.ReadFile(roomVectorsPath)
	require.NoError(t, err)
	var rv roomVectors
	require.NoError(t, json.Unmarshal(b, &rv))
	// Accepted records: "ok", "ignored", "gap n", "missing n", "renamed" (roomOutcome).
	accepted := map[string]bool{"ok": true, "ignored": true, "gap": true, "missing": true, "renamed": true}
	for _, tv := range rv.Tamper {
		for _, r := range tv.Results {
			w, _, _ := strings.Cut(r, " ")
			require.True(t, accepted[w] || defined[r], "%s: %s", tv.Name, r)
		}
	}
	for _, sv := range rv.Seats {
		for _, l := range sv.Lists {
			require.True(t, l.Result == "ok" || defined[l.Result], "%s: %s", sv.Name, l.Result)
		}
	}
}
