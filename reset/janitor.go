package reset

import (
	"context"
	"fmt"
	"time"
)

// sessionPurger is the part of a Store that also keeps sessions
// (session.Store has it); Purge uses it when present.
type sessionPurger interface {
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)
}

// Purge deletes what can no longer be used and has been kept for
// retention: resets that expired, were spent or ended, finished and failed
// outbox jobs, old rate-limit records and, when the Store keeps sessions,
// sessions that expired or were revoked. It also deletes the answers kept
// for replay (ClaimReplay) whose lifetime has ended, whatever the
// retention: they are never read again, and may hold a sealed token. It
// returns how many rows went.
//
// A negative retention is refused: it would put the cut-off in the future
// and delete resets and sessions still in use.
func (s *Service) Purge(ctx context.Context, retention time.Duration) (int64, error) {
	if retention < 0 {
		return 0, fmt.Errorf("reset: purge: retention %v is negative", retention)
	}
	now := s.clock()
	before := now.Add(-retention)
	n, err := s.store.Purge(ctx, before)
	if err != nil {
		return n, fmt.Errorf("reset: purge: %w", err)
	}
	m, err := s.store.PurgeReplays(ctx, now)
	n += m
	if err != nil {
		return n, fmt.Errorf("reset: purge replays: %w", err)
	}
	if sp, ok := s.store.(sessionPurger); ok {
		m, err := sp.PurgeSessions(ctx, before)
		n += m
		if err != nil {
			return n, fmt.Errorf("reset: purge sessions: %w", err)
		}
	}
	return n, nil
}

// RunJanitor calls Purge every interval until ctx is done, then returns
// nil. It is opt-in: start it in a goroutine, once per process or once per
// deployment. Rows are kept for retention after they stop being usable,
// so that a recent reset can still be looked up; a retention under the
// rate-limit window shortens the window in effect. An interval that is not
// positive, or a negative retention, is refused at once with an error.
func (s *Service) RunJanitor(ctx context.Context, interval, retention time.Duration) error {
	switch {
	case interval <= 0:
		return fmt.Errorf("reset: janitor: interval %v is not positive", interval)
	case retention < 0:
		return fmt.Errorf("reset: janitor: retention %v is negative", retention)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := s.Purge(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "janitor: purge", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "janitor: purged", "rows", n)
		}
	}
}
