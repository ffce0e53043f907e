package reset

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

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
	User User
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
// current one, applies the Policy to the new one, stores its hash, and
// ends every other session of the user while keeping the one that asked,
// ends the user's outstanding resets (EndResets), then sends the
// password-changed notice.
//
// The other sessions end in the transaction that stores the hash when they
// live in the Store (Config.Sessions nil); the session that asked gets the
// new credential stamp in that transaction too. When Config.Sessions is
// set, its RevokeOtherSessions runs before ChangePassword returns, durably
// (a failure is retried by the dispatcher, and reported as
// ErrSessionsNotRevoked) if it implements OtherSessionsRevoker; and in
// every case the credential stamps of the other sessions stop matching at
// the commit, so that a host checking them (StampMatches) refuses them on
// their next request.
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
// a *RateLimitError past Config.SignInLimit's attempts for the user;
// a *BusyError (ErrBusy) when the hashing cap (Config.MaxHashing) is full;
// ErrPasswordChanged when the password changed meanwhile (nothing is
// changed); ErrUserNotFound.
func (s *Service) ChangePassword(ctx context.Context, p ChangePasswordParams) (PasswordChange, error) {
	if p.UserID == "" {
		return PasswordChange{}, ErrUserNotFound
	}
	// Guessing the current password through a stolen session is throttled
	// as sign-in is.
	if err := s.allow(ctx, s.signIn, "change:"+p.UserID, s.clock()); err != nil {
		return PasswordChange{}, err
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return PasswordChange{}, fmt.Errorf("reset: change password: %w", err)
	}
	old, err := s.store.PasswordHash(ctx, p.UserID)
	if err != nil {
		return PasswordChange{}, fmt.Errorf("reset: change password: %w", err)
	}
	current := password.Normalize(p.CurrentPassword)
	// One user's guesses share one hashing share, as one client's do.
	switch err := s.compare(ctx, "user:"+u.ID, old, current); {
	case err == nil:
	case errors.Is(err, password.ErrMismatch), errors.Is(err, errNoHash):
		return PasswordChange{}, ErrInvalidCredentials
	case errors.Is(err, ErrBusy):
		return PasswordChange{}, err
	default:
		return PasswordChange{}, fmt.Errorf("reset: change password: %w", err)
	}
	pw := password.Normalize(p.NewPassword)
	if err := s.checkPolicy(ctx, pw, password.PolicyUser{ID: u.ID, Email: u.Email}); err != nil {
		return PasswordChange{}, err
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return PasswordChange{}, err
	}
	stamp := Stamp(hash)

	now := s.clock()
	var jobs []store.Job
	var revoke store.Job
	_, canRevoke := s.sessions.(OtherSessionsRevoker)
	if canRevoke {
		id, err := s.newID("job_", now)
		if err != nil {
			return PasswordChange{}, err
		}
		revoke = store.Job{ID: id, Kind: store.JobRevokeOtherSessions, UserID: u.ID, Payload: []byte(p.SessionID),
			RunAt: now, ClaimedUntil: now.Add(s.dispatch.Lease), Attempts: 1, CreatedAt: now}
		jobs = append(jobs, revoke)
	}
	notice, err := s.renderNotice(s.from, EmailData{AppName: s.appName, Email: u.Email, Name: u.Name(), Time: now, KeptDevice: p.SessionID != ""})
	if err != nil {
		return PasswordChange{}, fmt.Errorf("reset: render notice: %w", err)
	}
	noticeJob, err := s.emailJob(u.ID, &notice, now)
	if err != nil {
		return PasswordChange{}, err
	}
	background := s.dispatchers.Load() > 0
	if background {
		noticeJob.ClaimedUntil, noticeJob.Attempts = time.Time{}, 0
	}
	jobs = append(jobs, noticeJob)

	changed, err := s.store.ChangePassword(ctx, store.PasswordChange{
		UserID: u.ID, OldHash: old, NewHash: hash, Now: now,
		KeepSessionID: p.SessionID, KeepStamp: stamp, Jobs: jobs,
	})
	if err != nil {
		if errors.Is(err, ErrPasswordChanged) {
			return PasswordChange{}, ErrPasswordChanged
		}
		return PasswordChange{}, fmt.Errorf("reset: change password: %w", err)
	}
	s.log.InfoContext(ctx, "password changed", "user_id", u.ID, "sessions_revoked", changed.SessionsRevoked)
	// A link sent before the change must not undo it.
	if _, err := s.EndResets(ctx, u.ID); err != nil {
		s.log.WarnContext(ctx, "password changed, but the user's outstanding resets not ended", "user_id", u.ID, "err", err)
	}

	var revokeErr error
	if canRevoke {
		if err := s.runJob(ctx, s.leases.hold(revoke), mail.Message{}, ""); err != nil {
			revokeErr = fmt.Errorf("%w: %w", ErrSessionsNotRevoked, err)
		}
	}
	if background {
		s.wakeDispatcher()
	} else {
		s.runJob(ctx, s.leases.hold(noticeJob), notice, "")
	}
	u.UpdatedAt = now
	return PasswordChange{User: u, Stamp: stamp, SessionsRevoked: changed.SessionsRevoked}, revokeErr
}

// rehash stores a new hash of pw, which matches hash, when the Hasher says
// hash was made with other parameters or another algorithm: one
// conditional step, so that a password changed meanwhile is not
// overwritten. The new hash keeps hash's salt, and so the credential stamp
// (see Stamp): the user's sessions are not ended. A failure is logged, and
// never fails the sign-in. It returns the hash now stored.
func (s *Service) rehash(ctx context.Context, userID, hash, pw string) string {
	rh, ok := s.hasher.(password.Rehasher)
	if !ok || !rh.NeedsRehash(hash) {
		return hash
	}
	upgraded, err := rh.Rehash(hash, pw)
	if err != nil {
		s.log.WarnContext(ctx, "rehash on sign-in", "user_id", userID, "err", err)
		return hash
	}
	_, err = s.store.ChangePassword(ctx, store.PasswordChange{UserID: userID, OldHash: hash, NewHash: upgraded, Now: s.clock(), Rehash: true})
	switch {
	case errors.Is(err, ErrPasswordChanged):
		// The password changed since it was read: the new one stays, and
		// the stamp of the old one makes this sign-in's session fail.
		return hash
	case err != nil:
		s.log.WarnContext(ctx, "rehash on sign-in", "user_id", userID, "err", err)
		return hash
	}
	s.log.InfoContext(ctx, "password hash upgraded on sign-in", "user_id", userID)
	return upgraded
}
