package mysqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

const jobColumns = `id, kind, user_id, payload, attempts, run_at, claimed_until, created_at`

const (
	qInsertJobs = `INSERT INTO passreset_jobs (` + jobColumns + `, last_error) VALUES `

	// The lock that serialises the callers of one rate-limit key, on any
	// number of instances: a named lock of the server, its name a hash of
	// the database and the key (at most 64 characters, as the server
	// takes). It waits at most 10 seconds.
	qRateLock   = `SELECT GET_LOCK(CONCAT('passreset/rl/', LEFT(SHA2(CONCAT(DATABASE(), '/', ?), 256), 40)), 10)`
	qRateUnlock = `DO RELEASE_LOCK(CONCAT('passreset/rl/', LEFT(SHA2(CONCAT(DATABASE(), '/', ?), 256), 40)))`
	// The window: after now-window, at or before now+store.MaxClockSkew.
	qRateCount   = `SELECT COUNT(*), MIN(at) FROM passreset_rate_limits WHERE rate_key = ? AND at > ? AND at <= ?`
	qRateRecord  = `INSERT INTO passreset_rate_limits (rate_key, at) VALUES (?, ?)`
	qPendingJobs = `finished_at IS NULL AND failed_at IS NULL`

	// Read in the index's order and locked one by one up to the limit (a
	// table scan and a sort, the plan a small table gets, would lock every
	// due row). Not SKIP LOCKED: InnoDB may lock a row past the limit that
	// the claim then does not take, and a concurrent claimer that skipped
	// it would leave it unclaimed; waiting instead, the second claimer
	// reads each row the first one held once that one commits, and takes
	// those it left. Claimers lock in one order, so they never deadlock.
	qSelectDueJobs = `SELECT ` + jobColumns + ` FROM passreset_jobs FORCE INDEX (passreset_jobs_due)
	WHERE ` + qPendingJobs + ` AND run_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
	ORDER BY run_at, id LIMIT ? FOR UPDATE`
	qClaimJobs = `UPDATE passreset_jobs SET claimed_until = ?, attempts = attempts + 1 WHERE id IN `
	qFinishJob = `UPDATE passreset_jobs SET finished_at = ?, payload = NULL, claimed_until = NULL
	WHERE id = ? AND finished_at IS NULL`
	qRetryJob = `UPDATE passreset_jobs SET run_at = ?, claimed_until = NULL, last_error = ?
	WHERE id = ? AND ` + qPendingJobs
	qFailJob = `UPDATE passreset_jobs SET failed_at = ?, payload = NULL, claimed_until = NULL, last_error = ?
	WHERE id = ? AND ` + qPendingJobs
	// The jobs held by the claims given, as (id, attempts) pairs.
	qHeldJobs = `SELECT id FROM passreset_jobs
	WHERE claimed_until > ? AND ` + qPendingJobs + ` AND (id, attempts) IN `
	qRenewJobs = `UPDATE passreset_jobs SET claimed_until = ? WHERE id IN `
	// GREATEST is NULL when an argument is: an unclaimed job counts its
	// run_at.
	qNextDue = `SELECT MIN(GREATEST(run_at, COALESCE(claimed_until, run_at))) FROM passreset_jobs
	WHERE ` + qPendingJobs
)

// purges are the deletes of Purge, each given before once per ?.
var purges = []string{
	`DELETE FROM passreset_resets WHERE expires_at < ? OR used_at < ? OR ended_at < ?`,
	`DELETE FROM passreset_rate_limits WHERE at < ?`,
	`DELETE FROM passreset_jobs WHERE finished_at < ? OR failed_at < ?`,
}

// insertJobs inserts jobs in one statement inside tx. A job id already
// taken fails it, and with it the transaction.
func insertJobs(ctx context.Context, tx *sql.Tx, jobs []store.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, qInsertJobs+placeholders(len(jobs), 9), jobArgs(jobs)...)
	return err
}

func jobArgs(jobs []store.Job) []any {
	args := make([]any, 0, 9*len(jobs))
	for _, j := range jobs {
		payload := j.Payload
		args = append(args, j.ID, string(j.Kind), j.UserID, payload, j.Attempts,
			j.RunAt.UnixMilli(), sqlcore.NullMS(j.ClaimedUntil), j.CreatedAt.UnixMilli(), "")
	}
	return args
}

// AllowRequest is the sliding-window rate limit of store.Store. Its
// callers for one key queue on a named lock of the server (GET_LOCK), on
// any number of instances; holding it, a caller counts the records of the
// window (those recorded after now included, up to store.MaxClockSkew
// ahead: further ones came from a clock that ran fast) and, under the limit,
// records one, committed before the lock is released. Each statement is a
// transaction of its own, whose read sees every record committed before.
func (s *Store) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	at := now.UnixMilli()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, qRateLock, key).Scan(&got); err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return false, time.Time{}, wrap("allow request", errLockTimeout)
	}
	defer func() {
		// Released even when ctx is done; a connection that cannot release
		// it is closed, which releases it.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), qRateUnlock, key); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	var (
		n      int64
		oldest sql.NullInt64
	)
	if err := conn.QueryRowContext(ctx, qRateCount, key, now.Add(-window).UnixMilli(), now.Add(store.MaxClockSkew).UnixMilli()).Scan(&n, &oldest); err != nil {
		return false, time.Time{}, wrap("allow request", err)
	}
	if n < int64(limit) {
		if _, err := conn.ExecContext(ctx, qRateRecord, key, at); err != nil {
			return false, time.Time{}, wrap("allow request", err)
		}
		return true, time.Time{}, nil
	}
	if !oldest.Valid { // limit <= 0: nothing counted, nothing allowed
		return false, sqlcore.FromMS(at).Add(window), nil
	}
	// A record within the skew ahead of now would put the retry past one
	// window: never later than that.
	return false, sqlcore.FromMS(min(oldest.Int64, at)).Add(window), nil
}

// ClaimJobs claims up to max due jobs, oldest RunAt first, in one
// transaction that reads them with SELECT ... FOR UPDATE (a dispatcher
// claiming at the same instant waits for the other's commit, then reads
// the rows as it left them) and extends their claims.
func (s *Store) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Job, error) {
	if max <= 0 {
		return nil, nil
	}
	at, until := now.UnixMilli(), now.Add(lease).UnixMilli()
	var jobs []store.Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		jobs = jobs[:0]
		rows, err := tx.QueryContext(ctx, qSelectDueJobs, at, at, max)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				j            store.Job
				kind         string
				run, created int64
				claimed      sql.NullInt64
			)
			if err := rows.Scan(&j.ID, &kind, &j.UserID, &j.Payload, &j.Attempts, &run, &claimed, &created); err != nil {
				return err
			}
			j.Kind, j.RunAt, j.CreatedAt = store.JobKind(kind), sqlcore.FromMS(run), sqlcore.FromMS(created)
			j.Attempts++
			j.ClaimedUntil = sqlcore.FromMS(until)
			jobs = append(jobs, j)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(jobs) == 0 {
			return nil
		}
		args := make([]any, 0, len(jobs)+1)
		args = append(args, until)
		for _, j := range jobs {
			args = append(args, j.ID)
		}
		_, err = tx.ExecContext(ctx, qClaimJobs+"("+strings.TrimSuffix(strings.Repeat("?, ", len(jobs)), ", ")+")", args...)
		return err
	})
	if err != nil {
		return nil, wrap("claim jobs", err)
	}
	sortJobs(jobs)
	return jobs, nil
}

// FinishJob marks the job done and drops its payload. A job already
// finished, or missing, is not an error.
func (s *Store) FinishJob(ctx context.Context, id string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, qFinishJob, now.UnixMilli(), id); err != nil {
		return wrap("finish job", err)
	}
	return nil
}

// RetryJob releases the job to run again at runAt and records lastError.
// A job that is missing, finished or failed is left alone.
func (s *Store) RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error {
	if _, err := s.db.ExecContext(ctx, qRetryJob, runAt.UnixMilli(), lastError, id); err != nil {
		return wrap("retry job", err)
	}
	return nil
}

// FailJob marks the job failed for good, drops its payload and keeps
// lastError. A job that is missing, finished or failed is left alone.
func (s *Store) FailJob(ctx context.Context, id string, now time.Time, lastError string) error {
	if _, err := s.db.ExecContext(ctx, qFailJob, now.UnixMilli(), lastError, id); err != nil {
		return wrap("fail job", err)
	}
	return nil
}

// EnqueueJob stores j on its own, in one statement committed (and, with
// InnoDB's default innodb_flush_log_at_trx_commit=1, flushed to disk)
// before it returns. A taken id fails the primary key.
func (s *Store) EnqueueJob(ctx context.Context, j store.Job) error {
	if _, err := s.db.ExecContext(ctx, qInsertJobs+placeholders(1, 9), jobArgs([]store.Job{j})...); err != nil {
		return wrap("enqueue job", err)
	}
	return nil
}

// RenewJobs extends, in one transaction, the lease of each given job whose
// claim is still held: same attempts, lease not over at now, neither
// finished nor failed. It reads those with SELECT ... FOR UPDATE, then
// extends them, and returns their ids.
func (s *Store) RenewJobs(ctx context.Context, jobs []store.Job, now, until time.Time) ([]string, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	var renewed []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		renewed = renewed[:0]
		args := make([]any, 0, 1+2*len(jobs))
		args = append(args, now.UnixMilli())
		for _, j := range jobs {
			args = append(args, j.ID, j.Attempts)
		}
		rows, err := tx.QueryContext(ctx, qHeldJobs+"("+placeholders(len(jobs), 2)+") FOR UPDATE", args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			renewed = append(renewed, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(renewed) == 0 {
			return nil
		}
		args = append(args[:0], until.UnixMilli())
		for _, id := range renewed {
			args = append(args, id)
		}
		_, err = tx.ExecContext(ctx, qRenewJobs+"("+strings.TrimSuffix(strings.Repeat("?, ", len(renewed)), ", ")+")", args...)
		return err
	})
	if err != nil {
		return nil, wrap("renew jobs", err)
	}
	return renewed, nil
}

// NextDue returns when the first pending job becomes claimable: the later
// of its run_at and claimed_until; the zero time when no job is pending.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := s.db.QueryRowContext(ctx, qNextDue).Scan(&next); err != nil {
		return time.Time{}, wrap("next due", err)
	}
	return sqlcore.FromNullMS(next), nil
}

// Purge deletes resets that expired or were spent or ended before before,
// rate-limit records older than before, and jobs that finished or failed
// before before, one table after another. It returns how many rows it
// deleted.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	at := before.UnixMilli()
	var total int64
	for _, q := range purges {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = at
		}
		res, err := s.db.ExecContext(ctx, q, args...)
		if err != nil {
			return total, wrap("purge", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, wrap("purge", err)
		}
		total += n
	}
	return total, nil
}

func sortJobs(jobs []store.Job) {
	slices.SortFunc(jobs, func(a, b store.Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

var errLockTimeout = errors.New("another caller held the key's lock for 10 seconds")
