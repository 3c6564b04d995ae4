package admin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sealdrop/sealdrop/internal/admin"
)

// How cmd/sealdrop wires the server (serve) and the client (status, wipe).
func Example() {
	dir, _ := os.MkdirTemp("", "sealdrop-admin-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "admin.sock")

	// serve: next to the HTTP server.
	ctx := context.Background()
	exited := make(chan struct{})
	started := time.Now().Add(-75 * time.Minute)
	ln, err := admin.Listen(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, _ := admin.New(admin.Config{
		Status: func() admin.Status {
			// In cmd: admin.FromStats(v.Stats(), started, time.Now(), onionAddress)
			return admin.Status{Budget: 64 << 20, Used: 1 << 20, Free: 63 << 20, Notes: 2, Uptime: time.Since(started)}
		},
		Wipe: func() {},                // in cmd: v.Wipe
		Exit: func() { close(exited) }, // in cmd: cancel the serve context (normal shutdown, exit 0)
	})
	go srv.Serve(ln)
	defer srv.Close()

	// sealdrop status --admin-socket PATH
	st, err := admin.GetStatus(ctx, path)
	if err != nil {
		fmt.Println(err)
		return
	}
	st.WriteTo(os.Stdout)

	// sealdrop wipe --exit --admin-socket PATH
	if err := admin.Wipe(ctx, path, true); err != nil {
		fmt.Println(err)
		return
	}
	<-exited
	fmt.Println("wiped; shutting down")
	// Output:
	// onion address: (published by the system tor: see its HiddenServiceDir/hostname)
	// capacity:      64.0 MiB
	// used:          1.0 MiB (1.6%)
	// free:          63.0 MiB
	// entries:       2 notes, 0 chat frames, 0 room frames, 0 submissions
	// uptime:        1h 15m
	// wiped; shutting down
}
