//go:build unix

package main

import (
	"net"
	"os"
	"syscall"
)

// listenUnix creates the socket with mode from the start: the umask is set around the bind
// so the socket never exists with wider permissions, then chmod makes it exact.
func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	old := syscall.Umask(0o777 &^ int(mode))
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
