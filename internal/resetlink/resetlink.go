// Package resetlink is the part of a reset.Service that package account
// builds on, so that an app's sign-ins, password changes and new users
// share the reset flow's Store, Hasher, Policy, secret key, outbox and,
// above all, its hashing cap (reset.Config.MaxHashing), without reset
// exporting any of it. reset.Service.Link fills in a Core; package reset
// imports this package, and account imports both.
package resetlink

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

// ErrNoHash is Compare's answer for a user without a password: the
// password was compared with a dummy hash, and never matches.
var ErrNoHash = errors.New("reset: no password")

// Core is what a reset.Service lends package account. Every field is set
// by reset.Service.Link.
type Core struct {
	// Store is the Service's Store.
	Store store.Store
	// Hasher is the Service's Hasher.
	Hasher password.Hasher
	// Log is the Service's Logger.
	Log *slog.Logger
	// Clock is the Service's clock, in UTC, to the millisecond.
	Clock func() time.Time
	// NewID returns prefix followed by a ULID of now.
	NewID func(prefix string, now time.Time) (string, error)
	// RateLimitKey is the keyed hash under which a rate-limit key is
	// counted in the Store.
	RateLimitKey func(key string) string
	// RateLimited returns the *reset.RateLimitError of a caller refused
	// until retryAt (capped at one window from now).
	RateLimited func(retryAt, now time.Time, window time.Duration) error
	// Acquire takes one of the Service's hashing slots for client (""
	// for none), as its redemptions do: it returns the release, a
	// *reset.BusyError, or ctx's error.
	Acquire func(ctx context.Context, client string) (release func(), err error)
	// DummyHash is a hash of no one's password, compared with when there
	// is no user, so that both cases cost one comparison.
	DummyHash string
	// Hash hashes a normalised password within the hashing cap.
	Hash func(ctx context.Context, pw string) (string, error)
	// Compare compares a normalised password with hash within the hashing
	// cap, as client; an empty hash is ErrNoHash.
	Compare func(ctx context.Context, client, hash, pw string) error
	// CheckPolicy applies the Service's Policy to a normalised new
	// password, Policy.RejectCurrent included.
	CheckPolicy func(ctx context.Context, pw string, u password.PolicyUser) error
	// CommitChange stores a changed password and carries out what follows
	// (see Change).
	CommitChange func(ctx context.Context, c Change) (store.Changed, error)
}

// Change is a password change that CommitChange stores: in one
// transaction it replaces OldHash with NewHash, ends the user's other
// sessions kept in the Store, gives KeepSessionID the new stamp, and
// queues the password-changed notice and, when the Service's
// SessionRevoker can end all sessions but one, that revocation; then it
// ends the user's outstanding resets, runs the revocation (a failure
// matches reset.ErrSessionsNotRevoked, and is retried) and sends the
// notice.
type Change struct {
	User          store.User
	OldHash       string
	NewHash       string
	Stamp         string
	KeepSessionID string
	Now           time.Time
}
