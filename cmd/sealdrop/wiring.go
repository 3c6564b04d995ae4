package main

import (
	"fmt"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// vaultConfig turns serve's flags into the vault's Config, with per-kind quotas.
func vaultConfig(f *serveFlags) (vault.Config, error) {
	budget := int64(f.budget)
	if budget == 0 {
		b, err := vault.DefaultBudget()
		if err != nil {
			return vault.Config{}, err
		}
		// The Safest workspace is locked too, outside the vault (web.Config.SafestMaxBody).
		budget = b - web.SafestWorkspace(int64(f.safestMaxBody))
		if f.safestMaxBody != 0 && budget < 1<<20 {
			return vault.Config{}, fmt.Errorf("%w: --safest-max-body %d leaves less than 1 MiB of the locked memory for the vault", vault.ErrMemlock, int64(f.safestMaxBody))
		}
	}
	// The kinds share the budget without overlap (vault.DefaultShares); one chat holds at most
	// chat.DefaultMaxBytes undelivered, one room room.DefaultMaxBytes (each relay takes the
	// vault's per-owner quota as its MaxBytes).
	sh := vault.DefaultShares(budget)
	maxEntry := int64(f.maxEntry)
	if maxEntry == 0 {
		maxEntry = min(vault.DefaultMaxEntry, sh.Note) // a note must fit in the notes' share
	}
	return vault.Config{
		Budget:   budget,
		MaxEntry: maxEntry,
		// Notes keep their own limit (web.Config.MaxTTL); drop submissions may live longer.
		MaxTTL: max(f.maxTTL, f.dropTTL),
		KindQuota: map[vault.Kind]int64{
			vault.KindNote:       sh.Note,
			vault.KindChatFrame:  sh.ChatFrame,
			vault.KindSubmission: sh.Submission,
			vault.KindRoomFrame:  sh.RoomFrame,
		},
		OwnerQuota: map[vault.Kind]int64{
			vault.KindChatFrame:  chat.DefaultMaxBytes,
			vault.KindRoomFrame:  room.DefaultMaxBytes,
			vault.KindSubmission: sh.PerOwner,
		},
	}, nil
}

// chatConfig sizes the chat relay: its lifetimes never exceed the vault's longest TTL.
func chatConfig(v *vault.Vault) (chat.Config, error) {
	maxTTL := v.MaxTTL()
	if maxTTL <= 0 {
		return chat.Config{}, fmt.Errorf("vault has no TTL")
	}
	return chat.Config{
		Vault:      v,
		MaxTTL:     min(chat.DefaultMaxTTL, maxTTL),
		DefaultTTL: min(chat.DefaultTTL, maxTTL),
		SessionMax: min(chat.DefaultSessionMax, maxTTL),
		Idle:       min(chat.DefaultIdle, maxTTL),
	}, nil
}

// roomConfig sizes the group room relay: a room lives at most a day, never past the vault's
// longest TTL.
func roomConfig(v *vault.Vault) (room.Config, error) {
	maxTTL := min(room.DefaultMaxTTL, v.MaxTTL())
	if maxTTL < room.MinTTL {
		return room.Config{}, fmt.Errorf("vault's longest TTL is under a room's shortest")
	}
	return room.Config{Vault: v, MaxTTL: maxTTL, DefaultTTL: maxTTL, Idle: min(room.DefaultIdle, maxTTL)}, nil
}
