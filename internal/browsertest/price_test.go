package browsertest

// The price at Tor Browser's Safer level: a note and a chat created while the server asks for
// work are paid by the pages (the note with the token its limits gave it, the chat after the
// server's 402), and how fast a browser without a JIT hashes is measured, for the price table
// in the README (SECURITY.md compares it with native code).

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// priceLevel is what the server below asks whatever its fill: a 1 KiB note for 7 days then
// costs 8 + 2×7 − 12 = 10 bits, a chat link for a day 5 + 14 − 12 = 7 bits.
const priceLevel = 7

func startPricedApp(t *testing.T) int {
	t.Helper()
	p, err := price.New(price.Config{Floor: priceLevel})
	require.NoError(t, err)
	_, mark := serveApp(t, pool.Proxy, 32<<20, func(v *vault.Vault) web.Config {
		cs, err := chat.New(chat.Config{Vault: v, Price: p})
		require.NoError(t, err)
		t.Cleanup(cs.Close)
		return web.Config{Vault: v, Chat: cs, Price: p}
	}, nil)
	return mark
}

// postsTo returns the POST requests to path since mark.
func postsTo(mark int, path string) []ProxyRecord {
	var out []ProxyRecord
	for _, r := range pool.Proxy.RecordsSince(mark) {
		if r.Method == http.MethodPost && strings.HasSuffix(strings.SplitN(r.URL, "?", 2)[0], path) {
			out = append(out, r)
		}
	}
	return out
}

// paidCreates returns the JSON bodies of the create requests to path since mark.
func paidCreates(t *testing.T, mark int, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range postsTo(mark, path) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &m))
		out = append(out, m)
	}
	return out
}

func TestPricePaidAtSafer(t *testing.T) {
	RequireBrowser(t)
	mark := startPricedApp(t)
	sender := pool.Person(t, Safer)
	c := createNote(t, sender, noteInput{text: "paid for " + uniq(t)})
	// The note's create is its upload (the parameters and the payment in headers).
	creates := postsTo(mark, "/api/v1/notes/upload")
	require.Len(t, creates, 1, "the limits the page came with named the price: one create, no 402")
	require.Empty(t, postsTo(mark, "/api/v1/notes"), "no create of the three-request form")
	h := creates[0].Header
	tok, err := base64.RawURLEncoding.DecodeString(h.Get("Sealdrop-Price-Token"))
	require.NoError(t, err)
	nonce, err := base64.RawURLEncoding.DecodeString(h.Get("Sealdrop-Price-Nonce"))
	require.NoError(t, err)
	m, err := base64.RawURLEncoding.DecodeString(h.Get("Sealdrop-Manage"))
	require.NoError(t, err)
	length, err := strconv.ParseInt(h.Get("Sealdrop-Length"), 10, 64)
	require.NoError(t, err)
	secs, err := strconv.ParseInt(h.Get("Sealdrop-Ttl"), 10, 64)
	require.NoError(t, err)
	ttl := time.Duration(secs) * time.Second
	bits := protocol.PriceBits(priceLevel, length, ttl)
	require.Positive(t, bits)
	assert.True(t, protocol.CheckPrice(tok, protocol.PriceRequest{Kind: protocol.PriceNote, Manage: sha256.Sum256(m), Length: length, TTL: ttl}, nonce, bits),
		"the page's payment meets the price")
	assert.NotEmpty(t, c.link)

	// A chat page has no limits: its create is refused with the price, then paid.
	mark = pool.Proxy.Mark()
	creator := pool.Person(t, Safer)
	ctx := ctxT(t, 3*pageTimeout)
	require.NoError(t, creator.Navigate(ctx, pool.Proxy.Origin()+"/chat"))
	waitAny(t, creator, pageTimeout, "start-button")
	require.NoError(t, creator.Click(ctx, "#start-button"))
	require.Equal(t, "chat-link", waitAny(t, creator, 2*pageTimeout, "chat-link", "error"), "start failed: %s", text(t, creator, "error"))
	chats := paidCreates(t, mark, "/api/v1/chats")
	require.Len(t, chats, 2, "unpaid, then paid")
	assert.Nil(t, chats[0]["price_nonce"])
	assert.NotNil(t, chats[1]["price_nonce"])

	// How fast this browser hashes at Safer: the page's own solver, on a price nobody can pay,
	// stopped after a few seconds.
	var rate struct{ Tried, Ms float64 }
	require.NoError(t, sender.EvalPage(ctxT(t, time.Minute), `(async () => {
		const { solvePrice } = await import('/static/js/price.js');
		const ac = new AbortController();
		let tried = 0;
		const t0 = performance.now();
		setTimeout(() => ac.abort(), 4000);
		try {
			await solvePrice(new Uint8Array(20), { kind: 1, manage: new Uint8Array(32), length: 1024, ttl: 3600 }, 48,
				{ signal: ac.signal, onProgress: (n) => { tried = n; } });
		} catch (e) { if (e.code !== 'aborted') throw e; }
		return { tried, ms: performance.now() - t0 };
	})()`, &rate))
	require.Positive(t, rate.Tried)
	safer := rate.Tried / rate.Ms * 1000
	t.Logf("MEASURE price hashing in Firefox ESR at Safer: %.0f hashes in %.0f ms = %.0f hashes/s", rate.Tried, rate.Ms, safer)

	// The same search in Go on one core of this machine, for 2 s: an attacker's native rate.
	tok0 := make([]byte, protocol.PriceTokenSize)
	msg := append(protocol.PriceMessage(tok0, protocol.PriceRequest{Kind: 1, Length: 1024, TTL: time.Hour}), make([]byte, 8)...)
	var n uint64
	t0 := time.Now()
	for time.Since(t0) < 2*time.Second {
		for range 4096 {
			n++
			binary.BigEndian.PutUint64(msg[len(msg)-8:], n)
			_ = sha256.Sum256(msg)
		}
	}
	native := float64(n) / time.Since(t0).Seconds()
	t.Logf("MEASURE price hashing in Go, one core: %.0f hashes/s (%.0f times Safer)", native, native/safer)

	// The price table (README): bits and time at Safer for what a person sends, by fill.
	for _, f := range []struct {
		name string
		fill float64
	}{{"0%", 0}, {"50%", 0.5}, {"90%", 0.9}} {
		level := protocol.PriceLevel(f.fill)
		var cells []string
		for _, e := range []struct {
			name   string
			length int64
		}{{"1 KiB note", 1 << 10}, {"10 MiB file", 10 << 20}, {"60 MiB file", 60 << 20}} {
			bits := protocol.PriceBits(level, e.length, 7*24*time.Hour)
			cells = append(cells, fmt.Sprintf("%s for 7 days: %d bits, %.2f s at Safer", e.name, bits, float64(uint64(1)<<bits)/safer*float64(min(bits, 1))))
		}
		t.Logf("MEASURE price at %s fill (level %d): %s", f.name, level, strings.Join(cells, "; "))
	}
	// What holding 90% of a default server (256 MiB: notes 96, submissions 96, chat records 64
	// MiB) for an hour costs an attacker who fills each share with 1 MiB entries living one
	// hour, paying the price of each step of the fill.
	var hashes float64
	for _, share := range []int64{96, 96, 64} {
		for i := int64(0); i < share*9/10; i++ {
			bits := protocol.PriceBits(protocol.PriceLevel(float64(i)/float64(share)), 1<<20, time.Hour)
			if bits > 0 {
				hashes += float64(uint64(1) << bits)
			}
		}
	}
	t.Logf("MEASURE holding 90%% of a default server for an hour: %.0f hashes = %.4f s of one native core; %d MiB uploaded",
		hashes, hashes/native, (96+96+64)*9/10)
}
