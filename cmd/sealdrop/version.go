package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

const versionUsage = `usage: sealdrop version [--tor PATH]   (or: sealdrop --version)

Prints what an advisory or "sealdrop verify-static" needs to know about this binary: the
module version, the git revision it was built from and whether that tree had uncommitted
changes, the Go version, and the version of the tor that serve would start (when tor is found).
The static files' hashes built into the binary are those of the README at that revision.

Flags:
`

// readBuildInfo is debug.ReadBuildInfo; a variable so that tests can show other builds.
var readBuildInfo = debug.ReadBuildInfo

// torVersionTimeout bounds `tor --version`, which prints and exits at once.
const torVersionTimeout = 10 * time.Second

func version(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", versionUsage, stderr)
	torPath := fs.String("tor", "", "the tor binary to report (`PATH`); default: \"tor\" from $PATH, as serve uses")
	if done, err := parse(fs, args); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version: unexpected argument %q", fs.Arg(0))
	}
	for _, l := range buildLines() {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintln(stdout, torLine(ctx, *torPath))
	return nil
}

// buildLines describes the binary from its build information.
func buildLines() []string {
	bi, ok := readBuildInfo()
	if !ok {
		return []string{"sealdrop (no build information)", "go " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	lines := []string{"sealdrop " + v}
	if rev := settings["vcs.revision"]; rev != "" {
		r := "revision " + rev
		if t := settings["vcs.time"]; t != "" {
			r += " (committed " + t + ")"
		}
		lines = append(lines, r)
		switch settings["vcs.modified"] {
		case "true":
			lines = append(lines, "modified yes: built from a tree with uncommitted changes")
		case "false":
			lines = append(lines, "modified no")
		}
	} else {
		lines = append(lines, "revision unknown (built without VCS information: outside a git checkout, or with -buildvcs=false)")
	}
	gv, goos, goarch := bi.GoVersion, settings["GOOS"], settings["GOARCH"]
	if gv == "" {
		gv = runtime.Version()
	}
	if goos == "" || goarch == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	goLine := "go " + gv + " " + goos + "/" + goarch
	return append(lines, goLine)
}

// torLine runs `tor --version` (it prints one line and exits; it touches no network).
func torLine(ctx context.Context, path string) string {
	if path == "" {
		path = "tor"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "tor not found (" + path + "; apt-get install tor)"
	}
	ctx, cancel := context.WithTimeout(ctx, torVersionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "--version").Output()
	if err != nil {
		return fmt.Sprintf("tor at %s did not report its version: %v", p, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// "Tor version 0.4.9.11."
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Tor version "); ok && len(strings.Fields(v)) > 0 {
			return "tor " + strings.TrimSuffix(strings.Fields(v)[0], ".") + " (" + p + ")"
		}
	}
	return fmt.Sprintf("tor at %s printed no version line", p)
}
