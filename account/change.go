package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/internal/resetlink"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// OtherSessionsRevoker is the optional part of a reset.SessionRevoker
// (reset.Config.Sessions) that ends every session of a user but one:
// ChangePassword calls it, durably as a reset calls RevokeUserSessions,
// with the session that asked. A revoker without it is not called by
// ChangePassword: the credential stamps end the other sessions (see
// reset.Stamp), and the caller gives the session that asked the new stamp.
//
// RevokeOtherSessions must be idempotent.
type OtherSessionsRevoker interface {
	RevokeOtherSessions(ctx context.Context, userID, keepSessionID string) error
}

// ChangePasswordParams are the inputs of ChangePassword.
type ChangePasswordParams struct {
	// UserID is the signed-in user's id.
	UserID string
	// CurrentPassword is the password the user types to prove it is them.
	CurrentPassword string
	// NewPassword must pass the Policy.
	NewPassword string
	// SessionID is the session that asked (session.Session.ID), which
	// stays signed in while every other session of the user ends. Leave
	// it empty when the sessions are neither in the Store nor known to an
	// OtherSessionsRevoker.
	SessionID string
}

// PasswordChange is a successful ChangePassword.
type PasswordChange struct {
	User reset.User
	// Stamp is the credential stamp of the new password. The session that
	// asked must carry it from now on: ChangePassword gives it to that
	// session when the sessions are in the Store; a host whose sessions
	// live elsewhere (scs, a cookie, a JWT) puts it there itself, or the
	// session is refused on its next request like the others.
	Stamp string
	// SessionsRevoked counts the sessions the Store revoked.
	SessionsRevoked int
}

// ChangePassword changes a signed-in user's password: it checks the
// current one, applies the Policy (reset.Config.Policy) to the new one,
// stores its hash, and ends every other session of the user while keeping
// the one that asked, ends the user's outstanding resets
// (reset.Service.EndResets), then sends the password-changed notice.
//
// The other sessions end in the transaction that stores the hash when they
// live in the Store (reset.Config.Sessions nil); the session that asked
// gets the new credential stamp in that transaction too. When
// reset.Config.Sessions is set, its RevokeOtherSessions runs before
// ChangePassword returns, durably (a failure is retried by the
// dispatcher, and reported as reset.ErrSessionsNotRevoked) if it
// implements OtherSessionsRevoker; and in every case the credential stamps
// of the other sessions stop matching at the commit, so that a host
// checking them (reset.Service.StampMatches) refuses them on their next
// request.
//
// A host whose session library cannot restamp the session that asked
// (session.Manager over another store than the Service's is one: its
// Store has no write for a stamp) signs the user in afresh after the
// change, with PasswordChange.Stamp: for session.Manager,
// sessions.SignIn(ctx, w, r, userID, ch.Stamp), which also ends the
// session of the cookie the browser sent.
//
// Errors: ErrInvalidCredentials for a wrong current password, or a user
// without one (a reset sets a first password); a *password.PolicyError;
// a *reset.RateLimitError past Config.SignInLimit's attempts for the
// user; a *reset.BusyError (reset.ErrBusy) when the hashing cap
// (reset.Config.MaxHashing) is full; ErrPasswordChanged when the password
// changed meanwhile (nothing is changed); ErrUserNotFound.
func (s *Service) ChangePassword(ctx context.Context, p ChangePasswordParams) (PasswordChange, error) {
	c := &s.core
	if p.UserID == "" {
		return PasswordChange{}, ErrUserNotFound
	}
	// Guessing the current password through a stolen session is throttled
	// as sign-in is.
	if err := s.allow(ctx, s.signIn, "change:"+p.UserID, c.Clock()); err != nil {
		return PasswordChange{}, err
	}
	u, err := c.Store.UserByID(ctx, p.UserID)
	if err != nil {
		return PasswordChange{}, fmt.Errorf("account: change password: %w", err)
	}
	old, err := c.Store.PasswordHash(ctx, p.UserID)
	if err != nil {
		return PasswordChange{}, fmt.Errorf("account: change password: %w", err)
	}
	current := password.Normalize(p.CurrentPassword)
	// One user's guesses share one hashing share, as one client's do.
	switch err := c.Compare(ctx, "user:"+u.ID, old, current); {
	case err == nil:
	case errors.Is(err, password.ErrMismatch), errors.Is(err, resetlink.ErrNoHash):
		return PasswordChange{}, ErrInvalidCredentials
	case errors.Is(err, reset.ErrBusy):
		return PasswordChange{}, err
	default:
		return PasswordChange{}, fmt.Errorf("account: change password: %w", err)
	}
	pw := password.Normalize(p.NewPassword)
	if err := c.CheckPolicy(ctx, pw, password.PolicyUser{ID: u.ID, Email: u.Email}); err != nil {
		return PasswordChange{}, err
	}
	hash, err := c.Hash(ctx, pw)
	if err != nil {
		return PasswordChange{}, err
	}
	stamp := reset.Stamp(hash)
	now := c.Clock()
	changed, err := c.CommitChange(ctx, resetlink.Change{
		User: u, OldHash: old, NewHash: hash, Stamp: stamp, KeepSessionID: p.SessionID, Now: now,
	})
	if err != nil && !errors.Is(err, reset.ErrSessionsNotRevoked) {
		return PasswordChange{}, err
	}
	u.UpdatedAt = now
	return PasswordChange{User: u, Stamp: stamp, SessionsRevoked: changed.SessionsRevoked}, err
}

// allow counts one attempt under key against limit, and refuses it past
// the limit with a *reset.RateLimitError.
func (s *Service) allow(ctx context.Context, limit reset.RateLimit, key string, now time.Time) error {
	if limit.Disabled {
		return nil
	}
	ok, retryAt, err := s.core.Store.AllowRequest(ctx, s.core.RateLimitKey(key), now, limit.Window, limit.Limit)
	if err != nil {
		return fmt.Errorf("account: rate limit: %w", err)
	}
	if !ok {
		return s.core.RateLimited(retryAt, now, limit.Window)
	}
	return nil
}
