package reset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"sync"
	"time"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/store"
)

// claimBatch is how many jobs one DispatchOnce claims at most.
const claimBatch = 50

// minDispatchWait is the shortest a dispatcher sleeps between polls when a
// job is about to become due: clocks of several instances differ a little,
// and a lease that ends "now" by one may end a moment later by another's.
const minDispatchWait = 100 * time.Millisecond

// unopenedGiveUp is how long a job that this instance's key cannot open is
// left for an instance (or a restored key) that can, before it is failed.
const unopenedGiveUp = 24 * time.Hour

// emailJob seals msg into a store.JobEmail claimed by this process for one
// lease: the Service sends it right after the commit, and only if that
// attempt dies with the process does a dispatcher pick it up, once the
// lease, no longer renewed, ends. The message's Message-ID is derived from
// the job's id, so that every copy a crash may send has the same one; its
// Date is now, by the Service's clock (written in UTC); and it says
// "Auto-Submitted: auto-generated" (RFC 3834), so that vacation responders
// and mailing lists leave it alone.
func (s *Service) emailJob(userID string, msg *mail.Message, now time.Time) (store.Job, error) {
	id, err := s.newID("job_", now)
	if err != nil {
		return store.Job{}, err
	}
	msg.Date = now.UTC()
	headers := make(map[string]string, len(msg.Headers)+1)
	maps.Copy(headers, msg.Headers)
	headers["Auto-Submitted"] = "auto-generated"
	msg.Headers = headers
	if s.msgIDDomain != "" {
		msg.MessageID = id + "@" + s.msgIDDomain
	}
	payload, err := s.secrets.seal(id, *msg)
	if err != nil {
		return store.Job{}, err
	}
	return store.Job{ID: id, Kind: store.JobEmail, UserID: userID, Payload: payload, RunAt: now, ClaimedUntil: now.Add(s.dispatch.Lease), Attempts: 1, CreatedAt: now}, nil
}

// runJob makes one attempt at the job held under l, lets go of the claim,
// and records the outcome: finished, retried later, or failed for good.
// msg is an email job's message, email a reset request's address. The
// outcome is recorded even when ctx was cancelled mid-attempt, but not when
// the claim was lost meanwhile: the job is then another process's.
func (s *Service) runJob(ctx context.Context, l *lease, msg mail.Message, email string) error {
	job := l.job
	err := errLeaseLost
	if actx, ok := l.attempt(ctx); ok {
		switch job.Kind {
		case store.JobEmail:
			err = s.mailer.Send(actx, msg)
		case store.JobRevokeSessions:
			if s.sessions == nil {
				err = errors.New("no SessionRevoker configured")
			} else {
				err = s.sessions.RevokeUserSessions(actx, job.UserID)
			}
		case store.JobResetRequest:
			err = s.carryOut(actx, job, email)
		case store.JobRevokeOtherSessions:
			if r, ok := s.sessions.(otherSessionsRevoker); !ok {
				err = errors.New("Config.Sessions cannot end all sessions but one (it has no RevokeOtherSessions method, see account.OtherSessionsRevoker)")
			} else {
				err = r.RevokeOtherSessions(actx, job.UserID, string(job.Payload))
			}
		default:
			err = fmt.Errorf("unknown job kind %q", job.Kind)
		}
	}
	held := s.leases.drop(l)
	s.settle(context.WithoutCancel(ctx), job, err, held)
	return err
}

// settle records the outcome of an attempt at job; held says whether this
// process still held the job's claim when the attempt ended.
func (s *Service) settle(ctx context.Context, job store.Job, runErr error, held bool) {
	now := s.clock()
	// Built only when there is something to say: a job that succeeds, the
	// common case, costs the Logger nothing.
	jobLog := func() *slog.Logger {
		return s.log.With("job_id", job.ID, "kind", string(job.Kind), "user_id", job.UserID, "attempt", job.Attempts)
	}
	if runErr == nil || job.Kind == store.JobResetRequest && requestAnswered(runErr) {
		// Done, even if the claim was lost meanwhile: the work is done, and
		// recording it keeps another process from doing it again.
		if err := s.store.FinishJob(ctx, job.ID, now); err != nil {
			// The work is done; a job left unfinished would run again when
			// its lease ends, so say so loudly.
			jobLog().ErrorContext(ctx, "outbox: job done but not marked finished", "err", err)
		}
		return
	}
	log := jobLog()
	failure := failureText(runErr)
	if !held {
		log.WarnContext(ctx, "outbox: attempt ended after the job's lease was lost; another instance may run the job", "err", failure)
		return
	}
	if job.Kind != store.JobRevokeSessions && (job.Attempts >= s.dispatch.MaxAttempts || permanent(runErr)) {
		log.ErrorContext(ctx, "outbox: giving up", "err", failure)
		if err := s.store.FailJob(ctx, job.ID, now, failure); err != nil {
			log.ErrorContext(ctx, "outbox: mark failed", "err", err)
		}
		return
	}
	wait := s.backoff(job.Attempts)
	if errors.Is(runErr, context.Canceled) {
		// Not a failure of the work: the caller or the process stopped it.
		// The job is due again at once, for whichever dispatcher runs.
		wait = 0
	}
	log.WarnContext(ctx, "outbox: attempt failed, will retry", "err", failure, "retry_in", wait)
	if err := s.store.RetryJob(ctx, job.ID, now.Add(wait), failure); err != nil {
		log.ErrorContext(ctx, "outbox: schedule retry", "err", err)
	}
}

// failureText is what the outbox keeps, and logs, of a failed attempt:
// the error's text with anything that looks like an email address taken
// out. mail.SMTP's errors carry a reply's code and class, never its text;
// another Mailer's, or a SessionRevoker's, may quote an address, which the
// outbox must not keep once the message's sealed payload is dropped.
func failureText(err error) string {
	return addressLike.ReplaceAllString(err.Error(), "<address>")
}

// addressLike matches what may be an email address inside a text: a run
// of characters other than spaces, brackets, quotes and separators on
// either side of an "@".
var addressLike = regexp.MustCompile(`[^\s<>()\[\]{}"',;:]*@[^\s<>()\[\]{}"',;:]+`)

// backoff is the wait after the attempts-th attempt failed: Backoff,
// doubled with every further attempt, up to MaxBackoff.
func (s *Service) backoff(attempts int) time.Duration {
	wait := s.dispatch.Backoff
	for i := 1; i < attempts && wait < s.dispatch.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, s.dispatch.MaxBackoff)
}

// permanent reports whether err says retrying cannot help: the Mailer's
// error matches mail.ErrPermanent (as an SMTP 5xx reply does). Nothing else
// is: not a refused or dropped connection, a timeout or a 4xx reply, nor a
// message sealed under another key, which another instance may open.
func permanent(err error) bool {
	return errors.Is(err, mail.ErrPermanent)
}

// unopened settles a job whose payload this instance cannot open. Sealed
// under another SecretKey, it is not failed: another instance, or this one
// once the right key is restored, may open it. It is released with the
// usual backoff, and failed only once it has waited unopenedGiveUp. Any
// other failure to open it (a payload that is not what its kind holds)
// fails it at once.
func (s *Service) unopened(ctx context.Context, job store.Job, openErr error) {
	now := s.clock()
	log := s.log.With("job_id", job.ID, "kind", string(job.Kind), "attempt", job.Attempts)
	if errors.Is(openErr, errUnsealable) && now.Sub(job.CreatedAt) < unopenedGiveUp {
		wait := s.backoff(job.Attempts)
		log.WarnContext(ctx, "outbox: job sealed under another SecretKey; released for an instance that has that key (set the same Config.SecretKey in every instance)", "retry_in", wait)
		if err := s.store.RetryJob(ctx, job.ID, now.Add(wait), openErr.Error()); err != nil {
			log.ErrorContext(ctx, "outbox: release unopened job", "err", err)
		}
		return
	}
	log.ErrorContext(ctx, "outbox: giving up a job that cannot be opened", "err", openErr, "age", now.Sub(job.CreatedAt))
	if err := s.store.FailJob(ctx, job.ID, now, openErr.Error()); err != nil {
		log.ErrorContext(ctx, "outbox: mark failed", "err", err)
	}
}

// DispatchOnce claims the jobs that are due and runs them: emails whose
// first attempt failed or whose sender died, reset requests that a page
// recorded but did not carry out, and session revocations that failed. It
// returns how many it claimed.
//
// The claims are held, and renewed, while the jobs run, up to
// Config.Dispatch.Workers at once. Jobs not started when ctx is done are
// released, due at once, for the next dispatcher.
func (s *Service) DispatchOnce(ctx context.Context) (int, error) {
	jobs, err := s.store.ClaimJobs(ctx, s.clock(), s.dispatch.Lease, claimBatch)
	if err != nil {
		return 0, fmt.Errorf("reset: claim jobs: %w", err)
	}
	held := make([]*lease, len(jobs))
	for i, job := range jobs {
		held[i] = s.leases.hold(job)
	}
	// Up to Workers jobs at once: a mail server takes a while to accept
	// each message, and one at a time a dispatcher falls behind.
	sem := make(chan struct{}, s.dispatch.Workers)
	var wg sync.WaitGroup
	for _, l := range held {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			if s.leases.drop(l) {
				s.release(context.WithoutCancel(ctx), l.job)
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s.dispatchOne(ctx, l)
		})
	}
	wg.Wait()
	return len(jobs), nil
}

// dispatchOne opens the payload of a claimed job and runs it.
func (s *Service) dispatchOne(ctx context.Context, l *lease) {
	job := l.job
	var (
		msg   mail.Message
		email string
		err   error
	)
	switch job.Kind {
	case store.JobEmail:
		msg, err = s.secrets.open(job.ID, job.Payload)
	case store.JobResetRequest:
		email, err = s.secrets.openRequest(job.ID, job.Payload)
	}
	if err != nil {
		if s.leases.drop(l) {
			s.unopened(context.WithoutCancel(ctx), job, err)
		}
		return
	}
	err = s.runJob(ctx, l, msg, email) // the outcome is recorded and logged
	if job.Kind == store.JobResetRequest {
		logRequestOutcome(ctx, s.log, err)
	}
}

// release gives a claimed job back, due now, without an attempt.
func (s *Service) release(ctx context.Context, job store.Job) {
	if err := s.store.RetryJob(ctx, job.ID, s.clock(), "released: the dispatcher stopped before the attempt"); err != nil {
		s.log.ErrorContext(ctx, "outbox: release job", "job_id", job.ID, "err", err)
	}
}

// RunDispatcher runs DispatchOnce at once, then whenever a job is due: at
// the latest every Config.Dispatch.Interval, and as soon as the lease of a
// job whose holder stopped renewing it ends (store.Store.NextDue), so that
// the mail of a process that died goes out within seconds of its death. It
// returns nil when ctx is done. Start it once per process, in a goroutine;
// several processes may run one each: jobs are claimed atomically, and a
// claim is held and renewed while its job runs, so that no two live
// processes run one job at once. Without a running dispatcher, emails
// whose first attempt failed are not retried, and reset requests that the
// pages could not carry out themselves, or whose process died, are not
// carried out.
//
// While a dispatcher runs, ResetPassword leaves the password-changed
// notice to it instead of sending it in the caller's path.
func (s *Service) RunDispatcher(ctx context.Context) error {
	s.dispatchers.Add(1)
	defer s.dispatchers.Add(-1)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		n, err := s.DispatchOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "outbox: dispatch", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		t.Reset(s.nextPoll(ctx, n))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// nextPoll is how long a dispatcher sleeps after a poll that claimed n
// jobs: not at all after a full batch; until the next job is due when that
// is sooner than Interval; Interval otherwise.
func (s *Service) nextPoll(ctx context.Context, n int) time.Duration {
	if n >= claimBatch {
		return 0
	}
	wait := s.dispatch.Interval
	next, err := s.store.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "outbox: next due", "err", err)
		}
		return wait
	}
	if !next.IsZero() {
		wait = min(wait, max(next.Sub(s.clock()), minDispatchWait))
	}
	return wait
}

// wakeDispatcher asks a running dispatcher to poll now.
func (s *Service) wakeDispatcher() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}
