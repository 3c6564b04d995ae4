package drop

import (
	"time"

	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// visit is one UTC day on which the inbox was listed, and how many submissions were claimed
// after that day's first list and before the next day's.
type visit struct {
	day     int64 // days since the Unix epoch, UTC
	fetched int
}

// counters are a route's theft signals. visits is a ring of at most MaxVisits records, oldest
// first once unrolled: only a restart (or dropping the counters of a route that holds nothing)
// clears it, never a request.
type counters struct {
	since, fetched, lists int
	visits                []visit
	head                  int // index of the oldest record once the ring is full
}

func (c *counters) last() *visit {
	if len(c.visits) == 0 {
		return nil
	}
	return &c.visits[(c.head+len(c.visits)-1)%len(c.visits)]
}

// visit records a list on day: the same day as the newest record merges into it (one
// record per day is the granularity, so that a journalist's own repeated lists cannot push a
// thief's visit out of the log), another day starts a record, dropping the oldest past
// MaxVisits.
func (c *counters) visit(day int64) {
	if l := c.last(); l != nil && l.day == day {
		return
	}
	if len(c.visits) < MaxVisits {
		c.visits = append(c.visits, visit{day: day})
		return
	}
	c.visits[c.head] = visit{day: day}
	c.head = (c.head + 1) % MaxVisits
}

// claimed counts one new claim against the newest visit (a claim with no visit yet, which
// only a restart-spanning client could make, gets a record of its own so that it shows).
func (c *counters) claimed(day int64) {
	c.since++
	c.fetched++
	if c.last() == nil {
		c.visit(day)
	}
	c.last().fetched++
}

func (c *counters) log() []Visit {
	out := make([]Visit, 0, len(c.visits))
	for i := range c.visits {
		v := c.visits[(c.head+i)%len(c.visits)]
		out = append(out, Visit{Day: time.Unix(v.day*86400, 0).UTC().Format(time.DateOnly), Fetched: v.fetched})
	}
	return out
}

func utcDay(t time.Time) int64 {
	u := t.Unix()
	d := u / 86400
	if u < 0 && u%86400 != 0 {
		d--
	}
	return d
}

// Visit is one UTC day on which the inbox was listed (by anyone holding the inbox link), and
// how many submissions were claimed after it, until the next visit.
type Visit struct {
	Day     string // "2006-01-02", UTC
	Fetched int
}

// countScanEvery spaces the scans for counters to drop. A scan visits every counted route and
// asks the vault about each: were it allowed on every new route while nothing can be dropped
// (every counted route still holds a submission), each new route's first list would hold the
// server's lock for the whole scan. Between scans the map may pass MaxCounters by what arrives
// in that second; the next scan drops the new empty ones.
const countScanEvery = time.Second

func (s *Server) countersLocked(r Route, now time.Time) *counters {
	c := s.counts[r.id]
	if c == nil {
		if len(s.counts) >= s.cfg.MaxCounters && !now.Before(s.nextCountScan) {
			s.nextCountScan = now.Add(countScanEvery)
			s.countScans++
			// Drop the counters of routes that hold nothing any more: first those whose log
			// shows no read, so that a flood of fresh routes (cheap: keys and lists) cannot push
			// out the log of a drop a thief has emptied; only when that frees nothing, empty
			// routes with reads too, down to three quarters of the cap.
			var spare [][protocol.DropRouteSize]byte
			for k, c := range s.counts {
				if k == r.id { // audit:ok route ids are public (in the drop link)
					continue
				}
				if n, _ := s.v.OwnerUsage(vault.KindSubmission, vault.ID(k).String()); n == 0 {
					if c.fetched == 0 {
						delete(s.counts, k)
					} else {
						spare = append(spare, k)
					}
				}
			}
			for _, k := range spare {
				if len(s.counts) < s.cfg.MaxCounters*3/4 {
					break
				}
				delete(s.counts, k)
			}
		}
		c = &counters{}
		s.counts[r.id] = c
	}
	return c
}
