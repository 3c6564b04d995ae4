package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/sealdrop/sealdrop/static"
)

const verifyStaticUsage = `usage: sealdrop verify-static URL [--socks 127.0.0.1:9050]

Fetches every static file (the pages' JavaScript and CSS) from the server at URL, over Tor with
--socks (directly only for a loopback URL), and compares each with the SHA-256 of the copy built
into this binary. A server that was tampered with while running could send other script; this
shows it. Exit status 1 on any mismatch or missing file.

Flags:
`

func verifyStatic(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("verify-static", verifyStaticUsage, stderr)
	socks := fset.String("socks", "", "Tor's SOCKS `ADDR`, e.g. 127.0.0.1:9050")
	// The URL may come before or after the flags.
	var base string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		base, args = args[0], args[1:]
	}
	if done, err := parse(fset, args); done || err != nil {
		return err
	}
	if base == "" && fset.NArg() == 1 {
		base = fset.Arg(0)
	} else if fset.NArg() > 0 || base == "" {
		fmt.Fprint(stderr, verifyStaticUsage)
		return errors.New("verify-static: give exactly one URL")
	}
	origin, err := originOf(base)
	if err != nil {
		return fmt.Errorf("verify-static: %w", err)
	}
	hc, err := httpClientFor(origin, *socks)
	if err != nil {
		return fmt.Errorf("verify-static: %w", err)
	}
	var names []string
	err = fs.WalkDir(static.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (path.Ext(p) == ".js" || path.Ext(p) == ".css") {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("verify-static: %w", err)
	}
	bad := 0
	for _, name := range names {
		want, _ := fs.ReadFile(static.FS, name)
		ws := sha256.Sum256(want)
		got, err := fetchStatic(ctx, hc, origin+"/static/"+name)
		switch {
		case err != nil:
			bad++
			fmt.Fprintf(stdout, "MISSING  %s: %v\n", name, err)
		case sha256.Sum256(got) != ws:
			bad++
			gs := sha256.Sum256(got)
			fmt.Fprintf(stdout, "MISMATCH %s: served %s, built in %s\n", name, hex.EncodeToString(gs[:]), hex.EncodeToString(ws[:]))
		default:
			fmt.Fprintf(stdout, "ok       %s %s\n", name, hex.EncodeToString(ws[:]))
		}
	}
	if bad > 0 {
		return fmt.Errorf("verify-static: %d of %d files differ from this binary's: do not trust this server's pages", bad, len(names))
	}
	fmt.Fprintf(stdout, "all %d static files match this binary\n", len(names))
	return nil
}

func fetchStatic(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", res.StatusCode)
	}
	return io.ReadAll(io.LimitReader(res.Body, 16<<20))
}
