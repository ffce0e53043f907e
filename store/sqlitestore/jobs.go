package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

const (
	// One statement, so check and record are one atomic step: ?1 key, ?2
	// now, ?3 now-window, ?4 limit.
	// ?3 and ?5 bound the window: after now-window, at or before
	// now+store.MaxClockSkew.
	qAllowRequest = `INSERT INTO passreset_rate_limits (key, at) SELECT ?1, ?2
	WHERE (SELECT count(*) FROM passreset_rate_limits WHERE key = ?1 AND at > ?3 AND at <= ?5) < ?4`
	qOldestRequest = `SELECT min(at) FROM passreset_rate_limits WHERE key = ? AND at > ? AND at <= ?`

	// ?1 now, ?2 now+lease, ?3 max. A lease ending exactly at now has ended.
	qClaimJobs = `UPDATE passreset_jobs SET claimed_until = ?2, attempts = attempts + 1
	WHERE id IN (
		SELECT id FROM passreset_jobs
		WHERE finished_at IS NULL AND failed_at IS NULL AND run_at <= ?1
			AND (claimed_until IS NULL OR claimed_until <= ?1)
		ORDER BY run_at, id LIMIT ?3)
	RETURNING id, kind, user_id, payload, attempts, run_at, claimed_until, created_at`
	qFinishJob = `UPDATE passreset_jobs SET finished_at = ?, payload = NULL, claimed_until = NULL
	WHERE id = ? AND finished_at IS NULL`
	qRetryJob = `UPDATE passreset_jobs SET run_at = ?, claimed_until = NULL, last_error = ?
	WHERE id = ? AND finished_at IS NULL AND failed_at IS NULL`
	qFailJob = `UPDATE passreset_jobs SET failed_at = ?, payload = NULL, claimed_until = NULL, last_error = ?
	WHERE id = ? AND finished_at IS NULL AND failed_at IS NULL`

	// ?1 until, ?2 id, ?3 the claim's attempts, ?4 now.
	qRenewJob = `UPDATE passreset_jobs SET claimed_until = ?1
	WHERE id = ?2 AND attempts = ?3 AND claimed_until > ?4 AND finished_at IS NULL AND failed_at IS NULL`
	// The later of run_at and claimed_until, over the pending jobs (which
	// the partial index passreset_jobs_due holds).
	qNextDue = `SELECT min(max(run_at, coalesce(claimed_until, run_at))) FROM passreset_jobs
	WHERE finished_at IS NULL AND failed_at IS NULL`

	// ?1 is before; the bound is strict.
	qPurgeResets = `DELETE FROM passreset_resets
	WHERE expires_at < ?1 OR used_at < ?1 OR ended_at < ?1`
	qPurgeRateLimits = `DELETE FROM passreset_rate_limits WHERE at < ?1`
	qPurgeJobs       = `DELETE FROM passreset_jobs WHERE finished_at < ?1 OR failed_at < ?1`
)

// AllowRequest is a sliding-window rate limit over the requests recorded
// under key after now-window (those a concurrent caller recorded at a
// later instant included): with fewer than limit it records one at
// now and returns true; otherwise it records nothing and returns false and
// when the oldest counted request leaves the window. The check and the
// record are one statement, so concurrent callers never exceed limit.
func (s *Store) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return false, time.Time{}, err
	}
	at, from, upto := now.UnixMilli(), now.Add(-window).UnixMilli(), now.Add(store.MaxClockSkew).UnixMilli()
	// The record is bookkeeping that a power loss may forget: at worst one
	// more email. It is not synced on its own (see unsynced).
	var n int64
	err = s.unsynced(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, p[sAllowRequest]).ExecContext(ctx, key, at, from, limit, upto)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, time.Time{}, fmt.Errorf("sqlitestore: allow request: %w", err)
	}
	if n == 1 {
		return true, time.Time{}, nil
	}
	// Refused: the window holds limit requests or more. Reading the oldest
	// of them needs no lock; rows in the window only come and go with
	// other callers' requests and with Purge of rows older than the window.
	var oldest sql.NullInt64
	if err := s.r.QueryRowContext(ctx, qOldestRequest, key, from, upto).Scan(&oldest); err != nil {
		return false, time.Time{}, fmt.Errorf("sqlitestore: allow request: %w", err)
	}
	if !oldest.Valid { // limit <= 0: nothing counted, nothing ever allowed
		return false, now.Add(window), nil
	}
	// A record within the skew ahead of now would put the retry past one
	// window: never later than that.
	return false, sqlcore.FromMS(min(oldest.Int64, at)).Add(window), nil
}

// ClaimJobs claims up to maxJobs due jobs in one statement: each gets
// ClaimedUntil = now+lease and Attempts+1. They come back in the order they
// are due (RunAt, then id).
func (s *Store) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, maxJobs int) ([]store.Job, error) {
	if maxJobs <= 0 {
		return nil, nil
	}
	rows, err := s.w.QueryContext(ctx, qClaimJobs, now.UnixMilli(), now.Add(lease).UnixMilli(), maxJobs)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: claim jobs: %w", err)
	}
	defer rows.Close()
	var jobs []store.Job
	for rows.Next() {
		var (
			j                     store.Job
			kind                  string
			runAt, claim, created int64
		)
		if err := rows.Scan(&j.ID, &kind, &j.UserID, &j.Payload, &j.Attempts, &runAt, &claim, &created); err != nil {
			return nil, fmt.Errorf("sqlitestore: claim jobs: %w", err)
		}
		j.Kind = store.JobKind(kind)
		j.RunAt, j.ClaimedUntil, j.CreatedAt = sqlcore.FromMS(runAt), sqlcore.FromMS(claim), sqlcore.FromMS(created)
		jobs = append(jobs, j)
	}
	// Close commits the claim; check its error, not only Next's.
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("sqlitestore: claim jobs: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: claim jobs: %w", err)
	}
	// RETURNING yields rows in no particular order.
	slices.SortFunc(jobs, func(a, b store.Job) int {
		return cmp.Or(a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})
	return jobs, nil
}

// FinishJob marks a job done and drops its payload. A job already finished,
// or missing, is not an error. The update is not synced on its own (see
// unsynced): a power loss may forget it, and the job then runs again when
// its lease ends, which an outbox allows already (a process can die
// between the work and FinishJob).
func (s *Store) FinishJob(ctx context.Context, id string, now time.Time) error {
	p, err := s.prepared(ctx)
	if err != nil {
		return err
	}
	err = s.unsynced(ctx, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, p[sFinishJob]).ExecContext(ctx, now.UnixMilli(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: finish job: %w", err)
	}
	return nil
}

// RetryJob releases a job's lease so that it is due again at runAt,
// recording lastError. A missing, finished or failed job is left alone and
// is not an error.
func (s *Store) RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error {
	if _, err := s.w.ExecContext(ctx, qRetryJob, runAt.UnixMilli(), lastError, id); err != nil {
		return fmt.Errorf("sqlitestore: retry job: %w", err)
	}
	return nil
}

// FailJob marks a job failed for good, dropping its payload and keeping
// lastError. A missing, finished or already failed job is left alone and is
// not an error.
func (s *Store) FailJob(ctx context.Context, id string, now time.Time, lastError string) error {
	if _, err := s.w.ExecContext(ctx, qFailJob, now.UnixMilli(), lastError, id); err != nil {
		return fmt.Errorf("sqlitestore: fail job: %w", err)
	}
	return nil
}

// EnqueueJob stores j on its own, in a transaction of its own that is
// synced like any other (unless WithSynchronousNormal): once it returns, a
// crash does not lose the job. A taken id fails with the PRIMARY KEY's
// error.
func (s *Store) EnqueueJob(ctx context.Context, j store.Job) error {
	p, err := s.prepared(ctx)
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: enqueue job: %w", err)
	}
	defer rollback(tx)
	if err := insertJobs(ctx, tx, p, []store.Job{j}); err != nil {
		return fmt.Errorf("sqlitestore: enqueue job: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: enqueue job: %w", err)
	}
	return nil
}

// RenewJobs extends, in one transaction, the lease of each given job whose
// claim is still held: same attempts, lease not over at now, neither
// finished nor failed. It returns the ids renewed. The transaction is not
// synced on its own (see unsynced): a renewal matters only while the
// process that holds the job runs, and a power loss ends that process too.
func (s *Store) RenewJobs(ctx context.Context, jobs []store.Job, now, until time.Time) ([]string, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	var renewed []string
	err := s.unsynced(ctx, func(tx *sql.Tx) error {
		renewed = renewed[:0]
		st, err := tx.PrepareContext(ctx, qRenewJob)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, j := range jobs {
			res, err := st.ExecContext(ctx, until.UnixMilli(), j.ID, j.Attempts, now.UnixMilli())
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				renewed = append(renewed, j.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: renew jobs: %w", err)
	}
	return renewed, nil
}

// NextDue returns when the first pending job becomes claimable: the later
// of its run_at and claimed_until; the zero time when no job is pending.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, qNextDue).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("sqlitestore: next due: %w", err)
	}
	return sqlcore.FromNullMS(next), nil
}

// Durable reports true: the Store's state is in a file. It implements
// store.Durable.
func (s *Store) Durable() bool { return true }

// Purge deletes, in one transaction, the resets that expired or were spent
// or ended before before, the rate-limit records older than before, and the
// jobs that finished or failed before before. It returns how many rows it
// deleted. A row whose time equals before is kept.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: purge: %w", err)
	}
	defer rollback(tx)
	b := before.UnixMilli()
	var total int64
	for _, q := range []string{qPurgeResets, qPurgeRateLimits, qPurgeJobs} {
		res, err := tx.ExecContext(ctx, q, b)
		if err != nil {
			return 0, fmt.Errorf("sqlitestore: purge: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("sqlitestore: purge: %w", err)
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlitestore: purge: %w", err)
	}
	return total, nil
}
