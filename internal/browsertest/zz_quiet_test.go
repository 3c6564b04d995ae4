package browsertest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestZZNoRequestLeftTheOnion runs last (file order) and checks everything the shared browsers
// asked for during the whole run: a call-home feature left on would show up here even when it
// fires between other tests.
func TestZZNoRequestLeftTheOnion(t *testing.T) {
	RequireBrowser(t)
	recs := pool.Proxy.Records()
	if len(recs) == 0 {
		t.Skip("no browser test ran in this binary")
	}
	assert.Empty(t, Foreign(recs, pool.Proxy.Host()), "requests for other hosts than the onion")
}
