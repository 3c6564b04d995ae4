package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memlocktest"
)

// BenchmarkPair1K measures one small note's create, append, commit, open and confirm over
// loopback HTTP (sealdrop bench compares the same sequence with a null server).
func BenchmarkPair1K(b *testing.B) {
	e := newEnv(b, withBudget(memlocktest.Budget(b, 64<<20, 1<<20)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := newNoteSecrets(1200, false)
			r := e.postJSON("/api/v1/notes", n.createReq(1200, nil))
			require.Equal(b, http.StatusCreated, r.status)
			n.id = r.json(e.t)["id"].(string)
			require.Equal(b, http.StatusOK, e.appendData(n, 0, n.body).status)
			require.Equal(b, http.StatusOK, e.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": b64(n.manage[:])}).status)
			c := rand32()
			require.Equal(b, http.StatusOK, e.open(n, c, 0, nil).status)
			require.Equal(b, http.StatusNoContent, e.confirm(n, c).status)
		}
	})
}
