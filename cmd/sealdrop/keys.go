package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sealdrop/sealdrop/onion"
)

const keygenUsage = `usage: sealdrop keygen FILE

Creates a new onion service key in FILE (a 32-byte ed25519 seed, mode 0600) and prints its
address. It never overwrites an existing file: losing a key loses its address. "sealdrop serve"
creates the key on first start anyway; keygen lets you learn and publish the address first.
Keep a backup of FILE somewhere safe and offline: whoever holds it can impersonate the service.

Flags:
`

func keygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("keygen", keygenUsage, stderr)
	if done, err := parse(fset, args); done || err != nil {
		return err
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return fmt.Errorf("keygen: want exactly one FILE")
	}
	path := fset.Arg(0)
	if err := onion.GenerateKey(path); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	addr, err := onion.AddressFromKey(path)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintf(stdout, "http://%s/\n", addr)
	return nil
}

const addressUsage = `usage: sealdrop address FILE

Prints the onion address (http://<address>.onion/) of the key in FILE, as "sealdrop serve
--key-file FILE" will publish it. The file must be a 32-byte seed with mode 0600.

Flags:
`

func address(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("address", addressUsage, stderr)
	if done, err := parse(fset, args); done || err != nil {
		return err
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return fmt.Errorf("address: want exactly one FILE")
	}
	addr, err := onion.AddressFromKey(fset.Arg(0))
	if err != nil {
		return fmt.Errorf("address: %w", err)
	}
	fmt.Fprintf(stdout, "http://%s/\n", addr)
	return nil
}
