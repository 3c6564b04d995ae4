package audit_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/audit"
)

const module = "github.com/sealdrop/sealdrop"

var (
	loadOnce sync.Once
	root     string
	src      *audit.Source
	loadErr  error
)

func load(t *testing.T) (*audit.Source, string) {
	t.Helper()
	loadOnce.Do(func() {
		root, loadErr = filepath.Abs("../..")
		if loadErr == nil {
			src, loadErr = audit.LoadModule(root)
		}
	})
	require.NoError(t, loadErr)
	require.Greater(t, len(src.Files), 50, "the module's files were found")
	return src, root
}

// harness packages run only inside tests (browsers, private Tor networks, end-to-end tests);
// they are not part of the shipped binary.
var harness = []string{"internal/browsertest/", "internal/testnet/", "internal/e2e/", "internal/netns/"}

// clientSide packages run in a reader's or sender's process, not in the server.
var clientSide = []string{"internal/client/"}

func under(rel string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

func sites(fs []audit.Finding, root string, skip ...string) []string {
	var out []string
	for _, f := range fs {
		s := f.Site(root)
		if under(s, skip...) {
			continue
		}
		out = append(out, s+" "+f.What)
	}
	sort.Strings(out)
	return out
}

// TestNoMathRand (T12, T25): capabilities and ids come from crypto/rand; math/rand appears in no
// non-test file.
func TestNoMathRand(t *testing.T) {
	s, root := load(t)
	assert.Empty(t, sites(s.ForbiddenImports("math/rand"), root))
}

// allowedPrints are the only places the module may print, with how many print calls each
// has. Everything else, every library and every request path, prints nothing.
var allowedPrints = map[string]int{
	// main hands the process's streams to run and prints the error that ends the process.
	"cmd/sealdrop/main.go:main os.Stdout":                1,
	"cmd/sealdrop/main.go:main os.Stderr":                2,
	"cmd/sealdrop/main.go:run fmt.Fprint(stderr)":        2, // usage on a bad command line
	"cmd/sealdrop/main.go:run fmt.Fprint(stdout)":        1, // help
	"cmd/sealdrop/main.go:newFlagSet fmt.Fprint(stderr)": 1, // a command's usage
	// serve: the startup lines (address, capacity), then nothing, ever (T6 watches at run time).
	// Before them, on a terminal only, progress.go's one line of tor's bootstrap progress on
	// stderr, removed before the address is printed (internal/e2e TestREADMERunCommand).
	"cmd/sealdrop/serve.go:serve fmt.Fprintf(stdout)": 3,
	// sealdrop version: build information and tor's version, for the operator who asked.
	"cmd/sealdrop/version.go:version fmt.Fprintln(stdout)": 2,
	// Command-line tools, not the server: their output is what the operator asked for.
	"cmd/sealdrop/admincmd.go:wipe fmt.Fprintln(stdout)":      2,
	"cmd/sealdrop/keys.go:keygen fmt.Fprintf(stdout)":         1,
	"cmd/sealdrop/keys.go:address fmt.Fprintf(stdout)":        1,
	"cmd/sealdrop/unit.go:systemdUnit io.WriteString(stdout)": 1,
	"cmd/sealdrop/bench.go:bench fmt.Fprint(stderr)":          1,
	// sealdrop inbox (a journalist's drop inbox over Tor) and verify-static: client-side tools.
	"cmd/sealdrop/inbox.go:readSecretFile fmt.Fprintf(stderr)":      1,
	"cmd/sealdrop/inbox.go:inbox fmt.Fprintf(stdout)":               1,
	"cmd/sealdrop/inbox.go:inbox fmt.Fprint(stderr)":                2,
	"cmd/sealdrop/inbox.go:inbox fmt.Fprintln(stdout)":              1,
	"cmd/sealdrop/inbox.go:inboxFetch fmt.Fprintf(stdout)":          3,
	"cmd/sealdrop/inbox.go:inboxList fmt.Fprintf(stdout)":           3,
	"cmd/sealdrop/inbox.go:inboxList fmt.Fprintln(stdout)":          1,
	"cmd/sealdrop/verifystatic.go:verifyStatic fmt.Fprint(stderr)":  1,
	"cmd/sealdrop/verifystatic.go:verifyStatic fmt.Fprintf(stdout)": 4,
}

// TestNoPrints (T25): outside cmd/ nothing logs or prints; in cmd/ only the listed call sites
// do. A new print anywhere fails until it is reviewed and listed here.
func TestNoPrints(t *testing.T) {
	s, root := load(t)
	got := map[string]int{}
	for _, site := range sites(s.Prints(), root, harness...) {
		got[site]++
	}
	for site, n := range got {
		assert.LessOrEqual(t, n, allowedPrints[site], "unreviewed print: %s (%d calls)", site, n)
	}
}

// TestNoRemoteAddr (T25): nothing reads a connection's or request's remote address, anywhere.
func TestNoRemoteAddr(t *testing.T) {
	s, root := load(t)
	assert.Empty(t, sites(s.RemoteAddr(), root, harness...))
}

// TestNoCookies: the server never sets a cookie and never reads one, so the pages' requests
// may carry credentials "same-origin" (static/js/http.js: the page's own connections are reused,
// one round trip less per action over Tor) without anything to carry. No Go code outside the
// tests, the test harnesses and the Go client included, names net/http's cookie API, a
// cookie jar or a cookie header (internal/web's TestNoCookieOnAnyRoute checks the answers of
// every route on the wire). The checker's own list of names (internal/audit) is the one
// exception.
func TestNoCookies(t *testing.T) {
	s, root := load(t)
	assert.Empty(t, sites(s.Cookies(), root, "internal/audit/"))
}

// TestCircuitIDsStayInCircuit (issue 13): a Tor circuit id is read and used only inside
// internal/circuit, which keeps it in RAM for the limiter; no other server code parses one,
// so none can print it, store it or tie it to an entry.
func TestCircuitIDsStayInCircuit(t *testing.T) {
	s, root := load(t)
	for _, site := range sites(s.Selector("ParseHeader"), root, harness...) {
		assert.True(t, strings.HasPrefix(site, "internal/circuit/"), "a circuit id parsed outside internal/circuit: %s", site)
	}
}

// allowedGoroutines cannot panic, with the reason.
var allowedGoroutines = map[string]string{
	"cmd/sealdrop/serve.go:serve goroutine without a deferred recover: go func(){...}": "http.Server.Serve and admin Serve: accept loops; " +
		"every handler runs under web's outermost recover (and net/http's own, whose ErrorLog is discarded)",
	"vault/vault.go:New goroutine without a deferred recover: go v.sweeper":                    "a ticker loop; each sweep runs under sweepSafely's recover",
	"internal/admin/server.go:Server.wipe goroutine without a deferred recover: go s.cfg.Exit": "closes a channel under sync.Once",
}

// TestEveryServerGoroutineRecovers (T17): every goroutine the server starts defers a recover,
// so that a bug ends one task silently instead of printing a panic and killing the process
// with every note in it unwiped by our code; the listed exceptions cannot panic. The prooftest
// route /__test/gopanic shows the pattern is silent in the real binary (internal/proof).
func TestEveryServerGoroutineRecovers(t *testing.T) {
	s, root := load(t)
	var bad []string
	for _, site := range sites(s.UnrecoveredGoroutines(), root, append(append([]string{"cmd/sealdrop/bench.go"}, harness...), clientSide...)...) {
		if allowedGoroutines[site] == "" {
			bad = append(bad, site)
		}
	}
	assert.Empty(t, bad, "server goroutines without a deferred recover (add `defer func() { _ = recover() }()`)")
}

// TestSecretsConstantTime (T13): the packages that hold or check capabilities (the vault, the
// HTTP layer, the chat relay, the drops, the protocol, the price) compare no bytes with
// bytes.Equal, bytes.Compare or ==; the listed exceptions compare nothing secret.
func TestSecretsConstantTime(t *testing.T) {
	_, root := load(t)
	allowed := map[string]string{
		"vault/vault.go:infoCmp bytes.Compare is not constant time":                 "orders a listing by id (Vault.List); ids are not secrets",
		"internal/web/catalog.go:parseCatalog bytes.HasPrefix is not constant time": "parses the embedded English catalog of page texts at start-up; nothing a client sent",
	}
	for _, pkg := range []string{"vault", "internal/web", "internal/chat", "internal/room", "internal/wsrelay", "internal/drop", "internal/protocol", "internal/price"} {
		fs, err := audit.SecretCompares(filepath.Join(root, pkg), module+"/"+pkg)
		require.NoError(t, err, pkg)
		for _, site := range sites(fs, root) {
			assert.NotEmpty(t, allowed[site], "not constant time: %s", site)
		}
	}
}

// TestOneCapabilityCompare (T13): capability hashes have one compare, the vault's (vault.Equal,
// and vault.Lock for a one-time gate, PIN and duress PIN). The packages that check capabilities
// on the vault's behalf (the HTTP layer, the chat relay) bring no compare of their own, so that
// a second check cannot drift from the first (a byte-by-byte compare, a PIN count that differs).
func TestOneCapabilityCompare(t *testing.T) {
	s, root := load(t)
	var own []string
	// crypto/hmac's keyed hash may derive (the one-request upload's note id); its Equal may not.
	found := append(s.ForbiddenImports("crypto/subtle"), s.PackageUses("crypto/hmac", "Equal")...)
	for _, site := range sites(found, root) {
		if under(site, "internal/web/", "internal/chat/", "internal/room/", "internal/wsrelay/") {
			own = append(own, site)
		}
	}
	assert.Empty(t, own, "a compare of its own: use vault.Equal or vault.Lock")
}

// TestGoModCurrent (T25): bine v0.2.0 pulls 2021 versions of golang.org/x modules; go.mod must
// require current ones.
func TestGoModCurrent(t *testing.T) {
	_, root := load(t)
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	assert.Empty(t, audit.GoModBelow(string(b), minimums))
}

var minimums = []audit.Requirement{
	{Path: "golang.org/x/crypto", Min: "v0.58.0"},
	{Path: "golang.org/x/net", Min: "v0.62.0"},
	{Path: "golang.org/x/sys", Min: "v0.49.0"},
}

// fuzzed lists every parser of input that reaches the server from a client, and the Fuzz
// target that exercises it (T18). `go test ./...` runs each target's seed corpus.
var fuzzed = map[string][]string{
	"vault":             {"FuzzParseID", "FuzzCapsAndLengths"},
	"internal/web":      {"FuzzParseOffset", "FuzzParse32", "FuzzDecodeJSON", "FuzzOpenRequest", "FuzzHasMediaType"},
	"internal/circuit":  {"FuzzParseHeader"},
	"internal/formdata": {"FuzzParse"},
	"internal/clean":    {"FuzzClean"},
	"internal/protocol": {"FuzzB64Decode", "FuzzParseFragment", "FuzzNormalizePIN", "FuzzOpen", "FuzzPlaintext", "FuzzChatOpen"},
}

// TestParsersFuzzed (T18): each parser's Fuzz target exists.
func TestParsersFuzzed(t *testing.T) {
	_, root := load(t)
	for pkg, want := range fuzzed {
		have, err := audit.FuzzTargets(filepath.Join(root, pkg))
		require.NoError(t, err)
		for _, w := range want {
			assert.Contains(t, have, w, "%s has no %s", pkg, w)
		}
		t.Logf("%s: %s", pkg, strings.Join(have, ", "))
	}
}
