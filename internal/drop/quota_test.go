package drop_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// With the default 256 MiB budget one drop holds two 10 MiB submissions (issue #8: a sixteenth
// could not), and the per-drop quota stays well under the kind quota.
func TestVaultQuotasHoldTwoLargeSubmissions(t *testing.T) {
	kind, perDrop := drop.VaultQuotas(256 << 20)
	pt, err := protocol.PlaintextLen("", []protocol.File{{Name: "document.pdf", Type: "application/pdf", Size: 10 << 20}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, perDrop, 2*protocol.SealedSubmissionLen(pt))
	require.LessOrEqual(t, 4*perDrop, kind, "four drops can fill the drops' share, one cannot")
}
