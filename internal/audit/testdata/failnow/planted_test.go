package planted

// Each line marked "caught" calls FailNow off the test's goroutine; nothing else does.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/m/helper"
)

func mustPost(t *testing.T) { require.NoError(t, nil) }

func mustPostTwice(t *testing.T) { mustPost(t); mustPost(t) }

func worker(t *testing.T) { t.FailNow() } // caught: started as a goroutine

type fakeTor struct{ t *testing.T }

func (f *fakeTor) serve() { f.t.Fatal("x") } // caught: started as a goroutine

type client struct{}

func (c *client) get() error { return nil }

type server struct{ t *testing.T }

func (s *server) get() { require.Fail(s.t, "x") }

type handler struct{ t *testing.T }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	require.NotNil(h.t, r) // caught: a handler
}

func TestPlanted(t *testing.T) {
	var wg sync.WaitGroup
	go func() {
		require.NoError(t, errors.New("x")) // caught
	}()
	wg.Go(func() { t.Fatal("x") }) // caught
	go func() {
		mustPostTwice(t)      // caught: a helper that fails through another
		_ = helper.MustGet(t) // caught: a helper of another package of the module
		t.Skip("x")           // caught
	}()
	check := func() { require.True(t, false) }
	go func() { check() }() // caught: a closure that fails
	go worker(t)
	f := &fakeTor{t: t}
	go f.serve()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Fatalf("x") // caught: a handler
	}))
	defer srv.Close()
	time.AfterFunc(time.Second, func() { t.FailNow() }) // caught
	s := &server{t: t}
	go func() { s.get() }() // caught: a method that fails, by the variable's type
	wg.Wait()
}

func TestFine(t *testing.T) {
	errs := make(chan error, 1)
	go func() {
		assert.NoError(t, nil)
		t.Error("reported, not lost")
		_ = helper.Get()
		c := &client{}
		errs <- c.get() // another type's get fails; this one does not
	}()
	require.NoError(t, <-errs) // on the test's goroutine
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.Run("sub", func(t *testing.T) { require.True(t, true) }) // the subtest's own goroutine
	}()
	<-done
	synctest.Test(t, func(t *testing.T) { require.True(t, true) }) // the bubble's own t
	mustPostTwice(t)
}
