package reset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/store"
)

// emailJob seals msg into a store.JobEmail claimed by this process for one lease:
// the Service sends it right after the commit, and only if that attempt
// dies with the process does a dispatcher pick it up when the lease ends.
func (s *Service) emailJob(userID string, msg mail.Message, now time.Time) (store.Job, error) {
	id, err := s.newID("job_", now)
	if err != nil {
		return store.Job{}, err
	}
	payload, err := s.secrets.seal(id, msg)
	if err != nil {
		return store.Job{}, err
	}
	return store.Job{ID: id, Kind: store.JobEmail, UserID: userID, Payload: payload, RunAt: now, ClaimedUntil: now.Add(s.dispatch.Lease), Attempts: 1, CreatedAt: now}, nil
}

// runJob makes one attempt at a job this process holds, and records the
// outcome: finished, retried later, or failed for good. msg is the job's
// message when the caller has it in the clear already. The outcome is
// recorded even when ctx was cancelled mid-attempt.
func (s *Service) runJob(ctx context.Context, job store.Job, msg mail.Message) error {
	var err error
	switch job.Kind {
	case store.JobEmail:
		err = s.mailer.Send(ctx, msg)
	case store.JobRevokeSessions:
		if s.sessions == nil {
			err = errors.New("no SessionRevoker configured")
		} else {
			err = s.sessions.RevokeUserSessions(ctx, job.UserID)
		}
	case store.JobRevokeOtherSessions:
		if r, ok := s.sessions.(OtherSessionsRevoker); !ok {
			err = errors.New("no OtherSessionsRevoker configured")
		} else {
			err = r.RevokeOtherSessions(ctx, job.UserID, string(job.Payload))
		}
	default:
		err = fmt.Errorf("unknown job kind %q", job.Kind)
	}
	s.settle(context.WithoutCancel(ctx), job, err)
	return err
}

// settle records the outcome of an attempt at job.
func (s *Service) settle(ctx context.Context, job store.Job, runErr error) {
	now := s.clock()
	// Built only when there is something to say: a job that succeeds, the
	// common case, costs the Logger nothing.
	jobLog := func() *slog.Logger {
		return s.log.With("job_id", job.ID, "kind", string(job.Kind), "user_id", job.UserID, "attempt", job.Attempts)
	}
	if runErr == nil {
		if err := s.store.FinishJob(ctx, job.ID, now); err != nil {
			// The work is done; a job left unfinished would run again when
			// its lease ends, so say so loudly.
			jobLog().ErrorContext(ctx, "outbox: job done but not marked finished", "err", err)
		}
		return
	}
	log := jobLog()
	if job.Kind == store.JobEmail && (job.Attempts >= s.dispatch.MaxAttempts || permanent(runErr)) {
		log.ErrorContext(ctx, "outbox: giving up", "err", runErr)
		if err := s.store.FailJob(ctx, job.ID, now, runErr.Error()); err != nil {
			log.ErrorContext(ctx, "outbox: mark failed", "err", err)
		}
		return
	}
	wait := s.dispatch.Backoff
	for i := 1; i < job.Attempts && wait < s.dispatch.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, s.dispatch.MaxBackoff)
	log.WarnContext(ctx, "outbox: attempt failed, will retry", "err", runErr, "retry_in", wait)
	if err := s.store.RetryJob(ctx, job.ID, now.Add(wait), runErr.Error()); err != nil {
		log.ErrorContext(ctx, "outbox: schedule retry", "err", err)
	}
}

// permanent reports whether err says retrying cannot help: the Mailer's
// error matches mail.ErrPermanent (as an SMTP 5xx reply does), or the
// message was sealed under another key. Nothing else is: not a refused or
// dropped connection, a timeout or a 4xx reply.
func permanent(err error) bool {
	return errors.Is(err, mail.ErrPermanent) || errors.Is(err, errUnsealable)
}

// DispatchOnce claims the jobs that are due and runs them: emails whose
// first attempt failed or whose sender died, and session revocations that
// failed. It returns how many it ran.
func (s *Service) DispatchOnce(ctx context.Context) (int, error) {
	jobs, err := s.store.ClaimJobs(ctx, s.clock(), s.dispatch.Lease, 50)
	if err != nil {
		return 0, fmt.Errorf("reset: claim jobs: %w", err)
	}
	for _, job := range jobs {
		var msg mail.Message
		if job.Kind == store.JobEmail {
			if msg, err = s.secrets.open(job.ID, job.Payload); err != nil {
				s.settle(context.WithoutCancel(ctx), job, err)
				continue
			}
		}
		_ = s.runJob(ctx, job, msg) // the outcome is recorded and logged
	}
	return len(jobs), nil
}

// RunDispatcher runs DispatchOnce every Config.Dispatch.Interval until ctx
// is done, then returns nil. Start it once per process, in a goroutine;
// several processes may run one each: jobs are claimed atomically, so none
// runs twice at once. Without a running dispatcher, emails whose first
// attempt failed are not retried.
//
// While a dispatcher runs, ResetPassword leaves the password-changed
// notice to it instead of sending it in the caller's path.
func (s *Service) RunDispatcher(ctx context.Context) error {
	s.dispatchers.Add(1)
	defer s.dispatchers.Add(-1)
	t := time.NewTicker(s.dispatch.Interval)
	defer t.Stop()
	for {
		if _, err := s.DispatchOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "outbox: dispatch", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// wakeDispatcher asks a running dispatcher to poll now.
func (s *Service) wakeDispatcher() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}
