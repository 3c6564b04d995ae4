package admin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

func TestPeerAllowed(t *testing.T) {
	const self = 998
	for _, tc := range []struct {
		name string
		cred *unix.Ucred
		ok   bool
	}{
		{"same uid", &unix.Ucred{Pid: 10, Uid: self, Gid: self}, true},
		{"root", &unix.Ucred{Pid: 10, Uid: 0, Gid: 0}, true},
		{"same uid, other group", &unix.Ucred{Uid: self, Gid: 4}, true},
		{"other uid", &unix.Ucred{Uid: 1000, Gid: 1000}, false},
		{"nobody", &unix.Ucred{Uid: 65534, Gid: 65534}, false},
		// Group membership is not enough: tor's group may reach the directory.
		{"other uid, same gid", &unix.Ucred{Uid: 1000, Gid: self}, false},
		{"root group only", &unix.Ucred{Uid: 1000, Gid: 0}, false},
		{"no credentials", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.ok, peerAllowed(tc.cred, self))
		})
	}
	// A server running as root admits root and nobody else.
	assert.True(t, peerAllowed(&unix.Ucred{Uid: 0}, 0))
	assert.False(t, peerAllowed(&unix.Ucred{Uid: 998}, 0))
}
