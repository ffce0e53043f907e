package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

const (
	qResetByID = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at
	FROM passreset_resets WHERE id = ?`
	// The hash is the one asked for: no need to read it back.
	qResetByTokenHash = `SELECT id, user_id, email, created_at, expires_at, used_at, ended_at
	FROM passreset_resets WHERE token_hash = ?`
	qEndResets = `UPDATE passreset_resets SET ended_at = ?
	WHERE user_id = ? AND used_at IS NULL AND ended_at IS NULL`
	qInsertReset = `INSERT INTO passreset_resets
	(id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertJob = `INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// The conditional update that makes exactly one of concurrent
	// redemptions win: ?1 is now.
	qSpendReset = `UPDATE passreset_resets SET used_at = ?1
	WHERE id = ?2 AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?1
	RETURNING user_id`
	qResetState = `SELECT expires_at, used_at, ended_at FROM passreset_resets WHERE id = ?`
	// ?1 is now: active sessions are neither revoked nor expired.
	qRevokeUserSessions = `UPDATE passreset_sessions SET revoked_at = ?1
	WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1`
)

// CreateReset stores r and jobs in one transaction, in which it first ends
// every other unused reset of r.UserID at r.CreatedAt. Nothing is stored
// when any part fails. A reset of a user this Store does not hold fails
// with an error matching store.ErrUserNotFound.
func (s *Store) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	if err := s.createReset(ctx, r, jobs); err != nil {
		return fmt.Errorf("sqlitestore: create reset: %w", err)
	}
	return nil
}

func (s *Store) createReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	p, err := s.prepared(ctx)
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	// A write first: the transaction holds the write lock from its start.
	if _, err := tx.StmtContext(ctx, p[sEndResets]).ExecContext(ctx, millis(r.CreatedAt), r.UserID); err != nil {
		return err
	}
	key, ok := s.userKey(r.UserID)
	if !ok {
		return store.ErrUserNotFound
	}
	var one int
	if err := tx.StmtContext(ctx, p[sUserExists]).QueryRowContext(ctx, key).Scan(&one); err != nil {
		return userErr("user by id", err)
	}
	h := r.TokenHash
	if _, err := tx.StmtContext(ctx, p[sInsertReset]).ExecContext(ctx,
		r.ID, r.UserID, r.Email, h[:], millis(r.CreatedAt), millis(r.ExpiresAt),
		nullMillis(r.UsedAt), nullMillis(r.EndedAt)); err != nil {
		return err
	}
	if err := insertJobs(ctx, tx, p, jobs); err != nil {
		return err
	}
	return tx.Commit()
}

// ResetByID returns the reset with this id, whatever its state, or
// store.ErrResetNotFound.
func (s *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.Reset{}, err
	}
	var v resetRow // one allocation for every destination
	err = p[sResetByID].QueryRowContext(ctx, id).Scan(&v.r.ID, &v.r.UserID, &v.r.Email,
		(*hash32)(&v.r.TokenHash), &v.created, &v.expires, &v.used, &v.ended)
	if err != nil {
		return store.Reset{}, resetErr("reset by id", err)
	}
	return v.reset(), nil
}

// ResetByTokenHash returns the reset whose token hashes to h, whatever its
// state, or store.ErrResetNotFound: one indexed lookup.
func (s *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.Reset{}, err
	}
	v := resetRow{r: store.Reset{TokenHash: h}}
	err = p[sResetByTokenHash].QueryRowContext(ctx, v.r.TokenHash[:]).Scan(&v.r.ID, &v.r.UserID, &v.r.Email,
		&v.created, &v.expires, &v.used, &v.ended)
	if err != nil {
		return store.Reset{}, resetErr("reset by token hash", err)
	}
	return v.reset(), nil
}

// resetRow gathers the scan destinations of a reset, so that they escape
// to the heap as one allocation rather than one each.
type resetRow struct {
	r                store.Reset
	created, expires int64
	used, ended      sql.NullInt64
}

func (v *resetRow) reset() store.Reset {
	v.r.CreatedAt, v.r.ExpiresAt = fromMillis(v.created), fromMillis(v.expires)
	v.r.UsedAt, v.r.EndedAt = fromNullMillis(v.used), fromNullMillis(v.ended)
	return v.r
}

func resetErr(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrResetNotFound
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

// RedeemReset spends the reset, sets the user's password hash, marks the
// email verified, revokes the user's active sessions and inserts r.Jobs, in
// one transaction that begins with the conditional update spending the
// token: of concurrent callers exactly one wins. It returns
// store.ErrTokenExpired, store.ErrInvalidToken (spent or ended, or the reset
// belongs to a user other than r.UserID) or store.ErrResetNotFound when the
// reset cannot be spent, and keeps nothing when any step fails.
func (s *Store) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	out, err := s.redeemReset(ctx, r)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, store.ErrTokenExpired), errors.Is(err, store.ErrInvalidToken),
		errors.Is(err, store.ErrResetNotFound), errors.Is(err, store.ErrUserNotFound):
		return store.Redeemed{}, err
	}
	return store.Redeemed{}, fmt.Errorf("sqlitestore: redeem reset: %w", err)
}

func (s *Store) redeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.Redeemed{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Redeemed{}, err
	}
	defer rollback(tx)

	now := millis(r.Now)
	var userID string
	err = tx.StmtContext(ctx, p[sSpendReset]).QueryRowContext(ctx, now, r.ResetID).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Redeemed{}, whyNotSpent(ctx, tx, r.ResetID, now)
	}
	if err != nil {
		return store.Redeemed{}, err
	}
	if r.UserID != "" && r.UserID != userID {
		return store.Redeemed{}, store.ErrInvalidToken // rolled back
	}

	var out store.Redeemed
	out.User, err = s.setPassword(ctx, tx, p, userID, r.PasswordHash, r.Now)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Redeemed{}, store.ErrUserNotFound
	}
	if err != nil {
		return store.Redeemed{}, err
	}
	res, err := tx.StmtContext(ctx, p[sRevokeUserSessions]).ExecContext(ctx, now, userID)
	if err != nil {
		return store.Redeemed{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Redeemed{}, err
	}
	out.SessionsRevoked = int(n)
	if err := insertJobs(ctx, tx, p, r.Jobs); err != nil {
		return store.Redeemed{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.Redeemed{}, err
	}
	return out, nil
}

// whyNotSpent tells, inside the transaction whose conditional update
// matched nothing, why the reset could not be spent, judging it as
// store.Reset.Status does at the stored precision.
func whyNotSpent(ctx context.Context, tx *sql.Tx, id string, now int64) error {
	var (
		expires     int64
		used, ended sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, qResetState, id).Scan(&expires, &used, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrResetNotFound
	}
	if err != nil {
		return err
	}
	r := store.Reset{ExpiresAt: fromMillis(expires), UsedAt: fromNullMillis(used), EndedAt: fromNullMillis(ended)}
	if err := r.Status(fromMillis(now)); err != nil {
		return err
	}
	return store.ErrInvalidToken // not reached: the update would have matched
}

// insertJobs inserts jobs inside tx. A job id already taken fails the
// insert, and with it the transaction.
func insertJobs(ctx context.Context, tx *sql.Tx, p *statements, jobs []store.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	ins := tx.StmtContext(ctx, p[sInsertJob])
	for _, j := range jobs {
		if _, err := ins.ExecContext(ctx, j.ID, string(j.Kind), j.UserID, j.Payload, j.Attempts,
			millis(j.RunAt), nullMillis(j.ClaimedUntil), millis(j.CreatedAt)); err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
	}
	return nil
}
