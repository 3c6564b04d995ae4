package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The keep-alive baseline stores once, reads once, and keeps its connection: a pair over one
// client dials once, however many pairs it makes, and a body is gone after its read.
func TestKeepAliveBaseline(t *testing.T) {
	srv := httptest.NewServer(&keepAliveServer{max: 1 << 20, stored: map[string][]byte{}})
	defer srv.Close()
	var dials atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	payload := make([]byte, 1500)
	_, _ = rand.Read(payload)
	for range 20 {
		require.NoError(t, keepAlivePair(t.Context(), hc, srv.URL, payload, 0))
	}
	assert.Equal(t, int64(1), dials.Load(), "20 pairs on one kept-alive connection")

	res, err := hc.Post(srv.URL+"/k", "application/octet-stream", bytes.NewReader(payload))
	require.NoError(t, err)
	id, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	for i, want := range []int{http.StatusOK, http.StatusNotFound} {
		res, err := hc.Get(srv.URL + "/k/" + string(id))
		require.NoError(t, err)
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, want, res.StatusCode, "read %d", i+1)
		if want == http.StatusOK {
			assert.Equal(t, payload, got, "the body as stored")
		}
	}
	// A pair against a server that does not keep its promise fails.
	assert.Error(t, keepAlivePair(t.Context(), hc, srv.URL+"/nothing", payload, 0))
}
