package onion

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/cretz/bine/control"
)

// uploadGrace is how long publish waits for the remaining directories once
// one has confirmed the descriptor.
const uploadGrace = 10 * time.Second

// addOnionCommand builds ADD_ONION by hand because bine's ListenConf cannot
// send MaxStreamsCloseCircuit or the proof-of-work keywords. The result holds
// the secret key: it must never be logged (bine's DebugWriter stays nil).
func addOnionCommand(c Config, seed []byte) string {
	parts := []string{
		"ADD_ONION", keyBlob(seed),
		// DiscardPK: tor never echoes the key back. MaxStreamsCloseCircuit: a
		// circuit that exceeds MaxStreams is closed, not just refused.
		"Flags=DiscardPK,MaxStreamsCloseCircuit",
		"MaxStreams=" + strconv.Itoa(c.MaxStreams),
	}
	if !c.DisablePoW {
		// Tor's own queue rate and burst defaults; they are tor's to tune.
		parts = append(parts, "PoWDefensesEnabled=1")
	}
	parts = append(parts, "Port="+strconv.Itoa(c.VirtualPort)+","+c.Target)
	return strings.Join(parts, " ")
}

// publish adds the service on conn with ADD_ONION and waits for its upload (await).
func publish(ctx context.Context, conn *control.Conn, c Config, seed []byte, progress func(Bootstrap), stall time.Duration) (string, error) {
	id := serviceID(seed)
	add := func() error {
		resp, err := conn.SendRequest("%s", addOnionCommand(c, seed))
		if err != nil {
			return addOnionError(err, c)
		}
		var got string
		for _, d := range resp.Data {
			if v, ok := strings.CutPrefix(d, "ServiceID="); ok {
				got = v
			}
		}
		if got != id {
			_ = conn.DelOnion(got)
			return fmt.Errorf("onion: tor published %q, expected %q", got, id)
		}
		return nil
	}
	undo := func() { _ = delOnionAsync(conn, id) }
	return id, await(ctx, conn, c, id, add, undo, progress, stall)
}

// publishTorrc waits for the upload of the service tor runs from its torrc's HiddenServiceDir
// dir: tor was started with its network off, and is connected once await listens. First it
// checks that tor derived the key's address from the key file in dir.
func publishTorrc(ctx context.Context, conn *control.Conn, c Config, seed []byte, dir string, progress func(Bootstrap), stall time.Duration) (string, error) {
	id := serviceID(seed)
	begin := func() error {
		if err := checkHostname(dir, id); err != nil {
			return err
		}
		if err := conn.SetConf(control.KeyVals("DisableNetwork", "0")...); err != nil {
			return fmt.Errorf("onion: enable tor's network: %w", err)
		}
		return nil
	}
	// Nothing to undo: the service goes with the managed tor, which the caller stops.
	return id, await(ctx, conn, c, id, begin, nil, progress, stall)
}

// await subscribes to HS_DESC (and bootstrap status), calls begin (which adds the service or
// lets tor connect), and waits until tor reports a descriptor upload for id. Subscribing
// first means an upload that happens quickly cannot be missed (the race in bine issues #39
// and #40), and it waits with its own timeout instead of bine's unbounded wait. While tor
// bootstraps it reports each change to progress (if not nil) and fails once the bootstrap has
// not advanced for stall (if > 0). On a failure after begin it calls undo (if not nil).
func await(ctx context.Context, conn *control.Conn, c Config, id string, begin func() error, undo func(), progress func(Bootstrap), stall time.Duration) error {
	// Buffered generously: bine hands events over synchronously while a request waits for
	// its answer, before the handler below runs; a bootstrap sends about 20.
	events := make(chan control.Event, 256)
	codes := []control.EventCode{control.EventCodeHSDesc, control.EventCodeStatusClient}
	if err := conn.AddEventListener(events, codes...); err != nil {
		return fmt.Errorf("onion: subscribe to HS_DESC and STATUS_CLIENT: %w", err)
	}
	handlerCtx, stopHandler := context.WithCancel(context.Background())
	defer func() {
		stopHandler()
		// bine delivers events synchronously while holding its read lock, so
		// keep draining until tor has acknowledged the unsubscription.
		drained := make(chan struct{})
		go func() {
			defer func() { _ = recover() }() // nothing may print
			for {
				select {
				case <-events:
				case <-drained:
					return
				}
			}
		}()
		_ = conn.RemoveEventListener(events, codes...)
		close(drained)
	}()

	if err := begin(); err != nil {
		return err
	}
	if undo == nil {
		undo = func() {}
	}

	// Where tor is now (asked only when someone listens: a re-publish asks nothing more of a
	// tor that may be slow to answer); from here on the STATUS_CLIENT events say.
	var phase Bootstrap
	known := false
	if progress != nil || stall > 0 {
		phase, known = bootstrapPhase(conn)
	}
	var lastWarning Bootstrap
	report := func(b Bootstrap) {
		if progress != nil {
			progress(b)
		}
	}
	if known {
		report(phase)
	}
	var stalled <-chan time.Time
	var stallTimer *time.Timer
	if stall > 0 && (!known || phase.Percent < 100) {
		stallTimer = time.NewTimer(stall)
		defer stallTimer.Stop()
		stalled = stallTimer.C
	}

	connErr := make(chan error, 1)
	go func() {
		defer func() {
			if recover() != nil { // nothing may print: report it as a failed connection
				connErr <- errEventHandler
			}
		}()
		for handlerCtx.Err() == nil {
			if err := conn.HandleNextEvent(); err != nil {
				connErr <- err
				return
			}
		}
	}()

	timeout := time.NewTimer(c.PublishTimeout)
	defer timeout.Stop()
	// Return once every upload tor started has ended and at least one
	// succeeded, so a client asking any directory finds the descriptor; but
	// no later than uploadGrace after the first success.
	var grace <-chan time.Time
	pending := map[string]bool{}
	uploaded, failures := 0, 0
	for {
		select {
		case ev := <-events:
			if st, ok := ev.(*control.StatusEvent); ok {
				b, ok := parseBootstrap(st.Raw)
				if !ok {
					continue
				}
				if b.Warning != "" {
					lastWarning = b
				}
				if known && b.Percent <= phase.Percent {
					continue // a warning, or a repeat: no progress
				}
				phase, known = b, true
				report(b)
				if stallTimer != nil {
					stallTimer.Stop()
					if b.Percent < 100 {
						stallTimer.Reset(stall)
					} else {
						stalled = nil // connected: PublishTimeout bounds the upload
					}
				}
				continue
			}
			hs, ok := ev.(*control.HSDescEvent)
			if !ok || hs.Address != id {
				continue
			}
			dir, _, _ := strings.Cut(hs.HSDir, "~") // "$FINGERPRINT~nickname"
			switch hs.Action {
			case "UPLOAD":
				pending[dir] = true
			case "UPLOADED":
				delete(pending, dir)
				uploaded++
				if grace == nil {
					grace = time.After(uploadGrace)
				}
			case "FAILED":
				delete(pending, dir)
				failures++ // tor retries other directories by itself
			}
			if uploaded > 0 && len(pending) == 0 {
				return nil
			}
		case <-grace:
			return nil
		case <-stalled:
			stopHandler()
			undo()
			return stallError(phase, lastWarning, stall)
		case err := <-connErr:
			return fmt.Errorf("%w: control connection lost while publishing: %v", ErrTorExited, err)
		case <-ctx.Done():
			stopHandler()
			undo()
			return fmt.Errorf("onion: publish: %w", ctx.Err())
		case <-timeout.C:
			stopHandler()
			undo()
			return fmt.Errorf("%w after %v (%d failed uploads): is tor able to reach the network?", ErrPublishTimeout, c.PublishTimeout, failures)
		}
	}
}

// errEventHandler reports a panic in the control-event goroutine without printing it.
var errEventHandler = errors.New("onion: control event handler failed")

// delOnionAsync removes a half-published service without blocking the
// caller on the event handler that still holds bine's read lock.
func delOnionAsync(conn *control.Conn, id string) error {
	errc := make(chan error, 1)
	go func() {
		defer func() { _ = recover() }() // nothing may print; the caller stops waiting after 5 s
		errc <- conn.DelOnion(id)
	}()
	select {
	case err := <-errc:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("onion: DEL_ONION timed out")
	}
}

// addOnionError names tor's refusal and the likely fix. tor's reply never
// contains the key, so it is safe to show.
func addOnionError(err error, c Config) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("onion: ADD_ONION: %w", err)
	}
	hint := ""
	switch {
	case strings.Contains(te.Msg, "PoW"):
		hint = " (proof-of-work needs tor >= 0.4.8 built with the pow module; upgrade tor, or disable PoW)"
	case te.Code == 550 && strings.Contains(strings.ToLower(te.Msg), "collision"):
		hint = " (this address is already published on this tor: is another sealdrop running with the same key?)"
	case strings.Contains(strings.ToLower(te.Msg), "unix"):
		hint = " (check that the unix socket path " + strings.TrimPrefix(c.Target, "unix:") + " is usable by tor)"
	}
	return fmt.Errorf("%w: ADD_ONION: %d %s%s", ErrTorRefused, te.Code, te.Msg, hint)
}
