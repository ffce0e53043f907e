package session

import "errors"

// Sentinel errors besides [ErrNotFound], matched with errors.Is. Their text
// never holds a token or a hash.
var (
	// ErrRevoked: the session was revoked (signed out, or ended by a
	// password reset or an administrator).
	ErrRevoked = errors.New("session: revoked")

	// ErrExpired: the session reached its absolute timeout, or went unused
	// for the idle timeout or longer.
	ErrExpired = errors.New("session: expired")
)
