package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/api"
)

// TestGoneBodyIsBare: the gone answer carries nothing but its code, so every absent state
// reads alike.
func TestGoneBodyIsBare(t *testing.T) {
	require.Equal(t, `{"error":"gone"}`, string(api.Gone.Body("")))
	require.Equal(t, `{"error":"full","message":"no room"}`, string(api.Full.Body("no room")))
}

// TestRefusalsAreDistinct: no two refusals share a status and a code, so a client can tell
// each apart; only "busy" has more than one status, and every refusal is an error status.
func TestRefusalsAreDistinct(t *testing.T) {
	seen := map[api.Refusal]bool{}
	statuses := map[string]map[int]bool{}
	for _, r := range api.Refusals {
		require.False(t, seen[r], "%v listed twice", r)
		seen[r] = true
		require.GreaterOrEqual(t, r.Status, 400, "%v", r)
		require.NotEmpty(t, http.StatusText(r.Status), "%v", r)
		if statuses[r.Code] == nil {
			statuses[r.Code] = map[int]bool{}
		}
		statuses[r.Code][r.Status] = true
	}
	for code, s := range statuses {
		if code != api.CodeBusy {
			require.Len(t, s, 1, "code %q answers more than one status", code)
		}
	}
	require.Len(t, statuses[api.CodeBusy], 3)
}

// TestReadErrorReadsEveryAnswer: each kind of error answer the server writes is read back
// with its members, and recognised as its refusal only.
func TestReadErrorReadsEveryAnswer(t *testing.T) {
	marshal := func(v any) []byte { b, err := json.Marshal(v); require.NoError(t, err); return b }

	e := api.ReadError(403, marshal(api.WrongPINAnswer{Error: api.CodeWrongPIN, TriesLeft: 2}))
	require.True(t, e.Matches(api.WrongPIN))
	require.False(t, e.Matches(api.CrossOrigin))
	require.Equal(t, 2, *e.TriesLeft)

	e = api.ReadError(409, marshal(api.OffsetAnswer{Error: api.CodeOffset, Received: 77}))
	require.True(t, e.Matches(api.Offset))
	require.False(t, e.Matches(api.AppendBusy))
	require.Equal(t, int64(77), *e.Received)

	e = api.ReadError(402, marshal(api.PriceAnswer{Error: api.CodePrice, Message: "m", Bits: 9, Token: "tok", ExpiresIn: 5}))
	require.True(t, e.Matches(api.Unpaid))
	require.Equal(t, 9, *e.Bits)
	require.Equal(t, "tok", e.Token)

	e = api.ReadError(429, api.TooMany.Body("behind"))
	require.True(t, e.Matches(api.TooMany))
	require.False(t, e.Matches(api.Busy))
	require.Equal(t, "behind", e.Message)
	require.Nil(t, e.TriesLeft)

	e = api.ReadError(502, []byte("<html>a proxy's page</html>"))
	require.Equal(t, 502, e.Status)
	require.Empty(t, e.Code)
}

// TestResumeAlignment: a download resumes at 0, after the head, or on a sealed chunk's
// boundary, and nowhere else.
func TestResumeAlignment(t *testing.T) {
	for _, c := range []struct {
		off        int64
		note, drop bool
	}{
		{0, true, true},
		{25, true, false},
		{90, false, true},
		{25 + 65552, true, false},
		{90 + 2*65552, false, true},
		{1, false, false},
		{26, false, false},
		{90 + 65551, false, false},
	} {
		require.Equal(t, c.note, api.NoteAligned(c.off), "note %d", c.off)
		require.Equal(t, c.drop, api.SubmissionAligned(c.off), "drop %d", c.off)
	}
}

// TestPathsAreTheDocumentedOnes pins a few paths as SECURITY.md spells them.
func TestPathsAreTheDocumentedOnes(t *testing.T) {
	require.Equal(t, "/api/v1/notes/{id}/open", api.NotePath("{id}", api.NoteOpen))
	require.Equal(t, "/api/v1/chats/abc/ws", api.ChatPath("abc", api.ChatWS))
	require.Equal(t, "/api/v1/drops/r/challenge", api.DropPath("r", api.DropChallenge))
	require.Equal(t, "/api/v1/drops/r/submissions/i/confirm", api.SubmissionPath("r", "i", api.SubmissionAck))
}

// TestSpecErrorTableIsTheAPIs: the error table at the head of SECURITY.md ("For client
// authors") lists exactly the refusals of internal/api, code and status.
func TestSpecErrorTableIsTheAPIs(t *testing.T) {
	b, err := os.ReadFile("../../SECURITY.md")
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "| code | status | meaning")
	require.Positive(t, i)
	end := strings.Index(s[i:], "\n\n")
	require.Positive(t, end)
	got := map[api.Refusal]bool{}
	for _, m := range regexp.MustCompile("(?m)^  \\| `([a-z_0-9]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(s[i:i+end], -1) {
		st, _ := strconv.Atoi(m[2])
		r := api.Refusal{Status: st, Code: m[1]}
		require.False(t, got[r], "%v twice", r)
		got[r] = true
	}
	want := map[api.Refusal]bool{}
	for _, r := range api.Refusals {
		want[r] = true
	}
	require.Equal(t, want, got)
}
