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
// How the service is published:
//   - Managed mode with a KeyFile: the service is defined in the managed tor's
//     torrc, from a HiddenServiceDir ("onion-service", 0700) in DataDir into
//     which Start writes the key in tor's format (hs_ed25519_secret_key: the
//     header "== ed25519v1-secret: type0 ==" and the 64-byte expanded key).
//     The torrc sets version 3, HiddenServiceMaxStreams with
//     MaxStreamsCloseCircuit, the proof-of-work defence, the introduction
//     points' DoS defence (rate 25/s, burst 200) and, with Config.CircuitIDs,
//     HiddenServiceExportCircuitID haproxy. tor starts with its network off;
//     Start checks that tor derived the key's address (its hostname file),
//     then turns the network on. These last two options are why: ADD_ONION has
//     no keyword for either in tor 0.4.9.
//   - Managed mode with Ephemeral, and attach mode: Start issues ADD_ONION
//     itself (bine's ListenConf cannot set them) with
//     Flags=DiscardPK,MaxStreamsCloseCircuit, MaxStreams and the proof-of-work
//     defence (PoWDefensesEnabled=1). No intro DoS defence, no circuit ids.
//
// Either way the virtual port is forwarded to a unix socket (or a loopback
// port for development), and Start returns only after tor reports the first
// descriptor upload, waiting with its own timeout.
//
// What it protects:
//   - Address stability: the address is derived from a 32-byte ed25519 seed in
//     a key file (mode 0600, created on first start, refused when group or
//     others have any permission bit). Same file, same address. Ephemeral
//     gives a one-off address whose key never touches disk.
//   - The key on its way to tor: through ADD_ONION, bine's debug output (which
//     would print it) is never enabled, and tor is asked not to echo it
//     (DiscardPK); through the HiddenServiceDir, it is written to a new 0600
//     file that is synced and renamed into place. Errors never contain it.
//   - Files: the key file is the only file this package creates outside
//     DataDir. In DataDir it writes "sealdrop-torrc" at each start and, with a
//     KeyFile, "onion-service/" with tor's copy of the key, which Close removes
//     once tor has stopped and an ephemeral start removes if an earlier run
//     (a crash) left it; bine briefly creates a control-port-* file there
//     (removed after start); tor keeps its state, consensus cache and control
//     cookie there. DataDir persists so that tor's guards persist.
//   - Tor's defaults: the hardening lines come after Config.TorrcLines in the
//     torrc and SocksPort 0 is also given on the command line, so extra lines
//     cannot re-enable a SOCKS port, logging or single-hop mode (lines naming
//     those options are refused outright).
//
// What it does not:
//   - While a managed service with a KeyFile runs (and after a crash, until the
//     next start or Close), its key is on disk twice: in the key file and in
//     tor's format in DataDir/onion-service/, both this user's alone (0600
//     files, 0700 directories): an attacker who can read files as this user
//     gets the key either way, but a backup or copy of DataDir now holds it
//     too, so keep DataDir as private as the key file. Removing the file is not
//     secure erasure. (tor itself held the key in memory before, with ADD_ONION.)
//   - Ephemeral and attach mode get neither the intro-point DoS defence nor
//     circuit ids (no ADD_ONION keyword in tor 0.4.9); Route A (a torrc service
//     of the system tor, torrc.example) gets both.
//   - The key is a Go string while ADD_ONION is built; Go cannot wipe strings,
//     so a copy may linger in this process's memory until reused, and tor
//     holds the key for as long as the service runs.
//   - An attached tor is trusted: whoever controls it controls the service.
//   - Clock skew, traffic analysis and the content served are out of scope.
package onion
