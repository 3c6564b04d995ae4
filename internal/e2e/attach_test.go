package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/onion"
)

// exampleTorrc returns torrc.example's options with its system paths moved into dir: /run/tor/
// (the control socket and cookie) into dir, HiddenServiceDir into dir/hs, and Route A's
// HiddenServicePort target to routeASock. The syslog line is dropped (the test network logs to
// a file). Every other line is used as shipped.
func exampleTorrc(t *testing.T, dir, routeASock string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "torrc.example"))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		key, _, _ := strings.Cut(l, " ")
		seen[key] = true
		switch key {
		case "Log":
			continue
		case "HiddenServiceDir":
			l = "HiddenServiceDir " + filepath.Join(dir, "hs")
		case "HiddenServicePort":
			require.Equal(t, "HiddenServicePort 80 unix:/run/sealdrop/http.sock", l, "Route A forwards to the deploy unit's socket")
			l = "HiddenServicePort 80 unix:" + routeASock
		}
		lines = append(lines, strings.ReplaceAll(l, "/run/tor/", dir+"/"))
	}
	require.NoError(t, sc.Err())
	for _, k := range []string{"ControlSocket", "CookieAuthentication", "HiddenServicePoWDefensesEnabled", "SocksPort"} {
		require.True(t, seen[k], "torrc.example sets %s", k)
	}
	return lines
}

// TestAttachAndSystemTor is issue 4's scenario 3 (and 4 for the attached tor): one tor runs
// torrc.example as shipped, paths aside. Route A: tor publishes the torrc-defined service and
// forwards to `sealdrop serve --listen unix:`. Route B: `sealdrop serve --tor-control` attaches
// through torrc.example's control socket with cookie authentication and publishes its own key.
// Both routes create and open a note once through the onion; Route A's circuit ids get through
// (sealdrop --circuit-ids limits one circuit's creates).
func TestAttachAndSystemTor(t *testing.T) {
	n := tn.Get(t)
	socks := shortDir(t)
	routeA, routeB := filepath.Join(socks, "a.sock"), filepath.Join(socks, "b.sock")
	name := fmt.Sprintf("torrcex-%d", time.Now().UnixNano())
	dir := filepath.Join(n.Dir(), name) // the tor's DataDirectory (0700), as /run/tor is on Debian
	p, err := n.StartTor(name, exampleTorrc(t, dir, routeA))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := p.WaitLog(ctx, "Bootstrapped 100%"); err != nil {
		t.Fatalf("tor with torrc.example: %v\n%s", err, p.LogTail(3000))
	}
	require.NoError(t, p.WaitFile(ctx, filepath.Join(dir, "hs", "hostname")))

	// Route A: the system tor publishes; sealdrop only listens.
	// torrc.example's Route A exports circuit ids; the listen-mode unit passes --circuit-ids.
	a := startSealdrop(t, "--listen", "unix:"+routeA, "--circuit-ids", "--budget", "4M")
	assert.Equal(t, "listening on unix:"+routeA, a.first)
	host, err := os.ReadFile(filepath.Join(dir, "hs", "hostname"))
	require.NoError(t, err)
	baseA := "http://" + strings.TrimSpace(string(host))
	visitor := newClientTor(t, n)
	hc, _ := torClient(t, visitor)
	start := time.Now()
	waitReachable(t, visitor, baseA)
	t.Logf("MEASURE route A (torrc-defined service): reachable %.1f s after sealdrop started", time.Since(start).Seconds())
	ca, err := client.New(baseA, hc)
	require.NoError(t, err)
	roundTrip(t, ca, 4<<10)
	// The circuit ids get through: one circuit is limited, as in managed mode.
	exhaust(t, circuitOf(t, visitor, fmt.Sprintf("route-a-%d", time.Now().UnixNano())), baseA, 0)

	// Route B: attach through torrc.example's control socket.
	key := filepath.Join(t.TempDir(), "onion.key")
	start = time.Now()
	b := startSealdrop(t, "--tor-control", "unix:"+filepath.Join(dir, "control"), "--key-file", key,
		"--http-socket", routeB, "--budget", "4M")
	baseB := b.onionBase(t)
	published := time.Since(start)
	want, err := onion.AddressFromKey(key)
	require.NoError(t, err)
	assert.Equal(t, "http://"+want, baseB)
	assert.NotEqual(t, baseA, baseB)
	sock, err := os.Lstat(routeB)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), sock.Mode().Perm(), "attach mode's socket is 0660 for the system tor's group")
	hcB, _ := torClient(t, visitor)
	waitReachable(t, visitor, baseB)
	t.Logf("MEASURE route B (attach): published %.1f s, reachable %.1f s after sealdrop started", published.Seconds(), time.Since(start).Seconds())
	cb, err := client.New(baseB, hcB)
	require.NoError(t, err)
	roundTrip(t, cb, 4<<10)

	// The attached tor's settings, asked through the same control socket sealdrop used.
	c := controlConn(t, "unix", filepath.Join(dir, "control"))
	assertAnonymous(t, c)
	kvs, err := c.GetConf("HiddenServiceOptions")
	require.NoError(t, err)
	hs := map[string]string{}
	for _, kv := range kvs {
		hs[kv.Key] = kv.Val
	}
	assert.Equal(t, "1", hs["HiddenServicePoWDefensesEnabled"], "Route A's PoW line is in force: %v", hs)
	assert.Equal(t, "32", hs["HiddenServiceMaxStreams"], "%v", hs)
	assert.Equal(t, "1", hs["HiddenServiceMaxStreamsCloseCircuit"], "%v", hs)
	assert.Equal(t, "1", hs["HiddenServiceEnableIntroDoSDefense"], "%v", hs)
	assert.Equal(t, "haproxy", hs["HiddenServiceExportCircuitID"], "%v", hs)

	// SIGTERM: sealdrop removes its service from the tor it does not own and exits 0; the
	// tor keeps running (Route A still answers).
	b.stop(t)
	assert.NotContains(t, getInfo(t, c, "onions/detached"), strings.TrimSuffix(strings.TrimPrefix(baseB, "http://"), ".onion"))
	select {
	case <-p.Exited():
		t.Fatal("stopping an attached sealdrop stopped the tor")
	default:
	}
	waitReachable(t, visitor, baseA)
	a.stop(t)
}
