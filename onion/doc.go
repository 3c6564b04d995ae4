// Package onion publishes a v3 onion service through tor, using bine for the
// process and control connection, and nothing else: it knows nothing about
// HTTP or about what the service serves.
//
// Two modes. Managed (Config.Control empty): Start runs its own tor from
// Debian's package with a private DataDir, SocksPort 0, SafeLogging 1, no log
// file, single-hop and non-anonymous modes off, and tied to this process
// (__OwningControllerProcess), with tor's output discarded unless
// Config.TorOutput is set. Attach (Config.Control set): Start uses an already
// running tor through its control socket or loopback control port with cookie
// authentication, refusing a tor in single-hop mode.
//
// In both modes Start issues ADD_ONION itself (bine's ListenConf cannot set
// them) with Flags=DiscardPK,MaxStreamsCloseCircuit, MaxStreams and the
// proof-of-work defence (PoWDefensesEnabled=1), forwards the virtual port to a
// unix socket (or a loopback port for development), and returns only after
// tor reports the first descriptor upload, waiting with its own timeout.
//
// What it protects:
//   - Address stability: the address is derived from a 32-byte ed25519 seed in
//     a key file (mode 0600, created on first start, refused when group or
//     others have any permission bit). Same file, same address. Ephemeral
//     gives a one-off address whose key never touches disk.
//   - The key on its way to tor: it is sent only in ADD_ONION, bine's debug
//     output (which would print it) is never enabled, and tor is asked not to
//     echo it (DiscardPK). Errors never contain it.
//   - Files: the key file is the only file this package creates outside
//     DataDir. In DataDir it writes "sealdrop-torrc" at each start; bine
//     briefly creates a control-port-* file there (removed after start); tor
//     keeps its state, consensus cache and control cookie there. DataDir
//     persists so that tor's guards persist.
//   - Tor's defaults: the hardening lines come after Config.TorrcLines in the
//     torrc and SocksPort 0 is also given on the command line, so extra lines
//     cannot re-enable a SOCKS port, logging or single-hop mode (lines naming
//     those options are refused outright).
//
// What it does not:
//   - The intro-point DoS defence has no ADD_ONION keyword in tor 0.4.9; it is
//     available only to torrc-defined services (see torrc.example).
//   - The key is a Go string while ADD_ONION is built; Go cannot wipe strings,
//     so a copy may linger in this process's memory until reused, and tor
//     holds the key for as long as the service runs.
//   - An attached tor is trusted: whoever controls it controls the service.
//   - Clock skew, traffic analysis and the content served are out of scope.
package onion
