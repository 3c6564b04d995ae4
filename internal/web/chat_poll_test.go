//go:build linux

package web_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Following the README's poll example used to lose a message: it sent "ack":0 first, which
// acknowledged (and wiped) record 0, the creator's hello, unread. "next":0 acknowledges
// nothing; "next":N acknowledges everything below N; ack and next together are refused.
func TestPollNextZeroDeliversTheFirstRecord(t *testing.T) {
	rc := newResidueChat(t)
	e := rc.e
	send := func(b []byte) {
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/chats/"+rc.id+"/send", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Sealdrop-Session", rc.creator)
		res, err := e.hc.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	poll := func(body map[string]any) *resp {
		body["session"] = rc.joiner
		return e.postJSON("/api/v1/chats/"+rc.id+"/poll", body)
	}
	send([]byte{1, 'h', 'e', 'l', 'l', 'o'})
	send([]byte{3, 'd', 'a', 't', 'a'})
	r := poll(map[string]any{"next": 0})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "0", r.header.Get("Sealdrop-Seq"))
	require.Equal(t, []byte{1, 'h', 'e', 'l', 'l', 'o'}, r.body, "the first record, not wiped unread")
	requireRecordAnswer(t, r)
	r = poll(map[string]any{"next": 0})
	require.Equal(t, "0", r.header.Get("Sealdrop-Seq"), "next 0 acknowledged nothing: record 0 again")
	r = poll(map[string]any{"next": 1})
	require.Equal(t, "1", r.header.Get("Sealdrop-Seq"))
	r = poll(map[string]any{"next": 2})
	require.Equal(t, http.StatusNoContent, r.status, "both acknowledged, nothing more")
	r = poll(map[string]any{"next": 2, "ack": 1})
	require.Equal(t, http.StatusBadRequest, r.status, "ack and next together")
}

// requireRecordAnswer checks that a poll answered a record (a chat's or a room's) as one: its
// bytes, as an attachment, in a sandbox, of its own length, never something to render.
func requireRecordAnswer(t *testing.T, r *resp) {
	t.Helper()
	require.Equal(t, "application/octet-stream", r.header.Get("Content-Type"))
	require.Equal(t, "attachment", r.header.Get("Content-Disposition"))
	require.Equal(t, "sandbox", r.header.Get("Content-Security-Policy"))
	require.Equal(t, strconv.Itoa(len(r.body)), r.header.Get("Content-Length"))
}
