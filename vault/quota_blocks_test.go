package vault_test

// Attacks on the vault's accounting: whole blocks charged to quotas, a stalled upload holding one
// block, an upload that finds the vault full losing nothing.

import (
	"bytes"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/vault"
)

// "A flood of one kind can never take memory another kind needs": every entry takes whole
// blocks, so the quotas are charged whole blocks. 1-byte notes (a block each) used to be
// charged a byte each and took every block, the other kinds' shares included.
func TestQuotasChargeWholeBlocks(t *testing.T) {
	const budget = 256 << 10 // 256 blocks of 1 KiB
	sh := vault.DefaultShares(budget)
	v, _ := smallVault(t, vault.Config{Budget: budget, BlockSize: 1024, KindQuota: map[vault.Kind]int64{
		vault.KindNote: sh.Note, vault.KindSubmission: sh.Submission, vault.KindChatFrame: sh.ChatFrame,
	}})
	s := newSecrets(t, false, false)
	notes := 0
	for range 1000 {
		if _, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 1, TTL: time.Hour, Caps: s.caps}, bytes.NewReader([]byte{7})); err != nil {
			require.ErrorIs(t, err, vault.ErrFull)
			break
		}
		notes++
	}
	t.Logf("1-byte notes stored: %d; blocks used: %d of %d; notes' share: %d blocks", notes, v.Stats().Used/1024, budget/1024, sh.Note/1024)
	// A drop submission of one block must still fit: its share is untouched by notes.
	_, _, err := v.Put(vault.CreateRequest{Kind: vault.KindSubmission, Owner: "drop", Length: 1000, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(make([]byte, 1000)))
	require.NoError(t, err, "notes took the submissions' share: %d one-byte notes hold %d blocks, the notes' share is %d blocks", notes, notes, sh.Note/1024)
}

// stallReader never delivers a byte until released.
type stallReader struct{ release chan struct{} }

func (b stallReader) Read(p []byte) (int, error) { <-b.release; return 0, io.ErrUnexpectedEOF }

// An append whose body does not come (held open up to the server's read timeout) holds one
// block until its first bytes arrive, not a grain: N of them hold N blocks.
// In a synctest bubble: synctest.Wait returns once every append is blocked reading its body,
// so the count is taken at exactly that moment, not after a guessed sleep.
func TestStalledAppendHoldsOneBlock(t *testing.T) {
	synctest.Test(t, stalledAppendHoldsOneBlock)
}

func stalledAppendHoldsOneBlock(t *testing.T) {
	v, _ := smallVault(t, vault.Config{Budget: 1 << 20})
	s := newSecrets(t, false, false)
	const n = 8
	release := make(chan struct{})
	done := make(chan struct{})
	for range n {
		id := create(t, v, s, 64<<10, time.Hour)
		go func() {
			defer func() { done <- struct{}{} }()
			_, _ = v.Append(vault.KindNote, id, s.manage, 0, 64<<10, stallReader{release})
		}()
	}
	synctest.Wait() // every append is waiting for its first byte
	used := v.Stats().Used
	close(release)
	for range n {
		<-done
	}
	require.EqualValues(t, n*1024, used, "%d appends that sent no byte hold one 1 KiB block each", n)
}

// Memory is taken as bytes arrive, so an admitted upload can find the vault full before its end
// (another create took the room first; SECURITY.md names the trade). Nothing is lost: the
// append stops with ErrFull, keeps what it received, and resumes once there is room.
func TestUploadThatFindsTheVaultFullLosesNothing(t *testing.T) {
	v, _ := smallVault(t, vault.Config{Budget: 1 << 20})
	s := newSecrets(t, false, false)
	victim := create(t, v, s, 800<<10, time.Hour)
	got, err := v.Append(vault.KindNote, victim, s.manage, 0, 700<<10, bytes.NewReader(make([]byte, 700<<10)))
	require.NoError(t, err)
	// Another create, admitted after the victim, takes what is left.
	other := newSecrets(t, false, false)
	blocker, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 300 << 10, TTL: time.Hour, Caps: other.caps}, bytes.NewReader(make([]byte, 300<<10)))
	require.NoError(t, err)
	got2, err := v.Append(vault.KindNote, victim, s.manage, got, 100<<10, bytes.NewReader(make([]byte, 100<<10)))
	require.ErrorIs(t, err, vault.ErrFull)
	require.GreaterOrEqual(t, got2, got, "what arrived is kept")
	require.NoError(t, v.Revoke(vault.KindNote, blocker, other.manage))
	got3, err := v.Append(vault.KindNote, victim, s.manage, got2, 800<<10-got2, bytes.NewReader(make([]byte, 800<<10-got2)))
	require.NoError(t, err)
	require.EqualValues(t, 800<<10, got3)
	_, err = v.Commit(vault.KindNote, victim, s.manage)
	require.NoError(t, err)
}
