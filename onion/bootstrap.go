package onion

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cretz/bine/control"
)

// DefaultStallTimeout is how long Start lets tor's bootstrap sit at one
// percentage before giving up. On the public network each phase normally
// advances within seconds; loading relay descriptors advances steadily even on
// a slow link. A tor that cannot reach any relay (no network, a blocked guard,
// a censored network) or whose consensus is refused (a wrong clock) stays put.
const DefaultStallTimeout = 2 * time.Minute

// Bootstrap is one report of tor's bootstrap progress: tor's BOOTSTRAP status
// (control-spec "Bootstrap status events"). It says nothing about visitors.
type Bootstrap struct {
	Percent int    // 0-100; 100 means tor can build circuits
	Tag     string // tor's name for the phase, e.g. "conn_done" or "loading_descriptors"
	Summary string // tor's words for the phase, e.g. "Loading relay descriptors"
	// Warning is tor's last complaint about this phase (e.g. "Connection refused"), with its
	// Reason keyword (e.g. "CONNECTREFUSED"); empty while all is well.
	Warning, Reason string
}

// String is "45% Loading relay descriptors".
func (b Bootstrap) String() string {
	s := strconv.Itoa(b.Percent) + "%"
	if b.Summary != "" {
		s += " " + b.Summary
	}
	return s
}

// parseBootstrap reads a BOOTSTRAP status line, "SEVERITY BOOTSTRAP KEY=VALUE
// ...", from a STATUS_CLIENT event or GETINFO status/bootstrap-phase. (bine's
// parser splits quoted values at their spaces, so this one reads them itself.)
func parseBootstrap(line string) (Bootstrap, bool) {
	_, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	action, rest, _ := strings.Cut(rest, " ")
	if action != "BOOTSTRAP" {
		return Bootstrap{}, false
	}
	args := statusArgs(rest)
	p, err := strconv.Atoi(args["PROGRESS"])
	if err != nil || p < 0 || p > 100 {
		return Bootstrap{}, false
	}
	return Bootstrap{Percent: p, Tag: args["TAG"], Summary: args["SUMMARY"], Warning: args["WARNING"], Reason: args["REASON"]}, true
}

// statusArgs parses KEY=VALUE pairs separated by spaces, where VALUE may be a
// quoted string with backslash escapes.
func statusArgs(s string) map[string]string {
	args := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return args
		}
		eq := strings.IndexAny(s, "= ")
		if eq < 0 || s[eq] == ' ' { // a bare word: skip it
			_, s, _ = strings.Cut(s, " ")
			continue
		}
		key := s[:eq]
		s = s[eq+1:]
		var v strings.Builder
		if strings.HasPrefix(s, `"`) {
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
			}
			s = s[min(i+1, len(s)):]
		} else {
			var val string
			val, s, _ = strings.Cut(s, " ")
			v.WriteString(val)
		}
		args[key] = v.String()
	}
}

// bootstrapPhase asks tor where its bootstrap is now.
func bootstrapPhase(conn *control.Conn) (Bootstrap, bool) {
	kvs, err := conn.GetInfo("status/bootstrap-phase")
	if err != nil {
		return Bootstrap{}, false
	}
	for _, kv := range kvs {
		if kv.Key == "status/bootstrap-phase" {
			// `NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"`: the same form as the event.
			return parseBootstrap(kv.Val)
		}
	}
	return Bootstrap{}, false
}

// stallError explains a bootstrap that stopped at b: where, tor's own complaint, and what
// usually causes it.
func stallError(b Bootstrap, lastWarning Bootstrap, stalled time.Duration) error {
	var w strings.Builder
	fmt.Fprintf(&w, "no progress for %v, stopped at %d%%", stalled, b.Percent)
	if b.Tag != "" || b.Summary != "" {
		fmt.Fprintf(&w, " (%s: %s)", b.Tag, b.Summary)
	}
	if lastWarning.Warning != "" {
		fmt.Fprintf(&w, "; tor's last warning: %s", lastWarning.Warning)
		if lastWarning.Reason != "" {
			fmt.Fprintf(&w, " (%s)", lastWarning.Reason)
		}
	}
	w.WriteString(". Usual causes: no network connection; a system clock that is wrong by hours (tor refuses the consensus: check the date and time zone); a firewall that blocks tor's guard relays; or a censored network, where tor needs bridges")
	return fmt.Errorf("%w: %s", ErrBootstrapStalled, w.String())
}
