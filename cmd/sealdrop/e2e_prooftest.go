//go:build prooftest

// This file exists only in binaries built with -tags prooftest, which internal/e2e builds for
// its onion tests; release builds never contain it. It adds two serve flags:
//
//	--testing-torrc FILE   extra torrc lines for the managed tor (the private test network's
//	                       TestingTorNetwork and DirAuthority lines)
//	--testing-blobs        serve GET /testing-blob/N: N bytes from memory (N <= 64 MiB), with
//	                       the site's header set, as a same-size static baseline for timing
//	                       the open request through the onion

package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/sealdrop/sealdrop/internal/web"
)

var (
	e2eTorrcFile string
	e2eBlobs     bool
)

func init() {
	testFlags = append(testFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&e2eTorrcFile, "testing-torrc", "", "TEST BUILD ONLY: extra torrc lines for the managed tor, one per line")
		fs.BoolVar(&e2eBlobs, "testing-blobs", false, "TEST BUILD ONLY: serve GET /testing-blob/N (N bytes from memory)")
	})
	testTorrcLines = func() ([]string, error) {
		if e2eTorrcFile == "" {
			return nil, nil
		}
		f, err := os.Open(e2eTorrcFile)
		if err != nil {
			return nil, fmt.Errorf("--testing-torrc: %w", err)
		}
		defer f.Close()
		var lines []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return lines, sc.Err()
	}
	testHandlers = append(testHandlers, func(next http.Handler) http.Handler {
		if !e2eBlobs {
			return next // no route at all, and no 64 MiB for proofs that scan this process's memory
		}
		blob := make([]byte, 64<<20)
		for i := range blob {
			blob[i] = byte(i*7 + i>>9)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rest, ok := strings.CutPrefix(r.URL.Path, "/testing-blob/")
			if !ok || r.Method != http.MethodGet {
				next.ServeHTTP(w, r)
				return
			}
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > len(blob) {
				http.Error(w, errors.New("bad size").Error(), http.StatusBadRequest)
				return
			}
			web.SetHeaders(w.Header())
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(n))
			_, _ = w.Write(blob[:n])
		})
	})
}
