package onion_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"

	"github.com/sealdrop/sealdrop/onion"
)

// Managed mode, as `sealdrop serve` runs by default: its own tor, a persistent
// key, an HTTP server on a unix socket.
func ExampleStart() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	const sock = "/run/sealdrop/http.sock"
	l, err := net.Listen("unix", sock)
	if err != nil {
		return
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(l)

	svc, err := onion.Start(ctx, onion.Config{
		DataDir: "/var/lib/sealdrop/tor",
		KeyFile: "/var/lib/sealdrop/onion.key",
		Target:  "unix:" + sock,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer svc.Close()
	fmt.Println("http://" + svc.Address() + "/")

	select {
	case <-ctx.Done():
	case <-svc.Done(): // tor died: the address is unreachable, so stop
	}
	srv.Shutdown(context.Background())
}

// Attach mode: publish through the system tor's control socket.
func ExampleStart_attach() {
	svc, err := onion.Start(context.Background(), onion.Config{
		Control: "unix:/run/tor/control",
		KeyFile: "/var/lib/sealdrop/onion.key",
		Target:  "unix:/run/sealdrop/http.sock",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer svc.Close()
	fmt.Println(svc.Address())
}

// `sealdrop keygen FILE` and `sealdrop address FILE`.
func ExampleGenerateKey() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := dir + "/onion.key"
	if err := onion.GenerateKey(path); err != nil {
		fmt.Println(err)
		return
	}
	addr, err := onion.AddressFromKey(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(addr), addr[56:])
	// Output: 62 .onion
}
