package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkInboxListHTTP: an inbox list over loopback HTTP (challenge, proof, list, JSON) with
// 10, 100 or 1,000 submissions waiting. A page holds at most 100, so 100 and 1,000 answer the
// same number of items: their times should match, whatever the number waiting.
func BenchmarkInboxListHTTP(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s := newDropSite(b, 64<<10)
			d, err := s.c.CreateDrop(false)
			require.NoError(b, err)
			for range n {
				_, err := s.c.Submit(ctx, d.DropLink, "x", nil, false)
				require.NoError(b, err)
			}
			ib, err := s.c.OpenInbox(d.InboxLink)
			require.NoError(b, err)
			defer ib.Close()
			for b.Loop() {
				if _, err := ib.List(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
