//go:build !unix

package main

import (
	"errors"
	"net"
	"os"
)

func listenUnix(string, os.FileMode) (net.Listener, error) {
	return nil, errors.New("unix sockets need a unix system")
}
