package abuse_test

// Attacks found by a hostile review of issue 13, against the released binary over loopback,
// kept as regression tests. Bounded in count and time like the rest of the suite.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/sealdrop/sealdrop/internal/client"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/protocol"
)

// createdID is the id in a create's answer.
func createdID(a answer) (string, error) {
	var c struct{ ID string }
	if err := json.Unmarshal(a.body, &c); err != nil {
		return "", fmt.Errorf("a create's answer %q: %w", a.body, err)
	}
	return c.ID, nil
}

// Entries take whole blocks and the shares are charged whole blocks: 1-byte notes, charged a
// byte each, used to take every block, and the drops and chats the shares protect got nothing.
func TestTinyNotesStayInTheirShare(t *testing.T) {
	s := start(t, "--budget", "4M")
	var notes atomic.Int64
	var hashes atomic.Uint64
	var refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	// The smallest note the server takes (api.MinNote): still a whole block each.
	const tiny = 42
	// fill stores the smallest notes until the server refuses one; it returns what went wrong.
	fill := func() error {
		for refused.Load() == 0 && notes.Load() < 5000 {
			body, m := noteBody(tiny, 3600)
			a, spent, err := tryCreatePaid(s, "/api/v1/notes", body, protocol.PriceRequest{Kind: protocol.PriceNote, Manage: [32]byte(hash(m)), Length: tiny, TTL: time.Hour})
			hashes.Add(spent)
			if err != nil {
				return err
			}
			if a.status != http.StatusCreated {
				refused.Add(1)
				return nil
			}
			id, err := createdID(a)
			if err != nil {
				return err
			}
			if a, err := s.tryAppend("/api/v1/notes/"+id+"/data", m, 0, make([]byte, tiny)); err != nil {
				return err
			} else if a.status != http.StatusOK {
				refused.Add(1)
				return nil
			}
			a, err = s.tryPost("/api/v1/notes/"+id+"/commit", map[string]any{"manage": b64(m)})
			if err != nil {
				return err
			}
			if a.status != http.StatusOK {
				return fmt.Errorf("commit of a stored smallest note: %d %s, want 200", a.status, a.body)
			}
			notes.Add(1)
		}
		return nil
	}
	for range 4 {
		wg.Go(func() { errs <- fill() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	l := s.limits()
	t.Logf("%d smallest notes stored (the notes' share is 1536 blocks of 4096) for %d hashes; free now %d; levels %v",
		notes.Load(), hashes.Load(), l.Free, l.Price.Levels)
	assert.LessOrEqual(t, notes.Load(), int64(1536), "notes hold more blocks than their share")
	legit(t, s, map[string]int{"drop": 64, "chat": 64})
}

// A chat's creator could send 4 MiB of records (the per-chat quota) before anyone joined, held
// for a day, for the price of a slot: on a 16 MiB server two such chats took the whole chat
// share. Before anyone joins, a chat now holds 4 records and 8 KiB at most.
func TestUnjoinedChatsHoldLittle(t *testing.T) {
	s := start(t, "--budget", "16M")
	sent := 0
	for range 2 { // two chats: the chat share of a 16 MiB server is 4 MiB, one chat's quota 4 MiB
		id, creator := rawChatUnjoined(t, s)
		for _, size := range []int{96 << 10, 8 << 10, 1 << 10, 256} {
			for s.chatSend(id, creator, make([]byte, size)) == http.StatusOK {
				sent += size
			}
		}
	}
	l := s.limits()
	t.Logf("two chats hold %d KiB of records, free for a day; levels %v", sent>>10, l.Price.Levels)
	// A legitimate chat: created (paying what is asked), joined, and its first record sent.
	id2, creator2, _ := rawChat(t, s)
	st := s.chatSend(id2, creator2, make([]byte, 256))
	require.Equal(t, http.StatusOK, st, "a legitimate chat's first message is refused after two attacker chats sent %d KiB", sent>>10)
}

// rawChatUnjoined creates a chat (paying what is asked); it returns its id and the creator's
// session token.
func rawChatUnjoined(t *testing.T, s *server) (id, creator string) {
	t.Helper()
	m := rand32()
	body := map[string]any{"ttl": 604800, "gate_hash": b64(hash(rand32())), "destruct_hash": b64(hash(rand32())), "manage_hash": b64(hash(m))}
	a, _ := createPaid(t, s, "/api/v1/chats", body, protocol.PriceRequest{Kind: protocol.PriceChat, Manage: [32]byte(hash(m)), Length: 8 << 10, TTL: 7 * 24 * time.Hour})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	var c struct{ ID, Session string }
	require.NoError(t, json.Unmarshal(a.body, &c))
	return c.ID, c.Session
}

// rawChat creates (paying) and joins a chat; it returns the id and both session tokens.
func rawChat(t *testing.T, s *server) (id, creator, joiner string) {
	t.Helper()
	gate, m := rand32(), rand32()
	body := map[string]any{"ttl": 3600, "gate_hash": b64(hash(gate)), "destruct_hash": b64(hash(rand32())), "manage_hash": b64(hash(m))}
	a, _ := createPaid(t, s, "/api/v1/chats", body, protocol.PriceRequest{Kind: protocol.PriceChat, Manage: [32]byte(hash(m)), Length: 8 << 10, TTL: time.Hour})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	var c struct{ ID, Session string }
	require.NoError(t, json.Unmarshal(a.body, &c))
	j := s.post("/api/v1/chats/"+c.ID+"/join", map[string]any{"gate": b64(gate)})
	require.Equal(t, http.StatusOK, j.status, "%s", j.body)
	var js struct{ Session string }
	require.NoError(t, json.Unmarshal(j.body, &js))
	return c.ID, c.Session, js.Session
}

func (s *server) chatSend(id, session string, rec []byte) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/api/v1/chats/"+id+"/send", bytes.NewReader(rec))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Sealdrop-Session", session)
	res, err := s.hc.Do(req)
	require.NoError(s.t, err)
	res.Body.Close()
	return res.StatusCode
}

var _ = fmt.Sprint

// dropKeysOf is the inbox-auth key and route of a drop link (what anyone holding it can send).
func dropKeysOf(t *testing.T, link string) ([]byte, string) {
	t.Helper()
	c, err := client.New("http://127.0.0.1", nil)
	require.NoError(t, err)
	_ = c
	_, frag, ok := strings.Cut(link, "#")
	require.True(t, ok)
	d, err := protocol.ParseDropFragment(frag)
	require.NoError(t, err)
	return d.Auth[:], d.RouteID()
}

func routeBytes(t *testing.T, route string) [16]byte {
	t.Helper()
	b, err := enc.DecodeString(route)
	require.NoError(t, err)
	require.Len(t, b, 16)
	return [16]byte(b)
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
