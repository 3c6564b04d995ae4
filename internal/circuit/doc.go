// Package circuit limits what one Tor circuit may create, in RAM, for the servers whose tor
// says which circuit each connection came over.
//
// An onion service sees no client addresses. What it can see, when tor is configured with
// HiddenServiceExportCircuitID haproxy, is the service-side circuit each connection arrives on:
// tor then starts every connection with a PROXY protocol v1 line whose source address ends in
// tor's global circuit id (Listen reads it; ParseHeader has the format). One visitor's Tor
// Browser uses one circuit per onion site for its whole visit; a new circuit costs a client an
// introduction and a rendezvous, and the introduction's proof of work once tor's PoW defence
// is active. Limiter gives each circuit a token bucket of creates (Burst at once, one more per
// Every), and the web layer asks it (Allow) before a note, chat or drop submission is priced
// or stored; a circuit over its limit is answered 429.
//
// Where ids come from: sealdrop's managed mode with a key file publishes through a torrc
// HiddenServiceDir with the export on (package onion), so every connection carries one; the
// system tor of Route A does when its torrc has the line (`serve --listen ... --circuit-ids`).
// ADD_ONION (attach mode, ephemeral mode) cannot export them, and connections from a plain
// listener carry none: Allow lets those through unlimited.
//
// What it keeps: per circuit, the id, the number of its open connections and two times,
// in a map in RAM. Never on disk, never printed or logged, never stored with an entry id, a
// capability or a manage hash: the limiter does not know what was created. (An open
// connection's Conn carries its id, and the web layer holds an appending connection by its
// entry id until it ends; SECURITY.md, "Per-circuit limits", says what that shows.) A record goes
// Burst×Every (100 s by default) after its circuit's last connection closed, when its bucket
// is full again; at most MaxRecords are held, the longest idle going first.
//
// What it does not protect against: an attacker with many circuits gets a bucket per circuit;
// what limits circuits is tor (the introduction points' rate limit, the proof of work each
// introduction pays under load, MaxStreams per circuit). Circuit ids are tor's own counter,
// restarted with tor, so they identify nothing beyond the running tor.
package circuit
