package vault_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sealdrop/sealdrop/vault"
)

// proofs stands in for the client: it makes the tokens and gives the vault only their hashes.
func proofs() (gate, manage []byte, caps vault.Caps) {
	gate, manage = make([]byte, 32), make([]byte, 32)
	rand.Read(gate)
	rand.Read(manage)
	return gate, manage, vault.Caps{Gate: sha256.Sum256(gate), Manage: sha256.Sum256(manage)}
}

func Example() {
	v, err := vault.New(vault.Config{Budget: 1 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	gate, _, caps := proofs()
	ciphertext := []byte("ciphertext bytes")
	id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: int64(len(ciphertext)), TTL: time.Hour, Caps: caps}, bytes.NewReader(ciphertext))
	if err != nil {
		fmt.Println(err)
		return
	}

	// The reader claims the entry with the hash of a fresh nonce and streams it out.
	nonce := make([]byte, 32)
	rand.Read(nonce)
	r, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: gate, Claim: sha256.Sum256(nonce)})
	if err != nil {
		fmt.Println(err)
		return
	}
	r.WriteTo(os.Stdout, 0)
	fmt.Println()
	r.Close()

	// Anyone else is answered gone from the moment of the claim.
	_, err = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: gate, Claim: sha256.Sum256([]byte("someone else"))})
	fmt.Println(errors.Is(err, vault.ErrGone))

	// Confirming with the nonce wipes it at once.
	fmt.Println(v.Confirm(vault.KindNote, id, gate, nonce))
	// Output:
	// ciphertext bytes
	// true
	// <nil>
}

func ExampleNew() {
	// Budget 0 derives the budget from RLIMIT_MEMLOCK; a too-low limit is an error that says how
	// to raise it, never a panic.
	v, err := vault.New(vault.Config{Budget: 4 << 20, MaxTTL: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	st := v.Stats()
	fmt.Println(st.Budget, st.Free, v.MaxEntry())
	// Output: 4194304 4194304 4194304
}

func ExampleVault_Append() {
	v, _ := vault.New(vault.Config{Budget: 1 << 20})
	defer v.Close()
	_, manage, caps := proofs()
	id, _, _ := v.Create(vault.CreateRequest{Kind: vault.KindNote, Length: 10, TTL: time.Hour, Caps: caps})

	got, err := v.Append(vault.KindNote, id, manage, 0, 4, bytes.NewReader([]byte("0123")))
	fmt.Println(got, err)
	// A retry of a chunk the server already has: resume from what it reports.
	got, err = v.Append(vault.KindNote, id, manage, 0, 4, bytes.NewReader([]byte("0123")))
	fmt.Println(got, errors.Is(err, vault.ErrOffset))
	got, err = v.Append(vault.KindNote, id, manage, got, 6, bytes.NewReader([]byte("456789")))
	fmt.Println(got, err)
	_, err = v.Commit(vault.KindNote, id, manage)
	fmt.Println(err)
	// Output:
	// 4 <nil>
	// 4 true
	// 10 <nil>
	// <nil>
}

func ExampleVault_Status() {
	v, _ := vault.New(vault.Config{Budget: 1 << 20})
	defer v.Close()
	_, manage, caps := proofs()
	id, _, _ := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 3, TTL: time.Hour, Caps: caps}, bytes.NewReader([]byte("abc")))
	st, _, _ := v.Status(vault.KindNote, id, manage)
	fmt.Println(st)
	fmt.Println(v.Revoke(vault.KindNote, id, manage))
	st, _, _ = v.Status(vault.KindNote, id, manage)
	fmt.Println(st)
	_, _, err := v.Status(vault.KindNote, id, []byte("wrong secret"))
	fmt.Println(err)
	// Output:
	// waiting
	// <nil>
	// gone
	// vault: gone
}

func ExampleOpenRequest_pin() {
	v, _ := vault.New(vault.Config{Budget: 1 << 20})
	defer v.Close()
	gate, _, caps := proofs()
	caps.PIN = true
	caps.Open = sha256.Sum256([]byte("open token from the right PIN"))
	caps.Destruct = sha256.Sum256([]byte("destruct token from the duress PIN"))
	id, _, _ := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 3, TTL: time.Hour, Caps: caps}, bytes.NewReader([]byte("abc")))

	claim := sha256.Sum256([]byte("a fresh nonce"))
	_, err := v.Open(vault.KindNote, id, vault.OpenRequest{Gate: gate, Open: []byte("typo"), Destruct: []byte("typo"), Claim: claim})
	fmt.Println(err, err.(*vault.PINError).Left)
	// The duress PIN answers exactly the same, and has wiped the content.
	_, err = v.Open(vault.KindNote, id, vault.OpenRequest{Gate: gate, Open: []byte("x"), Destruct: []byte("destruct token from the duress PIN"), Claim: claim})
	fmt.Println(err, err.(*vault.PINError).Left)
	// Output:
	// vault: wrong PIN 4
	// vault: wrong PIN 3
}

func ExampleParseID() {
	id, err := vault.ParseID("AAECAwQFBgcICQoLDA0ODw")
	fmt.Println(id[15], err)
	_, err = vault.ParseID("AAECAwQFBgcICQoLDA0ODx") // non-canonical trailing bits
	fmt.Println(err)
	// Output:
	// 15 <nil>
	// vault: gone
}
