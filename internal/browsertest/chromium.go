package browsertest

// Chromium through chromedp: a quick SECOND engine, NOT Tor-like.
//
// Tor Browser is Firefox. Chromium differs in every way that matters for sources: no security
// levels, no NoScript, no first-party isolation, no resistFingerprinting, and it does not treat
// an http .onion origin as a secure context (so without --unsafely-treat-insecure-origin-as-
// secure the pages get no crypto.subtle at all). A pass here only says the pages use no
// Firefox-only behaviour; a failure here is worth a look but never outranks Firefox ESR.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sealdrop/sealdrop/internal/netns"
)

// DefaultChromium is the real binary behind Debian's /usr/bin/chromium. The wrapper script is
// skipped on purpose: it sources /etc/chromium.d, which exports Google API keys (they switch on
// call-home features) and adds --enable-remote-extensions and --load-extension.
const DefaultChromium = "/usr/lib/chromium/chromium"

// DebianChromiumWrapper is the launcher script, used only when the real binary is elsewhere.
const DebianChromiumWrapper = "/usr/bin/chromium"

// ErrNoChromium means no Chromium binary was found.
var ErrNoChromium = errors.New("browsertest: chromium not found")

// ChromiumLaunchTimeout bounds one Chromium start.
var ChromiumLaunchTimeout = 60 * time.Second

// ChromiumEnabled reports whether the Chromium checks run: they do unless SEALDROP_CHROMIUM=0
// turns them off (Debian's chromium package is in the README's install line).
func ChromiumEnabled() bool { return os.Getenv("SEALDROP_CHROMIUM") != "0" }

// ChromiumPath finds the browser: $SEALDROP_CHROMIUM_BIN (a path, not a secret), then the real
// Debian binary, then the Debian wrapper, then chromium on PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("SEALDROP_CHROMIUM_BIN"); p != "" {
		return p, nil
	}
	for _, p := range []string{DefaultChromium, DebianChromiumWrapper} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", ErrNoChromium
}

// ChromiumPrecondition returns nil when Chromium may be started here, else the reason.
func ChromiumPrecondition() error {
	if err := OfflineCheck(); err != nil {
		return err
	}
	if _, err := ChromiumPath(); err != nil {
		return err
	}
	return nil
}

// RequireChromium skips the test when SEALDROP_CHROMIUM=0 (Chromium is a second engine, not a
// Tor-like one), then applies the same policy as RequireBrowser: fail when
// SEALDROP_REQUIRE_OFFLINE_TESTS=1 and Chromium may not start, skip otherwise; then it takes
// the suites' lock.
func RequireChromium(t testing.TB) {
	t.Helper()
	if !ChromiumEnabled() {
		t.Skip("skipping the Chromium checks: SEALDROP_CHROMIUM=0 (not Tor-like; Firefox ESR is the engine that matters)")
	}
	if err := ChromiumPrecondition(); err != nil {
		if RequireOffline() {
			t.Fatalf("SEALDROP_REQUIRE_OFFLINE_TESTS=1 but: %v (SEALDROP_CHROMIUM=0 turns the Chromium checks off)", err)
		}
		t.Skipf("skipping Chromium test: %v (set SEALDROP_REQUIRE_OFFLINE_TESTS=1 to make this a failure)", err)
	}
	netns.Lock(t)
}

// ChromiumOptions configure one Chromium.
type ChromiumOptions struct {
	// ProxyAddr is FakeOnionProxy.Addr(); every request, loopback included, goes through it.
	ProxyAddr string
	// SecureOrigins are passed to --unsafely-treat-insecure-origin-as-secure. Chromium does
	// not count http://*.onion as a secure context (Tor Browser does, through
	// dom.securecontext.allowlist_onions), so without this the pages have no crypto.subtle.
	SecureOrigins []string
	// Binary defaults to ChromiumPath().
	Binary string
	// TempRoot is where the browser's temporary directory is made ("" for os.TempDir()); a
	// test can pass t.TempDir() to find every process of this browser by its command line.
	TempRoot string
	// ExtraFlags are added to (or override) the harness's flags; a false bool removes one.
	ExtraFlags map[string]any
}

// ChromiumFlags returns the command-line flags the harness starts Chromium with (without
// --user-data-dir, which Launch adds). Exposed so that a test can assert the quiet set.
func ChromiumFlags(o ChromiumOptions) map[string]any {
	f := map[string]any{
		"headless":    true,
		"no-sandbox":  true, // as root the sandbox refuses to start; an ordinary user's namespace has no caps for it
		"disable-gpu": true,
		// QUIC would go around an HTTP proxy for origins that advertise it.
		"disable-quic":                           true,
		"no-first-run":                           true,
		"no-default-browser-check":               true,
		"disable-background-networking":          true,
		"disable-component-update":               true,
		"disable-sync":                           true,
		"disable-default-apps":                   true,
		"disable-extensions":                     true,
		"metrics-recording-only":                 true,
		"disable-breakpad":                       true,
		"disable-domain-reliability":             true,
		"disable-client-side-phishing-detection": true,
		"no-pings":                               true,
		"disable-dev-shm-usage":                  true,
		"hide-scrollbars":                        true,
		"mute-audio":                             true,
		"password-store":                         "basic",
		"window-size":                            "1280,1024",
		// NetworkTimeServiceQuerying asks clients2.google.com for the time (seen here); the others
		// fetch from Google on their own or would upgrade the onion's plain
		// http to https first (the proxy refuses CONNECT :443, but the detour costs time).
		"disable-features": "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication," +
			"CertificateTransparencyComponentUpdater,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable," +
			"InterestFeedContentSuggestions,PrivacySandboxSettings4,DialMediaRouteProvider,NetworkTimeServiceQuerying",
		// Pushes the component updater's first scheduled check a day out. It does NOT stop
		// the on-demand install of "Optimization Guide On DeviceModels Manifest" that Chromium
		// 156 asks update.googleapis.com for within seconds of start, whatever the flags (see
		// IsChromiumBackground).
		"component-updater": "initial-delay=86400",
	}
	if o.ProxyAddr != "" {
		f["proxy-server"] = "http://" + o.ProxyAddr
		// "<-loopback>" removes Chromium's implicit bypass of localhost: nothing goes direct.
		f["proxy-bypass-list"] = "<-loopback>"
	}
	if len(o.SecureOrigins) > 0 {
		f["unsafely-treat-insecure-origin-as-secure"] = strings.Join(o.SecureOrigins, ",")
	}
	for k, v := range o.ExtraFlags {
		f[k] = v
	}
	return f
}

// Chromium is one running Chromium. Close it (also on failure): it kills the whole process
// group and removes the profile.
type Chromium struct {
	dir         string // profile and downloads live here
	tmp         string // the browser's TMPDIR: short, as it holds a unix socket (108-byte limit)
	pid         int
	allocCancel context.CancelFunc
	ctx         context.Context // the first tab's chromedp context; owns the browser
	cancel      context.CancelFunc

	diag lineTail // chromedp's own messages and the browser's output, for failure messages

	closeOnce sync.Once
}

// diagWriter keeps the browser's output for failure messages; nothing is printed.
type diagWriter struct{ c *Chromium }

func (w diagWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.c.note("%s", line)
	}
	return len(p), nil
}

func (c *Chromium) note(format string, args ...any) { c.diag.add(fmt.Sprintf(format, args...)) }

// DiagTail returns the last lines of chromedp's messages and Chromium's output.
func (c *Chromium) DiagTail() string { return c.diag.last(60) }

// PID is the browser's main process, also its process group id.
func (c *Chromium) PID() int { return c.pid }

// Dir is the temporary directory holding the profile (--user-data-dir) and downloads.
func (c *Chromium) Dir() string { return c.dir }

// ProfileDir is the --user-data-dir.
func (c *Chromium) ProfileDir() string { return filepath.Join(c.dir, "profile") }

// LaunchChromium starts Chromium headless with the quiet flags. ctx bounds the start only; the
// browser lives until Close. When LaunchChromium fails, nothing is left running.
func LaunchChromium(ctx context.Context, o ChromiumOptions) (_ *Chromium, err error) {
	bin := o.Binary
	if bin == "" {
		if bin, err = ChromiumPath(); err != nil {
			return nil, err
		}
	}
	c := &Chromium{}
	if c.dir, err = os.MkdirTemp(o.TempRoot, "sealdrop-chromium-"); err != nil {
		return nil, fmt.Errorf("browsertest: chromium dir: %w", err)
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.tmp, err = os.MkdirTemp("", "sdcr-"); err != nil {
		return nil, fmt.Errorf("browsertest: chromium tmp: %w", err)
	}
	for _, d := range []string{c.ProfileDir(), filepath.Join(c.dir, "downloads")} {
		if err = os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("browsertest: chromium dir: %w", err)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		// Own profile directory: chromedp's leftover killer only covers directories it made,
		// so Close kills the process group and scans for the profile itself.
		chromedp.UserDataDir(c.ProfileDir()),
		// The browser gets none of the test process's environment (secrets stay out), and its
		// temporary files land in c.tmp, removed on Close.
		chromedp.NoInheritEnv,
		chromedp.Env("HOME="+c.dir, "TMPDIR="+c.tmp, "PATH=/usr/bin:/bin", "LANG=C.UTF-8"),
		chromedp.CombinedOutput(diagWriter{c}),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// Own process group, so Close can kill every child; Pdeathsig so a test binary
			// killed by -timeout or a panic takes the browser with it.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		}),
	}
	flags := ChromiumFlags(o)
	for _, k := range slices.Sorted(maps.Keys(flags)) {
		opts = append(opts, chromedp.Flag(k, flags[k]))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	c.allocCancel = allocCancel
	c.ctx, c.cancel = chromedp.NewContext(allocCtx, chromedp.WithBrowserOption(
		chromedp.WithBrowserLogf(c.note),
		chromedp.WithBrowserErrorf(func(f string, a ...any) { c.note("error: "+f, a...) }),
	))
	// The first Run binds the browser's life to its context, so it must be c.ctx itself (no
	// timeout); ctx bounds the wait from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(c.ctx) }()
	select {
	case err = <-started:
	case <-ctx.Done():
		c.cancel()
		<-started
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("browsertest: start chromium: %w; output: %s", err, c.DiagTail())
	}
	if p := chromedp.FromContext(c.ctx).Browser.Process(); p != nil {
		c.pid = p.Pid
	}
	return c, nil
}

// Close stops the browser and kills its whole process group and anything else still using
// its profile, then removes the directory; safe to call many times and on a half-started
// Chromium.
func (c *Chromium) Close() {
	c.closeOnce.Do(func() {
		if c.cancel != nil {
			// A bounded graceful close first (Browser.close), then chromedp's cancel, which
			// SIGKILLs the main process; the group and profile scan below get the children.
			ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
			_ = chromedp.Cancel(ctx)
			cancel()
			c.cancel()
		}
		if c.allocCancel != nil {
			c.allocCancel()
		}
		if c.pid > 0 {
			_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		}
		// Children may sit in another group (zygote forks) or fork while the parent dies:
		// repeat until neither the group nor the profile shows a process.
		for deadline, quiet := time.Now().Add(10*time.Second), 0; quiet < 3 && time.Now().Before(deadline); {
			n := 0
			if c.pid > 0 && syscall.Kill(-c.pid, 0) == nil {
				_ = syscall.Kill(-c.pid, syscall.SIGKILL)
				n++
			}
			if c.dir != "" {
				n += len(ProcessesUsing(c.dir, true))
			}
			if n == 0 {
				quiet++
			} else {
				quiet = 0
			}
			time.Sleep(30 * time.Millisecond)
		}
		if c.dir != "" {
			_ = os.RemoveAll(c.dir)
		}
		if c.tmp != "" {
			_ = os.RemoveAll(c.tmp)
		}
	})
}

// ProcessesUsing returns the pids of live processes whose command line mentions dir (every
// Chromium process carries --user-data-dir), killing them first when kill is set. Zombies are
// left out: they are dead and only wait for their parent.
func ProcessesUsing(dir string, kill bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	needle := []byte(dir)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, needle) {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				continue
			}
		}
		if kill {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		out = append(out, pid)
	}
	return out
}

// ChromiumTab is one tab in its own browser context (Chromium's incognito-like profile: its
// own cookies, storage and cache), one per person in a scenario.
type ChromiumTab struct {
	c         *Chromium
	ctx       context.Context
	cancel    context.CancelFunc
	downloads string

	mu       sync.Mutex
	logs     []LogEntry
	requests []NetRequest
}

// NewPerson opens a tab in a fresh browser context whose downloads land in their own
// directory without a dialog. Close it (or Close the browser) when done.
func (c *Chromium) NewPerson(ctx context.Context) (*ChromiumTab, error) {
	t := &ChromiumTab{c: c}
	dl, err := os.MkdirTemp(filepath.Join(c.dir, "downloads"), "person-")
	if err != nil {
		return nil, fmt.Errorf("browsertest: downloads: %w", err)
	}
	t.downloads = dl
	t.ctx, t.cancel = chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(t.onEvent))
	done := make(chan error, 1)
	go func() {
		if err := chromedp.Do(t.ctx); err != nil {
			done <- err
			return
		}
		_, err := chromedp.CallBrowser(t.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior:         browser.SetDownloadBehaviorBehaviorAllow,
			BrowserContextID: chromedp.FromContext(t.ctx).BrowserContextID,
			DownloadPath:     dl,
		})
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		t.cancel()
		<-done
		err = ctx.Err()
	}
	if err != nil {
		t.cancel()
		return nil, fmt.Errorf("browsertest: chromium tab: %w", err)
	}
	return t, nil
}

// Close closes the tab and disposes of its browser context.
func (t *ChromiumTab) Close() { t.cancel() }

// DownloadDir is where this person's downloads land.
func (t *ChromiumTab) DownloadDir() string { return t.downloads }

func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.UnserializableValue)
}

// onEvent runs in the tab's event loop: it must be quick and send no command.
func (t *ChromiumTab) onEvent(ev any) {
	now := time.Now()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		parts := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			parts = append(parts, remoteText(a))
		}
		level := "info"
		switch e.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert:
			level = "error"
		case runtime.ConsoleAPICalledTypeWarning:
			level = "warn"
		case runtime.ConsoleAPICalledTypeDebug:
			level = "debug"
		}
		t.addLog(LogEntry{Type: "console", Level: level, Method: string(e.Type), Text: strings.Join(parts, " "), Time: now})
	case *runtime.EventExceptionThrown:
		txt := ""
		if d := e.ExceptionDetails; d != nil {
			txt = d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				txt += " " + d.Exception.Description
			}
		}
		t.addLog(LogEntry{Type: "javascript", Level: "error", Text: txt, Time: now})
	case *log.EventEntryAdded:
		if e.Entry == nil {
			return
		}
		level := string(e.Entry.Level)
		if level == "warning" {
			level = "warn"
		}
		// Chromium reports CSP violations, failed loads and deprecations here, each with
		// its source ("security", "network", "violation", ...).
		txt := e.Entry.Text
		if e.Entry.URL != "" {
			txt += " (" + e.Entry.URL + ")"
		}
		t.addLog(LogEntry{Type: "log:" + string(e.Entry.Source), Level: level, Text: txt, Time: now})
	case *network.EventRequestWillBeSent:
		if e.Request == nil {
			return
		}
		h := map[string][]string{}
		for k, v := range e.Request.Headers {
			h[k] = append(h[k], fmt.Sprint(v))
		}
		t.mu.Lock()
		t.requests = append(t.requests, NetRequest{Method: e.Request.Method, URL: e.Request.URL + e.Request.URLFragment, Headers: h, Time: now})
		t.mu.Unlock()
	}
}

func (t *ChromiumTab) addLog(e LogEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.logs = append(t.logs, e)
}

// Logs returns the tab's console messages, exceptions and browser log entries so far.
func (t *ChromiumTab) Logs() []LogEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]LogEntry(nil), t.logs...)
}

// Errors returns the entries at level "error" and every uncaught exception.
func (t *ChromiumTab) Errors() []LogEntry { return errorEntries(t.Logs()) }

// CSPViolations returns the entries that mention the Content Security Policy.
func (t *ChromiumTab) CSPViolations() []LogEntry { return cspEntries(t.Logs()) }

// Requests returns the requests the tab announced (network.requestWillBeSent).
func (t *ChromiumTab) Requests() []NetRequest {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]NetRequest(nil), t.requests...)
}

// action runs one chromedp action on the tab, bounded by ctx. Actions need the tab's own
// chromedp context; ctx only cancels it.
func runOn[T any](ctx context.Context, t *ChromiumTab, a chromedp.Action[T]) (T, error) {
	actx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	v, err := chromedp.Run(actx, a)
	if err != nil && ctx.Err() != nil {
		return v, fmt.Errorf("browsertest: chromium: %w (%v)", ctx.Err(), err)
	}
	return v, err
}

// Navigate loads url and waits for the load event.
func (t *ChromiumTab) Navigate(ctx context.Context, url string) error {
	_, err := runOn(ctx, t, chromedp.Navigate(url))
	return err
}

// Reload reloads and waits for the load event.
func (t *ChromiumTab) Reload(ctx context.Context) error {
	_, err := runOn(ctx, t, chromedp.Reload())
	return err
}

// URL returns the document's address, fragment included.
func (t *ChromiumTab) URL(ctx context.Context) (string, error) {
	return runOn(ctx, t, chromedp.Location())
}

// CallFunction calls fn (JavaScript function source) in the page with JSON-encoded args and
// decodes its JSON value into out (nil to discard). Promises are awaited.
func (t *ChromiumTab) CallFunction(ctx context.Context, fn string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	aj, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("browsertest: args: %w", err)
	}
	expr := "(async (fn, args) => { const v = await fn(...JSON.parse(args)); return v === undefined ? 'null' : JSON.stringify(v); })((" +
		fn + "), " + jsString(string(aj)) + ")"
	s, err := runOn(ctx, t, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		var ee *chromedp.ExceptionError
		if errors.As(err, &ee) {
			return fmt.Errorf("%w: %v", ErrScript, err)
		}
		return err
	}
	return decodeInto(json.RawMessage(s), out)
}

// Eval evaluates an expression in the page and decodes its JSON value into out.
func (t *ChromiumTab) Eval(ctx context.Context, expr string, out any) error {
	return t.CallFunction(ctx, "() => ("+expr+")", out)
}

// Text returns the textContent of the first element matching selector.
func (t *ChromiumTab) Text(ctx context.Context, selector string) (string, error) {
	return textOf(ctx, t, selector)
}

// Visible reports whether the first element matching selector is rendered.
func (t *ChromiumTab) Visible(ctx context.Context, selector string) (bool, error) {
	return visibleIn(ctx, t, selector)
}

// WaitFor polls a JavaScript expression until it is truthy.
func (t *ChromiumTab) WaitFor(ctx context.Context, expr string, timeout time.Duration) error {
	return waitTruthy(ctx, t.Eval, expr, timeout)
}

// Click clicks the centre of the first visible element matching selector with real mouse
// input (a trusted event with user activation).
func (t *ChromiumTab) Click(ctx context.Context, selector string) error {
	if err := scrollIntoView(ctx, t, selector); err != nil {
		return err
	}
	_, err := runOn(ctx, t, chromedp.Click(chromedp.CSS(selector)))
	return err
}

// SetValue sets a form control's value and fires input and change events.
func (t *ChromiumTab) SetValue(ctx context.Context, selector, value string) error {
	return setValueIn(ctx, t, selector, value)
}

// SetFiles puts local files into an <input type=file>, as a person choosing them would.
func (t *ChromiumTab) SetFiles(ctx context.Context, selector string, paths []string) error {
	_, err := runOn(ctx, t, chromedp.SetUploadFiles(chromedp.CSS(selector), paths))
	return err
}

// Screenshot saves a PNG of the viewport.
func (t *ChromiumTab) Screenshot(ctx context.Context, path string) error {
	png, err := runOn(ctx, t, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	return nil
}

// Download clicks a download link and waits until name is complete in the person's download
// directory (no .crdownload left, size settled), then returns its path.
func (t *ChromiumTab) Download(ctx context.Context, selector, name string, timeout time.Duration) (string, error) {
	path := filepath.Join(t.downloads, name)
	if err := t.Click(ctx, selector); err != nil {
		return "", err
	}
	deadline := time.Now().Add(timeout)
	last := int64(-1)
	for {
		st, err := os.Stat(path)
		partial, _ := filepath.Glob(filepath.Join(t.downloads, "*.crdownload"))
		if err == nil && len(partial) == 0 {
			if st.Size() == last {
				return path, nil
			}
			last = st.Size()
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: download %s", ErrTimeout, name)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// IsChromiumBackground reports whether a proxy record is Chromium's own on-demand component
// install (update.googleapis.com, https first, then /service/update2/json over http), which
// Chromium 156 sends within seconds of start whatever the flags. It comes from the browser,
// not from any page; the proxy refuses it, and under loopback-only it could not leave anyway.
// Anything else for a foreign host still fails the checks.
func IsChromiumBackground(r ProxyRecord) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !strings.EqualFold(host, "update.googleapis.com") || !r.Refused {
		return false
	}
	if r.Method == "CONNECT" {
		return strings.HasSuffix(r.Host, ":443")
	}
	return r.Method == "POST" && strings.HasPrefix(r.URL, "http://update.googleapis.com/service/update2/json?")
}
