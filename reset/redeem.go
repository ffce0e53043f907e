package reset

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

// ResetPasswordParams are the inputs of ResetPassword: the link's Token,
// or the Email and Code of the page that asked for the reset.
type ResetPasswordParams struct {
	Token string
	// Email and Code redeem the reset by its code instead, when Token is
	// empty: the address as it was typed to ask for the reset, and the
	// code of the email (spaces and dashes between its digits are
	// ignored).
	Email, Code string
	NewPassword string
}

// ResetPassword redeems a reset, by its token or by the address and code:
// it sets the user's new password, marks their email verified and signs
// them out everywhere, then sends a password-changed notice. The token and
// the code belong to one reset: either spends both.
//
// A malformed, unknown, spent or expired token is refused before any
// password hashing (ErrInvalidToken, ErrTokenExpired). A wrong code, or an
// address with no account or no live code, is ErrInvalidCode, in the same
// time whatever the case; each code allows CodeTries guesses, after which
// it and its link are dead, and guesses per address are capped by
// Config.CodeLimit (a *RateLimitError). A password the policy refuses is a
// *password.PolicyError (matching ErrWeakPassword) and leaves the token or
// code usable (the policy is applied before the code is checked, so it
// costs no try). Of concurrent calls for one reset exactly one succeeds.
//
// Signing out everywhere holds whoever keeps the sessions: sessions in the
// Store are revoked in the transaction that spends the token; Config.Sessions,
// when set, runs before ResetPassword returns; and every session that
// carries a credential stamp (see Stamp) stops matching at the commit.
// When Config.Sessions fails, the password is changed all the same and the
// user is returned with an error matching ErrSessionsNotRevoked; the
// revocation is retried by the dispatcher.
func (s *Service) ResetPassword(ctx context.Context, p ResetPasswordParams) (User, error) {
	pw := password.Normalize(p.NewPassword)
	var (
		r   store.Reset
		end func()
		err error
	)
	if p.Token == "" && (p.Email != "" || p.Code != "") {
		if r, err = s.redeemCode(ctx, p, pw); err != nil {
			return User{}, err
		}
		if err := s.issuedAhead(ctx, r, s.clock()); err != nil {
			if errors.Is(err, ErrTokenExpired) {
				return User{}, ErrInvalidCode
			}
			return User{}, err
		}
		if end, err = s.takeTurn(ctx, r.ID, true); err != nil {
			return User{}, err
		}
		defer end() // also ended, earlier, once the redemption is decided
		if err := s.rejectCurrent(ctx, pw, r.UserID); err != nil {
			return User{}, err
		}
	} else {
		if r, err = s.lookup(ctx, p.Token); err != nil {
			return User{}, err
		}
		if end, err = s.takeTurn(ctx, r.ID, false); err != nil {
			return User{}, err
		}
		defer end()
		if err := s.checkPolicy(ctx, pw, password.PolicyUser{ID: r.UserID, Email: r.Email}); err != nil {
			return User{}, err
		}
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return User{}, err
	}
	now := s.clock()
	var jobs []store.Job
	var revoke store.Job
	if s.sessions != nil {
		id, err := s.newID("job_", now)
		if err != nil {
			return User{}, err
		}
		revoke = store.Job{ID: id, Kind: store.JobRevokeSessions, UserID: r.UserID, RunAt: now, ClaimedUntil: now.Add(s.dispatch.Lease), CreatedAt: now}
		jobs = append(jobs, revoke)
	}
	// The notice goes to the user's current address, and to the one the
	// reset went to when that is another (a store that keeps several
	// addresses per user): the owner hears of the change wherever they
	// read mail now.
	current, err := s.store.UserByID(ctx, r.UserID)
	if err != nil {
		return User{}, fmt.Errorf("reset: redeem: %w", err)
	}
	to := []string{current.Email}
	if !emailaddr.EqualFold(current.Email, r.Email) {
		to = append(to, r.Email)
	}
	// With a dispatcher running, the notices leave the caller's path: they
	// are queued due now and the dispatcher woken. Without one, they are
	// sent here, after the commit.
	background := s.dispatchers.Load() > 0
	notices := make([]mail.Message, len(to))
	noticeJobs := make([]store.Job, len(to))
	for i, addr := range to {
		if notices[i], err = s.renderNotice(s.from, EmailData{AppName: s.appName, Email: addr, Time: now}); err != nil {
			return User{}, fmt.Errorf("reset: render notice: %w", err)
		}
		if noticeJobs[i], err = s.emailJob(r.UserID, &notices[i], now); err != nil {
			return User{}, err
		}
		if background {
			noticeJobs[i].ClaimedUntil, noticeJobs[i].Attempts = time.Time{}, 0
		}
	}
	jobs = append(jobs, noticeJobs...)

	red, err := s.store.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: r.UserID, PasswordHash: hash, Now: now, Jobs: jobs})
	end() // the others waiting for this reset now find it spent, or take their turn
	switch {
	case errors.Is(err, ErrResetNotFound):
		return User{}, ErrInvalidToken // purged since the lookup
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrTokenExpired):
		return User{}, err
	case err != nil:
		return User{}, fmt.Errorf("reset: redeem: %w", err)
	}
	s.log.InfoContext(ctx, "password reset redeemed", "reset_id", r.ID, "user_id", r.UserID, "sessions_revoked", red.SessionsRevoked)

	var revokeErr error
	if s.sessions != nil {
		if err := s.runJob(ctx, s.leases.hold(revoke), mail.Message{}, ""); err != nil {
			revokeErr = fmt.Errorf("%w: %w", ErrSessionsNotRevoked, err)
		}
	}
	if background {
		s.wakeDispatcher()
	} else {
		for i := range noticeJobs {
			s.runJob(ctx, s.leases.hold(noticeJobs[i]), notices[i], "")
		}
	}
	s.emit(ctx, EventPasswordResetSucceeded, public(r), now)
	return red.User, revokeErr
}

// takeTurn makes the caller the only one in this process that confirms
// reset id, waiting while another has the turn; it returns the end of
// the turn. When the reset is no longer usable after a wait (the other
// caller spent it), it returns the error a spent token, or a spent code
// (viaCode), gets, without hashing anything.
func (s *Service) takeTurn(ctx context.Context, id string, viaCode bool) (end func(), err error) {
	for {
		end, wait, full := s.flights.begin(id)
		switch {
		case full:
			return nil, &BusyError{retryAfter: time.Second}
		case end != nil:
			return end, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("reset: wait for a confirmation in flight: %w", ctx.Err())
		}
		r, err := s.store.ResetByID(ctx, id)
		switch {
		case errors.Is(err, ErrResetNotFound):
			err = ErrInvalidToken
		case err != nil:
			return nil, fmt.Errorf("reset: look up reset: %w", err)
		default:
			err = r.Status(s.clock())
		}
		if err != nil {
			if viaCode {
				return nil, ErrInvalidCode
			}
			return nil, err
		}
	}
}
