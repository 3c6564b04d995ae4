package chat_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/vault"
)

// The admin socket's wipe ends every chat: nothing of any chat stays in the vault, both
// sides see the end, and a new chat can start afterwards.
func TestEndAllWipesEveryChat(t *testing.T) {
	e := newEnv(t, 4<<20, chat.Config{})
	var sessions []*chat.Session
	for range 3 {
		_, a, b, _ := e.started(t)
		send(t, a, rnd(t, 1000))
		sessions = append(sessions, a, b)
	}
	require.Equal(t, 3, e.v.Stats().Entries[vault.KindChatFrame])

	e.s.EndAll()
	e.v.Settle()
	require.Zero(t, e.v.Stats().Entries[vault.KindChatFrame])
	require.Zero(t, e.v.Stats().Used)
	for _, s := range sessions {
		require.Equal(t, chat.ReasonRevoked, s.State().Ended, "a side was not told the chat ended")
	}
	_, _, _, _ = e.started(t) // the relay still serves new chats
}
