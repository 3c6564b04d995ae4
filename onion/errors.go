package onion

import "errors"

// Sentinel errors. Returned errors wrap them with context that names the
// cause and the fix; test with errors.Is.
var (
	// ErrConfig means a Config field is invalid; the message names the field.
	ErrConfig = errors.New("onion: invalid config")
	// ErrTorNotFound means no tor binary was found.
	ErrTorNotFound = errors.New("onion: tor not found: install it with `apt-get install tor`, or set the tor path")
	// ErrKeyPermissions means the key file is readable or writable by group
	// or others.
	ErrKeyPermissions = errors.New("onion: key file permissions are too open")
	// ErrKeyExists means GenerateKey would overwrite a file.
	ErrKeyExists = errors.New("onion: key file already exists")
	// ErrBadKey means the key file is not a 32-byte ed25519 seed in a regular file.
	ErrBadKey = errors.New("onion: key file is not a 32-byte ed25519 seed")
	// ErrControlPermission means tor's control socket or cookie could not be
	// read by this user.
	ErrControlPermission = errors.New("onion: permission denied on tor's control socket or cookie")
	// ErrUnsafeTor means an attached tor runs in single-hop or non-anonymous
	// mode, which would reveal the server's location.
	ErrUnsafeTor = errors.New("onion: tor runs a non-anonymous (single-hop) onion service mode")
	// ErrTorRefused means tor answered a control command with an error.
	ErrTorRefused = errors.New("onion: tor refused the command")
	// ErrPublishTimeout means no descriptor upload was confirmed in
	// Config.PublishTimeout.
	ErrPublishTimeout = errors.New("onion: the onion service descriptor was not published in time")
	// ErrBootstrapStalled means tor's bootstrap made no progress for
	// Config.StallTimeout; the message names the phase and the usual causes.
	ErrBootstrapStalled = errors.New("onion: tor could not connect to the Tor network")
	// ErrTorExited means the tor process ended unexpectedly.
	ErrTorExited = errors.New("onion: tor exited")
)
