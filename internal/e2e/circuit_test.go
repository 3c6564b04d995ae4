package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/circuit"
	"github.com/sealdrop/sealdrop/onion"
)

// circuitOf is an HTTP client through ct whose streams all use the circuit of SOCKS user who:
// tor isolates streams by SOCKS credentials, so another name is another circuit, as another
// Tor Browser would be.
func circuitOf(t *testing.T, ct *clientTor, who string) *http.Client {
	t.Helper()
	return &http.Client{Transport: ct.transportAs(t, who), Timeout: 2 * time.Minute}
}

func randomHash() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create posts a new note's create (kind "notes") or a new chat's (kind "chats") and returns
// the status and the error code.
func create(t *testing.T, hc *http.Client, base, kind string) (int, string) {
	t.Helper()
	body := map[string]any{"gate_hash": randomHash(), "manage_hash": randomHash(), "destruct_hash": randomHash()}
	if kind == "notes" {
		body["length"] = 1024
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/"+kind, strings.NewReader(string(b)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	res, err := hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	return res.StatusCode, e.Error
}

// exhaust creates notes on hc's circuit until the first 429 and checks the count: the burst,
// plus one per refill period that passed meanwhile (a slow machine), minus spent (creates this
// circuit made before).
func exhaust(t *testing.T, hc *http.Client, base string, spent int) {
	t.Helper()
	start := time.Now()
	created := 0
	for {
		st, code := create(t, hc, base, "notes")
		if st == http.StatusTooManyRequests {
			require.Equal(t, "busy", code)
			break
		}
		require.Equal(t, http.StatusCreated, st, "create %d", created+1)
		created++
		require.Less(t, created, 3*circuit.DefaultBurst, "no limit after %d creates on one circuit", created)
	}
	refills := int(time.Since(start) / circuit.DefaultEvery)
	assert.GreaterOrEqual(t, created, circuit.DefaultBurst-spent, "the circuit got its burst")
	assert.LessOrEqual(t, created, circuit.DefaultBurst-spent+refills, "no more than the burst and the refills (%d)", refills)
	t.Logf("MEASURE one circuit: %d creates in %.1f s, then 429", created, time.Since(start).Seconds())
}

// TestManagedCircuitLimit: managed mode publishes the key file's address through its torrc
// service with circuit ids; one Tor circuit that used up its creates gets 429 for notes and
// chats, while a second circuit of the same visitor's tor, and then a second visitor, still
// create.
func TestManagedCircuitLimit(t *testing.T) {
	n := tn.Get(t)
	state := t.TempDir()
	key := filepath.Join(state, "onion.key")
	args := managedArgs(t, n, state, shortDir(t))
	visitor := newClientTor(t, n)
	start := time.Now()
	s := startSealdrop(t, args...)
	base := s.onionBase(t)
	want, err := onion.AddressFromKey(key)
	require.NoError(t, err)
	require.Equal(t, "http://"+want, base, "the published address is the key file's")
	waitReachable(t, visitor, base)
	t.Logf("MEASURE managed (torrc service): reachable %.1f s after start", time.Since(start).Seconds())

	alice := circuitOf(t, visitor, fmt.Sprintf("alice-%d", time.Now().UnixNano()))
	exhaust(t, alice, base, 0)
	st, code := create(t, alice, base, "chats")
	assert.Equal(t, http.StatusTooManyRequests, st, "a chat on the same circuit")
	assert.Equal(t, "busy", code)
	res, err := alice.Get(base + "/api/v1/limits")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "the limited circuit still reads")

	bob := circuitOf(t, visitor, fmt.Sprintf("bob-%d", time.Now().UnixNano()))
	st, _ = create(t, bob, base, "notes")
	assert.Equal(t, http.StatusCreated, st, "a second circuit of the same tor creates")
	st, _ = create(t, bob, base, "chats")
	assert.Equal(t, http.StatusCreated, st)
	carol := circuitOf(t, newClientTor(t, n), "carol")
	st, _ = create(t, carol, base, "notes")
	assert.Equal(t, http.StatusCreated, st, "a second visitor creates")
	s.stop(t)
}
