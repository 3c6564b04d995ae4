package admin

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sealdrop/sealdrop/vault"
)

// Status is everything the admin socket reveals: capacity, never anything about one entry.
type Status struct {
	Budget int64 `json:"budget"` // bytes of locked memory
	Used   int64 `json:"used"`
	Free   int64 `json:"free"`
	// Entry counts by kind.
	Notes       int `json:"notes"`
	ChatFrames  int `json:"chat_frames"`
	Submissions int `json:"submissions"`
	RoomFrames  int `json:"room_frames"` // undelivered group-room records
	// Uptime is rounded down to the minute by the server: a finer value would date the start.
	Uptime time.Duration `json:"uptime"`
	// Onion is the service's address ("xxx.onion") when sealdrop publishes it (managed or
	// attach mode); empty when the system tor publishes it from its torrc.
	Onion string `json:"onion"`
}

// FromStats builds a Status from the vault's counters, the process start time, the current
// time and the onion address ("" if sealdrop does not know it).
func FromStats(s vault.Stats, started, now time.Time, onion string) Status {
	return Status{
		Budget:      s.Budget,
		Used:        s.Used,
		Free:        s.Free,
		Notes:       s.Entries[vault.KindNote],
		ChatFrames:  s.Entries[vault.KindChatFrame],
		Submissions: s.Entries[vault.KindSubmission],
		RoomFrames:  s.Entries[vault.KindRoomFrame],
		Uptime:      now.Sub(started),
		Onion:       onion,
	}
}

// coarse drops what the wire must not carry.
func (s Status) coarse() Status {
	s.Uptime = max(s.Uptime.Truncate(time.Minute), 0)
	return s
}

// WriteTo writes s for a human, one line per field.
func (s Status) WriteTo(w io.Writer) (int64, error) {
	onion := s.Onion
	if onion == "" {
		onion = "(published by the system tor: see its HiddenServiceDir/hostname)"
	}
	pct := 0.0
	if s.Budget > 0 {
		pct = 100 * float64(s.Used) / float64(s.Budget)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "onion address: %s\n", onion)
	fmt.Fprintf(&b, "capacity:      %s\n", size(s.Budget))
	fmt.Fprintf(&b, "used:          %s (%.1f%%)\n", size(s.Used), pct)
	fmt.Fprintf(&b, "free:          %s\n", size(s.Free))
	fmt.Fprintf(&b, "entries:       %s, %s, %s, %s\n",
		plural(s.Notes, "note"), plural(s.ChatFrames, "chat frame"), plural(s.RoomFrames, "room frame"),
		plural(s.Submissions, "submission"))
	fmt.Fprintf(&b, "uptime:        %s\n", uptime(s.Uptime))
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func (s Status) String() string {
	var b strings.Builder
	s.WriteTo(&b)
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}

func uptime(d time.Duration) string {
	d = d.Truncate(time.Minute)
	days := d / (24 * time.Hour)
	h := d % (24 * time.Hour) / time.Hour
	m := d % time.Hour / time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm", days, h, m)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}
