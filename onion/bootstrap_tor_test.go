package onion

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/testnet"
)

// Start reports tor's bootstrap as it goes, only forward, ending at 100%, and never after it
// has returned.
func TestBootstrapProgressReported(t *testing.T) {
	n := tn.Get(t)
	var mu sync.Mutex
	var reports []Bootstrap
	returned := false
	cfg := managedConfig(t, n, t.TempDir(), filepath.Join(t.TempDir(), "onion.key"), backend(t, "x"), nil)
	cfg.Progress = func(b Bootstrap) {
		mu.Lock()
		defer mu.Unlock()
		if returned {
			t.Errorf("progress %v reported after Start returned", b)
		}
		reports = append(reports, b)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	mu.Lock()
	returned = true
	got := append([]Bootstrap(nil), reports...)
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(got) < 2 {
		t.Fatalf("%d progress reports %v: want the start and the end at least", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Percent <= got[i-1].Percent {
			t.Errorf("report %d went from %v to %v", i, got[i-1], got[i])
		}
	}
	if last := got[len(got)-1]; last.Percent != 100 || last.Tag != "done" {
		t.Errorf("last report %+v, want 100%% done", last)
	}
	for _, b := range got {
		if b.Summary == "" || b.Tag == "" {
			t.Errorf("report %+v lacks tor's phase", b)
		}
	}
	t.Logf("%d reports: %v", len(got), got)
}

// A tor that cannot reach the Tor network at all (here: a tor with the public network's
// defaults, in the test's loopback-only namespace, so every connection fails at once) makes
// Start fail after StallTimeout, naming the phase and the usual causes, long before the
// publish timeout.
func TestBootstrapStallFailsEarly(t *testing.T) {
	testnet.RequireOffline(t)
	torPath, _, err := testnet.Tools()
	if err != nil {
		t.Fatal(err)
	}
	// Both ways of publishing: ADD_ONION (ephemeral) and the torrc's HiddenServiceDir (a key
	// file), which starts tor with its network off and turns it on itself.
	for _, keyFile := range []string{"", filepath.Join(t.TempDir(), "onion.key")} {
		name := "ephemeral"
		if keyFile != "" {
			name = "key file"
		}
		t.Run(name, func(t *testing.T) {
			cfg := Config{
				TorPath:        torPath,
				DataDir:        t.TempDir(),
				KeyFile:        keyFile,
				Ephemeral:      keyFile == "",
				Target:         "unix:" + backend(t, "x"),
				PublishTimeout: 3 * time.Minute,
				StallTimeout:   8 * time.Second,
			}
			var seen []Bootstrap
			cfg.Progress = func(b Bootstrap) { seen = append(seen, b) }
			start := time.Now()
			s, err := Start(t.Context(), cfg)
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("a tor without a network published a service")
			}
			if !errors.Is(err, ErrBootstrapStalled) {
				t.Fatalf("Start = %v, want ErrBootstrapStalled", err)
			}
			if took > time.Minute {
				t.Errorf("Start took %v to give up; the stall timeout was 8 s", took)
			}
			if len(seen) == 0 {
				t.Fatal("no progress reported before the stall")
			}
			last := seen[len(seen)-1]
			for _, want := range []string{"stopped at " + strconv.Itoa(last.Percent) + "%", last.Tag, "bridges", "clock"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%v\nlacks %q", err, want)
				}
			}
			if _, err := os.Lstat(filepath.Join(cfg.DataDir, serviceDirName)); !os.IsNotExist(err) {
				t.Errorf("a failed start left tor's copy of the key: %v", err)
			}
			t.Logf("gave up after %v: %v", took.Round(time.Second), err)
		})
	}
}
