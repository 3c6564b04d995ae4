package drop_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// With the default 256 MiB budget one drop holds two 10 MiB submissions (issue #8: a sixteenth
// could not), and the per-drop quota stays well under the kind quota.
func TestVaultQuotasHoldTwoLargeSubmissions(t *testing.T) {
	sh := vault.DefaultShares(256 << 20)
	kind, perDrop := sh.Submission, sh.PerOwner
	pt, err := protocol.PlaintextLen("", []protocol.File{{Name: "document.pdf", Type: "application/pdf", Size: 10 << 20}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, perDrop, 2*protocol.SealedSubmissionLen(pt))
	require.LessOrEqual(t, 3*perDrop, kind, "three drops can fill the drops' share, one cannot")
	require.LessOrEqual(t, sh.Note+sh.Submission+sh.ChatFrame, int64(256<<20), "the shares do not overlap")
}
