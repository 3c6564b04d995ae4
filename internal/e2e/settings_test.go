package e2e

import (
	"bufio"
	"encoding/hex"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cretz/bine/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// children lists the pids whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// tcpListeners returns the local addresses of the TCP sockets in LISTEN state that process
// pid holds open.
func tcpListeners(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	require.NoError(t, err)
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, file := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "net", file))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			out = append(out, hexAddr(t, fields[1]))
		}
		f.Close()
	}
	return out
}

// hexAddr decodes /proc/net/tcp's "0100007F:1F90" (IPv4 in host byte order) form.
func hexAddr(t *testing.T, s string) string {
	t.Helper()
	h, p, _ := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	require.NoError(t, err)
	b, err := hex.DecodeString(h)
	require.NoError(t, err)
	ip := make(net.IP, len(b))
	for i := 0; i < len(b); i += 4 { // each 32-bit word is little-endian
		ip[i], ip[i+1], ip[i+2], ip[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}

// controlConn opens an authenticated control connection (SAFECOOKIE: the test runs as the
// same user as tor, so it can read the cookie).
func controlConn(t *testing.T, network, addr string) *control.Conn {
	t.Helper()
	tc, err := textproto.Dial(network, addr)
	require.NoError(t, err)
	c := control.NewConn(tc)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Authenticate(""))
	return c
}

func getConf(t *testing.T, c *control.Conn, key string) string {
	t.Helper()
	kvs, err := c.GetConf(key)
	require.NoError(t, err, "GETCONF %s", key)
	return values(kvs)
}

func getInfo(t *testing.T, c *control.Conn, key string) string {
	t.Helper()
	kvs, err := c.GetInfo(key)
	require.NoError(t, err, "GETINFO %s", key)
	return values(kvs)
}

// values joins the values of a GETCONF or GETINFO answer with "|".
func values(kvs []*control.KeyVal) string {
	var vals []string
	for _, kv := range kvs {
		vals = append(vals, kv.Val)
	}
	return strings.Join(vals, "|")
}

// assertAnonymous asserts, by asking tor, the settings every tor publishing sealdrop needs.
func assertAnonymous(t *testing.T, c *control.Conn) {
	t.Helper()
	assert.Equal(t, "0", getConf(t, c, "HiddenServiceSingleHopMode"))
	assert.Equal(t, "0", getConf(t, c, "HiddenServiceNonAnonymousMode"))
	assert.Equal(t, "1", getConf(t, c, "SafeLogging"))
	assert.Equal(t, "0", getConf(t, c, "SocksPort"))
	assert.Empty(t, getInfo(t, c, "net/listeners/socks"), "no SOCKS listener")
}

// checkManagedTor is issue 4's scenario 4 for managed mode: it finds the tor that sealdrop
// started, checks that neither process listens on TCP except tor's loopback control port
// (which bine needs), and asks tor for its settings through that port.
func checkManagedTor(t *testing.T, s *sealdrop, dataDir string) {
	t.Helper()
	assert.Empty(t, tcpListeners(t, s.cmd.Process.Pid), "sealdrop itself listens on no TCP port")
	kids := children(t, s.cmd.Process.Pid)
	require.Len(t, kids, 1, "sealdrop runs exactly one child, its tor")
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(kids[0]), "comm"))
	require.NoError(t, err)
	require.Equal(t, "tor", strings.TrimSpace(string(comm)))
	ls := tcpListeners(t, kids[0])
	require.Len(t, ls, 1, "the managed tor listens only on its control port: %v", ls)
	host, _, err := net.SplitHostPort(ls[0])
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host, "the control port is on loopback")

	c := controlConn(t, "tcp", ls[0])
	assertAnonymous(t, c)
	assert.Equal(t, strconv.Itoa(s.cmd.Process.Pid), getConf(t, c, "__OwningControllerProcess"), "tor exits when sealdrop dies")
	assert.Equal(t, dataDir, getConf(t, c, "DataDirectory"))
	assert.NotContains(t, getConf(t, c, "Log"), "file", "tor writes no log file")
	// With a key file the service is the torrc's, from a HiddenServiceDir in the DataDirectory:
	// tor reports its options to any control connection.
	kvs, err := c.GetConf("HiddenServiceOptions")
	require.NoError(t, err)
	hs := map[string]string{}
	for _, kv := range kvs {
		hs[kv.Key] = kv.Val
	}
	assert.Equal(t, filepath.Join(dataDir, "onion-service"), strings.TrimSuffix(hs["HiddenServiceDir"], "/"), "%v", hs)
	for k, v := range map[string]string{
		"HiddenServicePoWDefensesEnabled": "1", "HiddenServiceEnableIntroDoSDefense": "1",
		"HiddenServiceMaxStreams": "32", "HiddenServiceMaxStreamsCloseCircuit": "1",
		"HiddenServiceExportCircuitID": "haproxy", "HiddenServiceVersion": "3",
	} {
		assert.Equal(t, v, hs[k], "%s: %v", k, hs)
	}
	key, err := os.Stat(filepath.Join(dataDir, "onion-service", "hs_ed25519_secret_key"))
	require.NoError(t, err, "tor's copy of the key while tor runs")
	assert.Equal(t, os.FileMode(0o600), key.Mode().Perm())
	entries, err := os.ReadDir(dataDir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "control-port-"), "no bine leftovers: %s", e.Name())
	}
}
