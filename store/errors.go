package store

import "errors"

// Sentinel errors, matched with errors.Is. An adapter translates its
// backend's not-found (sql.ErrNoRows and the like) into the one its method
// names, and wraps any other failure with %w. package reset re-exports
// them under the same names.
var (
	// ErrUserNotFound: no user has this email or id.
	ErrUserNotFound = errors.New("reset: user not found")
	// ErrResetNotFound: no reset has this id (or token hash).
	ErrResetNotFound = errors.New("reset: password reset not found")
	// ErrInvalidToken: the token is malformed, unknown, already spent, or
	// ended by a newer reset.
	ErrInvalidToken = errors.New("reset: invalid token")
	// ErrTokenExpired: the token was valid but its TTL has run out.
	ErrTokenExpired = errors.New("reset: token expired")
	// ErrEmailTaken: another user already has this email.
	ErrEmailTaken = errors.New("reset: email already taken")
	// ErrPasswordChanged: the user's password hash is no longer the one
	// a ChangePassword was based on (another change won the race).
	ErrPasswordChanged = errors.New("reset: password changed meanwhile")
	// ErrNoUserCreator: the Store does not create users: the users are the
	// host's (a SQL store over a host's table returns it from CreateUser).
	ErrNoUserCreator = errors.New("reset: store cannot create users")
	// ErrReplayNotClaimed: SaveReplay found no record of the key that the
	// owner still claims (it is gone, answered, or claimed by another
	// since its lease ran out).
	ErrReplayNotClaimed = errors.New("reset: idempotency key not claimed")
)
