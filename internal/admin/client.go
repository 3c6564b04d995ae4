package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"syscall"
)

// maxReply bounds what the client reads: a Status is well under 1 KiB.
const maxReply = 64 << 10

// GetStatus asks the server at the admin socket path for its Status.
func GetStatus(ctx context.Context, path string) (Status, error) {
	var st Status
	err := call(ctx, path, http.MethodGet, pathStatus, &st)
	return st, err
}

// Wipe asks the server at the admin socket path to wipe every entry and, if exit, then to shut
// down. It returns once the wipe is done.
func Wipe(ctx context.Context, path string, exit bool) error {
	target := pathWipe
	if exit {
		target += "?exit=1"
	}
	var r wipeReply
	if err := call(ctx, path, http.MethodPost, target, &r); err != nil {
		return err
	}
	if !r.Wiped || r.Exiting != exit {
		return fmt.Errorf("%w: wipe not confirmed", ErrProtocol)
	}
	return nil
}

func call(ctx context.Context, path, method, target string, out any) error {
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+target, nil)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		switch {
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			return fmt.Errorf("%w (%s)", ErrPermission, path)
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("%w: %s", ErrNotRunning, path)
		}
		return fmt.Errorf("admin: %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("admin: reading the reply: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusForbidden:
		return ErrPermission
	default:
		var e errorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%w: %s", ErrProtocol, e.Error)
		}
		return fmt.Errorf("%w: HTTP %d", ErrProtocol, resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return nil
}
