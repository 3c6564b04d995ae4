package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrStart means Firefox did not announce its WebDriver BiDi endpoint.
var ErrStart = errors.New("browsertest: firefox did not start")

// Options configure one Firefox.
type Options struct {
	Level Level
	// ProxyAddr is FakeOnionProxy.Addr(); empty means no proxy (then nothing can be loaded but
	// about: pages and data: URLs).
	ProxyAddr string
	// ExtraPrefs override any pref the harness sets.
	ExtraPrefs map[string]any
	// Binary defaults to FirefoxPath().
	Binary string
	// ProfileDir defaults to a fresh temporary directory removed on Close.
	ProfileDir string
}

// LogEntry is one console message or JavaScript error (log.entryAdded).
type LogEntry struct {
	Context string // browsing context id; empty for workers and the like
	Type    string // "console" or "javascript"
	Level   string // "debug", "info", "warn", "error"
	Text    string
	Method  string // console method, for Type "console"
	Time    time.Time
}

func (e LogEntry) String() string {
	return fmt.Sprintf("[%s %s] %s", e.Type, e.Level, e.Text)
}

// NetRequest is one request as the browser announced it (network.beforeRequestSent). Bodies
// are not part of BiDi: FakeOnionProxy records them.
type NetRequest struct {
	Context string
	Method  string
	URL     string
	Headers map[string][]string
	Time    time.Time
}

// Browser is one running Firefox with one BiDi session.
type Browser struct {
	Level     Level
	cmd       *exec.Cmd
	conn      *bidiConn
	profile   string
	downloads string
	ownDir    bool
	waitErr   chan error

	mu       sync.Mutex
	logs     []LogEntry
	requests []NetRequest
	stderr   lineTail // last lines, for diagnostics only

	closeOnce sync.Once
}

var bidiURLRe = regexp.MustCompile(`WebDriver BiDi listening on (ws://[^\s]+)`)

// Launch starts Firefox with the level's prefs and opens a BiDi session. Whatever happens the
// process is killed when Launch fails, and by Close otherwise.
func Launch(ctx context.Context, o Options) (b *Browser, err error) {
	bin := o.Binary
	if bin == "" {
		if bin, err = FirefoxPath(); err != nil {
			return nil, err
		}
	}
	b = &Browser{Level: o.Level, profile: o.ProfileDir, waitErr: make(chan error, 1)}
	if b.profile == "" {
		if b.profile, err = os.MkdirTemp("", "sealdrop-firefox-"+o.Level.String()+"-"); err != nil {
			return nil, fmt.Errorf("browsertest: profile: %w", err)
		}
		b.ownDir = true
	}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	b.downloads = filepath.Join(b.profile, "downloads")
	if err = os.MkdirAll(b.downloads, 0o700); err != nil {
		return nil, fmt.Errorf("browsertest: downloads: %w", err)
	}
	extra := map[string]any{
		// Downloads land in one known directory without a dialog, so a test can compare what
		// a person would save with what was sent.
		"browser.download.folderList":                           2,
		"browser.download.dir":                                  b.downloads,
		"browser.download.alwaysOpenPanel":                      false,
		"browser.download.start_downloads_in_tmp_dir":           false,
		"browser.download.manager.addToRecentDocs":              false,
		"browser.helperApps.neverAsk.saveToDisk":                "application/octet-stream",
		"browser.download.always_ask_before_handling_new_types": false,
	}
	for k, v := range o.ExtraPrefs {
		extra[k] = v
	}
	prefs, err := Prefs(o.Level, o.ProxyAddr, extra)
	if err != nil {
		return nil, err
	}
	js, err := userJS(prefs)
	if err != nil {
		return nil, err
	}
	if err = os.WriteFile(filepath.Join(b.profile, "user.js"), []byte(js), 0o600); err != nil {
		return nil, fmt.Errorf("browsertest: user.js: %w", err)
	}
	// Port 0: Firefox picks a free port and prints the URL, so parallel binaries never race
	// for a port.
	b.cmd = exec.Command(bin, "--headless", "--no-remote", "--remote-debugging-port=0",
		"--profile", b.profile, "about:blank")
	b.cmd.Env = append(os.Environ(),
		"MOZ_HEADLESS=1",
		// Without it Remote Settings calls home whatever services.settings.server says.
		"MOZ_REMOTE_SETTINGS_DEVTOOLS=1",
		"MOZ_CRASHREPORTER_DISABLE=1",
		"MOZ_DISABLE_AUTO_SAFE_MODE=1",
	)
	b.cmd.Stdout = io.Discard
	// Pdeathsig: a test binary killed by a panic or -timeout takes Firefox with it (its content
	// processes exit when the parent goes).
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("browsertest: stderr: %w", err)
	}
	if err = b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("browsertest: start %s: %w", bin, err)
	}
	go func() { b.waitErr <- b.cmd.Wait() }()

	urlc := make(chan string, 1)
	go b.readStderr(stderr, urlc)
	var wsURL string
	select {
	case wsURL = <-urlc:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v; stderr: %s", ErrStart, ctx.Err(), b.StderrTail())
	}
	if wsURL == "" {
		return nil, fmt.Errorf("%w: exited; stderr: %s", ErrStart, b.StderrTail())
	}
	if b.conn, err = dialBiDi(ctx, strings.TrimRight(wsURL, "/")+"/session", b.onEvent); err != nil {
		return nil, err
	}
	if err = b.conn.call(ctx, "session.new", map[string]any{
		"capabilities": map[string]any{"alwaysMatch": map[string]any{
			"acceptInsecureCerts":     false,
			"unhandledPromptBehavior": map[string]any{"default": "dismiss"},
		}},
	}, nil); err != nil {
		return nil, err
	}
	if err = b.conn.call(ctx, "session.subscribe", map[string]any{
		"events": []string{"log.entryAdded", "network.beforeRequestSent"},
	}, nil); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Browser) readStderr(r io.Reader, urlc chan<- string) {
	sent := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		b.stderr.add(line)
		if !sent {
			if m := bidiURLRe.FindStringSubmatch(line); m != nil {
				urlc <- m[1]
				sent = true
			}
		}
	}
	if !sent {
		urlc <- ""
	}
}

// StderrTail returns Firefox's last stderr lines, for failure messages.
func (b *Browser) StderrTail() string { return b.stderr.last(80) }

type remoteString struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func (b *Browser) onEvent(method string, params json.RawMessage) {
	switch method {
	case "log.entryAdded":
		var p struct {
			Type      string `json:"type"`
			Level     string `json:"level"`
			Text      string `json:"text"`
			Method    string `json:"method"`
			Timestamp int64  `json:"timestamp"`
			Source    struct {
				Context string `json:"context"`
			} `json:"source"`
		}
		if json.Unmarshal(params, &p) != nil {
			return
		}
		b.mu.Lock()
		b.logs = append(b.logs, LogEntry{Context: p.Source.Context, Type: p.Type, Level: p.Level,
			Text: p.Text, Method: p.Method, Time: time.UnixMilli(p.Timestamp)})
		b.mu.Unlock()
	case "network.beforeRequestSent":
		var p struct {
			Context string `json:"context"`
			Request struct {
				Method  string `json:"method"`
				URL     string `json:"url"`
				Headers []struct {
					Name  string       `json:"name"`
					Value remoteString `json:"value"`
				} `json:"headers"`
			} `json:"request"`
			Timestamp int64 `json:"timestamp"`
		}
		if json.Unmarshal(params, &p) != nil {
			return
		}
		h := map[string][]string{}
		for _, kv := range p.Request.Headers {
			h[kv.Name] = append(h[kv.Name], kv.Value.Value)
		}
		b.mu.Lock()
		b.requests = append(b.requests, NetRequest{Context: p.Context, Method: p.Request.Method,
			URL: p.Request.URL, Headers: h, Time: time.UnixMilli(p.Timestamp)})
		b.mu.Unlock()
	}
}

// Logs returns every console entry and JavaScript error seen so far, for all tabs.
func (b *Browser) Logs() []LogEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]LogEntry(nil), b.logs...)
}

// Requests returns every request the browser announced so far, for all tabs.
func (b *Browser) Requests() []NetRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]NetRequest(nil), b.requests...)
}

// DownloadDir is where this browser saves downloads.
func (b *Browser) DownloadDir() string { return b.downloads }

// Call sends a raw BiDi command, for anything the helpers below do not cover.
func (b *Browser) Call(ctx context.Context, method string, params any, out any) error {
	if b.conn == nil {
		return ErrClosed
	}
	return b.conn.call(ctx, method, params, out)
}

// NewUserContext creates a separate storage (cookies, local storage, cache): one per person in
// a scenario.
func (b *Browser) NewUserContext(ctx context.Context) (string, error) {
	var r struct {
		UserContext string `json:"userContext"`
	}
	if err := b.Call(ctx, "browser.createUserContext", nil, &r); err != nil {
		return "", err
	}
	return r.UserContext, nil
}

// RemoveUserContext closes its tabs and drops its storage.
func (b *Browser) RemoveUserContext(ctx context.Context, id string) error {
	return b.Call(ctx, "browser.removeUserContext", map[string]any{"userContext": id}, nil)
}

// NewTab opens a tab in a user context ("" or "default" for the default one).
func (b *Browser) NewTab(ctx context.Context, userContext string) (*Tab, error) {
	p := map[string]any{"type": "tab", "background": false}
	if userContext != "" {
		p["userContext"] = userContext
	}
	var r struct {
		Context string `json:"context"`
	}
	if err := b.Call(ctx, "browsingContext.create", p, &r); err != nil {
		return nil, err
	}
	return &Tab{b: b, ID: r.Context, UserContext: userContext}, nil
}

// Close ends the session and kills Firefox's whole process group; safe to call many times and
// on a half-started Browser.
func (b *Browser) Close() {
	b.closeOnce.Do(func() {
		if b.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = b.conn.call(ctx, "browser.close", nil, nil)
			cancel()
			b.conn.close()
		}
		if b.cmd != nil && b.cmd.Process != nil {
			// The content processes are children in the same group: kill them all.
			pgid := b.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-b.waitErr:
			case <-time.After(10 * time.Second):
			}
			// Content processes die on their own schedule once signalled; wait until the
			// group is empty so a caller can rely on nothing being left.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				if syscall.Kill(-pgid, 0) != nil {
					break
				}
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				time.Sleep(50 * time.Millisecond)
			}
		}
		if b.ownDir {
			_ = os.RemoveAll(b.profile)
		}
	})
}
