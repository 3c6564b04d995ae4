package main

import (
	"fmt"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/vault"
)

// chatShare is the part of the vault that undelivered chat records may fill, so that busy
// chats can never starve notes (and later drop submissions) of locked memory.
const chatShare = 4

// vaultConfig turns serve's flags into the vault's Config, with per-kind quotas.
func vaultConfig(f *serveFlags) (vault.Config, error) {
	budget := int64(f.budget)
	if budget == 0 {
		b, err := vault.DefaultBudget()
		if err != nil {
			return vault.Config{}, err
		}
		budget = b
	}
	dropKind, perDrop := drop.VaultQuotas(budget)
	return vault.Config{
		Budget:   budget,
		MaxEntry: int64(f.maxEntry),
		// Notes keep their own limit (web.Config.MaxTTL); drop submissions may live longer.
		MaxTTL: max(f.maxTTL, f.dropTTL),
		KindQuota: map[vault.Kind]int64{
			vault.KindChatFrame:  budget / chatShare,
			vault.KindSubmission: dropKind,
		},
		OwnerQuota: map[vault.Kind]int64{
			vault.KindChatFrame:  chat.DefaultMaxBytes,
			vault.KindSubmission: perDrop,
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
