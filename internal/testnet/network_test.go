package testnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/netns"
)

var shared Shared

func TestMain(m *testing.M) {
	netns.Enter()
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

func TestCheckOfflineMatchesInterfaces(t *testing.T) {
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	onlyLo := true
	for _, ifc := range ifaces {
		if ifc.Name != "lo" {
			onlyLo = false
		}
	}
	err = CheckOffline()
	if onlyLo && err != nil {
		t.Errorf("only lo exists, CheckOffline = %v", err)
	}
	if !onlyLo && !errors.Is(err, ErrNotOffline) {
		t.Errorf("other interfaces exist, CheckOffline = %v, want ErrNotOffline", err)
	}
}

func TestStartRefusesWhenOnline(t *testing.T) {
	if CheckOffline() == nil {
		// Inside the namespace only lo exists: show Start another interface.
		saved := interfaces
		t.Cleanup(func() { interfaces = saved })
		interfaces = func() ([]net.Interface, error) {
			ifs, err := saved()
			return append(ifs, net.Interface{Index: 99, Name: "eth0", Flags: net.FlagUp}), err
		}
		if err := CheckOffline(); !errors.Is(err, ErrNotOffline) || !strings.Contains(err.Error(), "eth0") {
			t.Fatalf("CheckOffline with eth0 = %v, want ErrNotOffline naming eth0", err)
		}
	}
	dir := t.TempDir()
	_, err := Start(t.Context(), dir)
	if !errors.Is(err, ErrNotOffline) {
		t.Fatalf("Start = %v, want ErrNotOffline", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Start must refuse before creating keys or starting tor; dir holds %d entries", len(entries))
	}
}

func TestCountRouters(t *testing.T) {
	c := []byte("network-status-version 3 microdesc\nr a b c\nm x\nr d e f\nrr no\n r no\nr g\n")
	if got := countRouters(c); got != 3 {
		t.Errorf("countRouters = %d, want 3", got)
	}
	if got := countRouters(nil); got != 0 {
		t.Errorf("countRouters(nil) = %d, want 0", got)
	}
}

func TestNetwork(t *testing.T) {
	n := shared.Get(t)

	lines := n.TorrcLines()
	if !slices.Contains(lines, "TestingTorNetwork 1") {
		t.Errorf("TorrcLines lacks TestingTorNetwork 1: %q", lines)
	}
	var auths int
	for _, l := range lines {
		if strings.HasPrefix(l, "DirAuthority ") {
			auths++
			if !strings.Contains(l, " 127.0.0.1:") {
				t.Errorf("authority not on loopback: %q", l)
			}
		}
	}
	if auths != Authorities {
		t.Errorf("%d DirAuthority lines, want %d", auths, Authorities)
	}

	// The consensus the client uses lists all five authorities.
	b, err := os.ReadFile(filepath.Join(n.Dir(), "client", "cached-microdesc-consensus"))
	if err != nil {
		t.Fatal(err)
	}
	if got := countRouters(b); got != Authorities {
		t.Errorf("client consensus lists %d routers, want %d", got, Authorities)
	}

	// The SOCKS port answers a SOCKS5 greeting (no auth) with version 5.
	c, err := net.DialTimeout("tcp", n.SocksAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 2)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reply, []byte{5, 0}) {
		t.Errorf("SOCKS reply %x, want 0500", reply)
	}
}

func TestStartTorControlSocket(t *testing.T) {
	n := shared.Get(t)
	sock := filepath.Join(n.Dir(), "extra", "control.sock")
	p, err := n.StartTor("extra", []string{"SocksPort 0", "ControlSocket " + sock, "CookieAuthentication 1"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := p.WaitFile(ctx, sock); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("Close returned before tor exited")
	}
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		t.Error("control socket still answers after Close")
	}
}

func TestNickname(t *testing.T) {
	for in, want := range map[string]string{
		"auth0":                      "auth0",
		"attach-1795312867155261826": "1795312867155261826",
		"---":                        "node",
		"client":                     "client",
	} {
		if got := nickname(in); got != want {
			t.Errorf("nickname(%q) = %q, want %q", in, got, want)
		}
	}
}
