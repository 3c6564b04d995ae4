package onion

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// OperatorOptions are the torrc options an operator may add to the managed
// tor (ReadOperatorTorrc): what a censored network or a restrictive firewall
// needs, and nothing that could weaken the onion service. Anything else is
// refused: DirAuthority or TestingTorNetwork would put tor on another network,
// ORPort or ExitRelay would make the server a relay, HiddenService*, ports,
// logging and control options are this package's own (ownedOptions), and
// %include could bring in anything.
var OperatorOptions = []string{
	"UseBridges", "Bridge", "ClientTransportPlugin",
	"Socks4Proxy", "Socks5Proxy", "Socks5ProxyUsername", "Socks5ProxyPassword",
	"HTTPSProxy", "HTTPSProxyAuthenticator",
	"ReachableAddresses", "ReachableORAddresses", "FascistFirewall",
	"ClientUseIPv4", "ClientUseIPv6", "ClientPreferIPv6ORPort",
}

// maxOperatorTorrc bounds the file: a few hundred bridge lines at most.
const maxOperatorTorrc = 1 << 20

// ReadOperatorTorrc reads extra torrc lines for the managed tor from path
// (for Config.TorrcLines): one "Option value" per line, blank lines and #
// comments ignored. Every option must be one of OperatorOptions, written as
// tor spells it in any case; the file must be a regular file that only its
// owner may write, since its lines steer tor. The error names the line.
func ReadOperatorTorrc(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s: group or others may write it (mode %04o): chmod go-w %s", path, fi.Mode().Perm(), path)
	}
	return parseOperatorTorrc(io.LimitReader(f, maxOperatorTorrc+1), path)
}

func parseOperatorTorrc(r io.Reader, name string) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxOperatorTorrc+1)
	total, n := 0, 0
	for sc.Scan() {
		n++
		total += len(sc.Bytes()) + 1
		if total > maxOperatorTorrc {
			return nil, fmt.Errorf("%s: longer than %d bytes", name, maxOperatorTorrc)
		}
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.ContainsAny(l, "\x00\r") || strings.HasSuffix(l, "\\") {
			return nil, fmt.Errorf("%s:%d: control characters and continued lines are not accepted", name, n)
		}
		key, value, _ := strings.Cut(strings.Join(strings.Fields(l), " "), " ")
		i := slices.IndexFunc(OperatorOptions, func(o string) bool { return strings.EqualFold(o, key) })
		if i < 0 {
			return nil, fmt.Errorf("%s:%d: %q is not an option sealdrop passes on; allowed: %s", name, n, key, strings.Join(OperatorOptions, ", "))
		}
		if value == "" {
			return nil, fmt.Errorf("%s:%d: %s needs a value", name, n, OperatorOptions[i])
		}
		lines = append(lines, OperatorOptions[i]+" "+value)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lines, nil
}
