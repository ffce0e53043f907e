package reset

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/internal/resetlink"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/store"
)

// Link is for package account, which builds sign-in, password changes and
// new users on a Service (account.New): it fills in c with the Service's
// Store, Hasher, Policy, keys, outbox and hashing cap, so that the reset
// flow and the accounts share one cap (Config.MaxHashing) and one policy.
// Other callers cannot name c's type, and have no use for it.
func (s *Service) Link(c *resetlink.Core) {
	if c == nil {
		return
	}
	*c = resetlink.Core{
		Store:        s.store,
		Hasher:       s.hasher,
		Log:          s.log,
		Clock:        s.clock,
		NewID:        s.newID,
		RateLimitKey: s.secrets.rateLimitKey,
		RateLimited: func(retryAt, now time.Time, window time.Duration) error {
			return &RateLimitError{RetryAt: retryWithin(retryAt, now, window), now: now}
		},
		Acquire:      s.gate.acquire,
		DummyHash:    s.dummyHash,
		Hash:         s.hash,
		Compare:      s.compare,
		CheckPolicy:  s.checkPolicy,
		CommitChange: s.commitChange,
	}
}

// otherSessionsRevoker is account.OtherSessionsRevoker, the optional part
// of a SessionRevoker that ends every session of a user but one; the
// dispatcher runs its jobs.
type otherSessionsRevoker interface {
	RevokeOtherSessions(ctx context.Context, userID, keepSessionID string) error
}

// commitChange stores a password change and carries out what follows it
// (resetlink.Change). When the change is stored but the revocation fails,
// it returns the Changed with an error matching ErrSessionsNotRevoked.
func (s *Service) commitChange(ctx context.Context, c resetlink.Change) (store.Changed, error) {
	u, now := c.User, c.Now
	var jobs []store.Job
	var revoke store.Job
	_, canRevoke := s.sessions.(otherSessionsRevoker)
	if canRevoke {
		id, err := s.newID("job_", now)
		if err != nil {
			return store.Changed{}, err
		}
		revoke = store.Job{ID: id, Kind: store.JobRevokeOtherSessions, UserID: u.ID, Payload: []byte(c.KeepSessionID),
			RunAt: now, ClaimedUntil: now.Add(s.dispatch.Lease), Attempts: 1, CreatedAt: now}
		jobs = append(jobs, revoke)
	}
	notice, err := s.renderNotice(s.from, EmailData{AppName: s.appName, Email: u.Email, Name: u.Name(), Time: now, KeptDevice: c.KeepSessionID != ""})
	if err != nil {
		return store.Changed{}, fmt.Errorf("reset: render notice: %w", err)
	}
	noticeJob, err := s.emailJob(u.ID, &notice, now)
	if err != nil {
		return store.Changed{}, err
	}
	background := s.dispatchers.Load() > 0
	if background {
		noticeJob.ClaimedUntil, noticeJob.Attempts = time.Time{}, 0
	}
	jobs = append(jobs, noticeJob)

	changed, err := s.store.ChangePassword(ctx, store.PasswordChange{
		UserID: u.ID, OldHash: c.OldHash, NewHash: c.NewHash, Now: now,
		KeepSessionID: c.KeepSessionID, KeepStamp: c.Stamp, Jobs: jobs,
	})
	if err != nil {
		if errors.Is(err, store.ErrPasswordChanged) {
			return store.Changed{}, store.ErrPasswordChanged
		}
		return store.Changed{}, fmt.Errorf("reset: change password: %w", err)
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
	return changed, revokeErr
}
