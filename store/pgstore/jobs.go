package pgstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/passreset/passreset/store"
)

// AllowRequest is the sliding-window rate limit of store.Store. The check
// and the record are one transaction holding an advisory lock on the key,
// so concurrent callers on any number of instances never exceed limit
// together. It costs one round trip.
func (s *Store) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	now = ms(now)
	// The record is bookkeeping that a crash may forget (at worst one more
	// email): its commit does not wait for the disk (qCommitUnsynced).
	b := &pgx.Batch{}
	b.Queue(s.q[qCommitUnsynced])
	b.Queue(s.q[qRateLimitLock], key)
	b.Queue(s.q[qRateLimitCount], key, now.Add(-window), now, int64(limit), now.Add(store.MaxClockSkew))
	br := s.pool.SendBatch(ctx, b)
	var (
		n      int64
		oldest pgtype.Timestamptz
	)
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		err = br.QueryRow().Scan(&n, &oldest)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	if n < int64(limit) {
		return true, time.Time{}, nil
	}
	if !oldest.Valid { // limit <= 0: nothing counted, nothing allowed
		return false, now.Add(window).UTC(), nil
	}
	// A record within the skew ahead of now would put the retry past one
	// window: never later than that.
	if oldest.Time.After(now) {
		return false, now.Add(window).UTC(), nil
	}
	return false, oldest.Time.Add(window).UTC(), nil
}

// ClaimJobs claims up to max due jobs, oldest RunAt first, in one statement
// that skips rows another dispatcher is claiming at the same instant.
func (s *Store) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Job, error) {
	if max <= 0 {
		return nil, nil
	}
	now = ms(now)
	rows, err := s.pool.Query(ctx, s.q[qClaimJobs], now, ms(now.Add(lease)), max)
	if err != nil {
		return nil, wrap("claim jobs", err)
	}
	defer rows.Close()
	var jobs []store.Job
	for rows.Next() {
		var (
			j       store.Job
			kind    string
			claimed pgtype.Timestamptz
		)
		if err := rows.Scan(&j.ID, &kind, &j.UserID, &j.Payload, &j.Attempts, &j.RunAt, &claimed, &j.CreatedAt); err != nil {
			return nil, wrap("claim jobs", err)
		}
		j.Kind = store.JobKind(kind)
		j.RunAt = j.RunAt.UTC()
		j.CreatedAt = j.CreatedAt.UTC()
		j.ClaimedUntil = fromNull(claimed)
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("claim jobs", err)
	}
	// RETURNING follows no order; give the jobs in the order claimed.
	sortJobs(jobs)
	return jobs, nil
}

// FinishJob marks the job done and drops its payload. A job already
// finished, or missing, is not an error.
func (s *Store) FinishJob(ctx context.Context, id string, now time.Time) error {
	// A crash may forget that a job finished: it then runs again when its
	// lease ends, which an outbox allows already. So the update's commit
	// does not wait for the disk (qCommitUnsynced).
	b := &pgx.Batch{}
	b.Queue(s.q[qCommitUnsynced])
	b.Queue(s.q[qFinishJob], id, ms(now))
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return wrap("finish job", err)
	}
	return nil
}

// RetryJob releases the job to run again at runAt and records lastError.
// A job that is missing, finished or failed is left alone.
func (s *Store) RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error {
	if _, err := s.pool.Exec(ctx, s.q[qRetryJob], id, ms(runAt), lastError); err != nil {
		return wrap("retry job", err)
	}
	return nil
}

// FailJob marks the job failed for good, drops its payload and keeps
// lastError. A job that is missing, finished or failed is left alone.
func (s *Store) FailJob(ctx context.Context, id string, now time.Time, lastError string) error {
	if _, err := s.pool.Exec(ctx, s.q[qFailJob], id, ms(now), lastError); err != nil {
		return wrap("fail job", err)
	}
	return nil
}

// EnqueueJob stores j on its own, in one statement whose commit waits for
// the disk as every other write of the Store does. A taken id fails the
// primary key.
func (s *Store) EnqueueJob(ctx context.Context, j store.Job) error {
	if _, err := s.pool.Exec(ctx, s.q[qEnqueueJob], appendJobArrays(nil, []store.Job{j})...); err != nil {
		return wrap("enqueue job", err)
	}
	return nil
}

// RenewJobs extends, in one statement, the lease of each given job whose
// claim is still held: same attempts, lease not over at now, neither
// finished nor failed. It returns the ids renewed. Its commit does not wait
// for the disk (qCommitUnsynced): a renewal matters only while the process
// that holds the job runs.
func (s *Store) RenewJobs(ctx context.Context, jobs []store.Job, now, until time.Time) ([]string, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(jobs))
	attempts := make([]int32, len(jobs))
	for i, j := range jobs {
		ids[i], attempts[i] = j.ID, int32(j.Attempts)
	}
	b := &pgx.Batch{}
	b.Queue(s.q[qCommitUnsynced])
	b.Queue(s.q[qRenewJobs], ids, attempts, ms(now), ms(until))
	br := s.pool.SendBatch(ctx, b)
	var renewed []string
	_, err := br.Exec()
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			renewed, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, wrap("renew jobs", err)
	}
	return renewed, nil
}

// NextDue returns when the first pending job becomes claimable: the later
// of its run_at and claimed_until; the zero time when no job is pending.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next pgtype.Timestamptz
	if err := s.pool.QueryRow(ctx, s.q[qNextDue]).Scan(&next); err != nil {
		return time.Time{}, wrap("next due", err)
	}
	return fromNull(next), nil
}

// Durable reports true: the Store's state is in a database server. It
// implements store.Durable.
func (s *Store) Durable() bool { return true }

// Purge deletes, in one statement, resets that expired or were spent or
// ended before before, rate-limit records older than before, and jobs that
// finished or failed before before. It returns how many rows it deleted.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, s.q[qPurge], ms(before)).Scan(&n); err != nil {
		return 0, wrap("purge", err)
	}
	return n, nil
}

// appendJobArrays appends jobs to args as the eight parallel arrays that
// insertJobs unnests.
func appendJobArrays(args []any, jobs []store.Job) []any {
	var (
		ids      = make([]string, len(jobs))
		kinds    = make([]string, len(jobs))
		users    = make([]string, len(jobs))
		payloads = make([][]byte, len(jobs))
		attempts = make([]int32, len(jobs))
		runAt    = make([]time.Time, len(jobs))
		claimed  = make([]pgtype.Timestamptz, len(jobs))
		created  = make([]time.Time, len(jobs))
	)
	for i, j := range jobs {
		ids[i], kinds[i], users[i], payloads[i] = j.ID, string(j.Kind), j.UserID, j.Payload
		attempts[i] = int32(j.Attempts)
		runAt[i], claimed[i], created[i] = ms(j.RunAt), nullTime(j.ClaimedUntil), ms(j.CreatedAt)
	}
	return append(args, ids, kinds, users, payloads, attempts, runAt, claimed, created)
}

func sortJobs(jobs []store.Job) {
	slices.SortFunc(jobs, func(a, b store.Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
