package reset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/store"
)

// ResetRequest is a request for a reset email that RequestPasswordReset
// has recorded in the Store and this process holds: Run carries it out;
// Release leaves it to a dispatcher. If the process dies first, a
// dispatcher carries it out once the claim's lease ends.
type ResetRequest struct {
	svc   *Service
	lease *lease
	email string
	done  bool
}

// RequestPasswordReset records a request for a reset email to an address,
// durably, and returns once it is recorded (committed and, with the SQL
// stores' default settings, synced), before any other work: it looks
// nothing up, so it costs the same whether or not the address has an
// account. The work itself, CreatePasswordReset's, is done by the returned
// ResetRequest's Run, or by a dispatcher (RunDispatcher): after Release,
// and after a crash of this process, once the request's lease ends (within
// Config.Dispatch.Lease). A request carried out after a crash may send a
// second email for it, if the crash came between the email's acceptance
// by the mail server and the record of it: at least once, never lost.
//
// It is the "forgot password" page's call (reset/pages): record, answer
// the page, then Run. The address is kept sealed (AES-256-GCM, like queued
// mail) until the request is done. It returns ErrInvalidEmail for what is
// not an address, and the Store's error when the request could not be
// recorded, in which case nothing was. An address NormalizeEmail refuses
// for what it holds (an invisible character, a domain literal, over the
// lengths) is recorded like any other, and its Run returns
// ErrUserNotFound: the same for it as for an unknown address.
func (s *Service) RequestPasswordReset(ctx context.Context, p CreatePasswordResetParams) (*ResetRequest, error) {
	email, _, err := requestKey(p.Email)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	id, err := s.newID("job_", now)
	if err != nil {
		return nil, err
	}
	payload, err := s.secrets.sealRequest(id, email)
	if err != nil {
		return nil, err
	}
	job := store.Job{ID: id, Kind: store.JobResetRequest, Payload: payload, RunAt: now,
		ClaimedUntil: now.Add(s.dispatch.Lease), Attempts: 1, CreatedAt: now}
	if err := s.store.EnqueueJob(ctx, job); err != nil {
		return nil, fmt.Errorf("reset: record reset request: %w", err)
	}
	return &ResetRequest{svc: s, lease: s.leases.hold(job), email: email}, nil
}

// Run carries the request out in the caller's goroutine, as
// CreatePasswordReset does (the limit per address, the lookup, the reset,
// the email's first attempt), and records it done. It returns what
// CreatePasswordReset would, for the caller's log: nil when a reset was
// created, ErrUserNotFound for an address without an account, a
// *RateLimitError when the address is over its limit (the request is done
// in all three cases), or another error, after which a dispatcher tries the
// request again with backoff. A second call does nothing and returns nil.
func (r *ResetRequest) Run(ctx context.Context) error {
	if r.done {
		return nil
	}
	r.done = true
	return r.svc.runJob(ctx, r.lease, mail.Message{}, r.email)
}

// Release leaves the request to a dispatcher, due at once, without doing
// it: for a caller that cannot do the work now (too much in flight, or
// shutting down). A call after Run, or a second one, does nothing and
// returns nil.
func (r *ResetRequest) Release(ctx context.Context) error {
	if r.done {
		return nil
	}
	r.done = true
	s := r.svc
	if !s.leases.drop(r.lease) {
		return nil // another process has it already
	}
	if err := s.store.RetryJob(ctx, r.lease.job.ID, s.clock(), "released to the dispatcher"); err != nil {
		return fmt.Errorf("reset: release reset request: %w", err)
	}
	s.wakeDispatcher()
	return nil
}

// carryOut does a reset request's work: the reset, with an id derived from
// the request's, so that a request run again after a crash that came after
// its reset was created finds it and does nothing more (its email is in
// the outbox with it).
func (s *Service) carryOut(ctx context.Context, job store.Job, email string) error {
	id := "password_reset_" + strings.TrimPrefix(job.ID, "job_")
	if job.Attempts > 1 {
		_, err := s.store.ResetByID(ctx, id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrResetNotFound) {
			return fmt.Errorf("reset: reset request: %w", err)
		}
	}
	// The request keeps requestKey's form of the address, in which one it
	// refused is still refused.
	_, refused := emailaddr.Normalize(email)
	_, err := s.create(ctx, email, refused != nil, id)
	return err
}

// requestAnswered reports whether err ends a reset request all the same:
// the address has no account or is over its limit.
func requestAnswered(err error) bool {
	return errors.Is(err, ErrUserNotFound) || errors.Is(err, ErrRateLimited) || errors.Is(err, ErrInvalidEmail)
}

// logRequestOutcome logs how a reset request that a dispatcher carried out
// ended, never with the address.
func logRequestOutcome(ctx context.Context, log *slog.Logger, err error) {
	switch {
	case err == nil:
		// The Service logs the reset's id.
	case errors.Is(err, ErrUserNotFound):
		log.InfoContext(ctx, "password reset requested for an address without an account")
	case errors.Is(err, ErrRateLimited):
		var retry time.Duration
		if rl, ok := errors.AsType[*RateLimitError](err); ok {
			retry = rl.RetryAfter()
		}
		log.WarnContext(ctx, "password reset request rate limited", "retry_after", retry)
	default:
		log.ErrorContext(ctx, "password reset request failed", "err", err)
	}
}
