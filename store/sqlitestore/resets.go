package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
	"github.com/passreset/passreset/token"
)

const (
	qResetByID = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left
	FROM passreset_resets WHERE id = ?`
	// The hash is the one asked for: no need to read it back.
	qResetByTokenHash = `SELECT id, user_id, email, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left
	FROM passreset_resets WHERE token_hash = ?`
	// The claim: the newest reset under the key that can take a guess,
	// read on the read pool, then its try taken by a compare-and-swap on
	// the tries it was read with, which re-checks the rest: of concurrent
	// claims on one count only one swaps, and the others read again. (Not
	// one UPDATE ... RETURNING: SQLite buffers RETURNING's rows in a
	// temporary table, which costs half a millisecond here.)
	qFindResetCode = `SELECT id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left
	FROM passreset_resets
	WHERE code_key = ?1 AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?2
		AND code_expires_at > ?2 AND code_tries_left > 0
	ORDER BY created_at DESC, id DESC LIMIT 1`
	qTakeTry = `UPDATE passreset_resets SET code_tries_left = ?3 - 1
	WHERE id = ?1 AND code_tries_left = ?3 AND used_at IS NULL AND ended_at IS NULL
		AND expires_at > ?2 AND code_expires_at > ?2`
	// ?1 is now, ?3 the session kept: active sessions but that one.
	qRevokeOtherSessions = `UPDATE passreset_sessions SET revoked_at = ?1
	WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1 AND id <> ?3`
	qSetSessionStamp = `UPDATE passreset_sessions SET stamp = ? WHERE id = ? AND user_id = ?`
	qEndResets       = `UPDATE passreset_resets SET ended_at = ?
	WHERE user_id = ? AND used_at IS NULL AND ended_at IS NULL`
	qInsertReset = `INSERT INTO passreset_resets
	(id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertJob = `INSERT INTO passreset_jobs (id, kind, user_id, payload, attempts, run_at, claimed_until, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// The conditional update that makes exactly one of concurrent
	// redemptions win: ?1 is now.
	qSpendReset = `UPDATE passreset_resets SET used_at = ?1
	WHERE id = ?2 AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?1
	RETURNING user_id, email`
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
	if _, err := tx.StmtContext(ctx, p[sEndResets]).ExecContext(ctx, r.CreatedAt.UnixMilli(), r.UserID); err != nil {
		return err
	}
	if err := s.userExists(ctx, tx, p, r.UserID); err != nil {
		return err
	}
	h := r.TokenHash
	codeKey, codeHash, codeExpires := codeColumns(r.Code)
	if _, err := tx.StmtContext(ctx, p[sInsertReset]).ExecContext(ctx,
		r.ID, r.UserID, r.Email, h[:], r.CreatedAt.UnixMilli(), r.ExpiresAt.UnixMilli(),
		sqlcore.NullMS(r.UsedAt), sqlcore.NullMS(r.EndedAt), codeKey, codeHash, codeExpires, r.Code.TriesLeft); err != nil {
		return err
	}
	if err := insertJobs(ctx, tx, p, jobs); err != nil {
		return err
	}
	return tx.Commit()
}

// userExists returns store.ErrUserNotFound, inside tx, when there is no
// user with this id.
func (s *Store) userExists(ctx context.Context, tx *sql.Tx, p *statements, userID string) error {
	if s.users != nil {
		_, err := s.users.UserByID(ctx, tx, userID)
		return hostErr("user by id", err)
	}
	key, ok := s.userKey(userID)
	if !ok {
		return store.ErrUserNotFound
	}
	var one int
	if err := tx.StmtContext(ctx, p[sUserExists]).QueryRowContext(ctx, key).Scan(&one); err != nil {
		return userErr("user by id", err)
	}
	return nil
}

// ResetByID returns the reset with this id, whatever its state, or
// store.ErrResetNotFound.
func (s *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.Reset{}, err
	}
	var v sqlcore.ResetRow // one allocation for every destination
	r, err := v.Scan(p[sResetByID].QueryRowContext(ctx, id))
	return r, resetErr("reset by id", err)
}

// ResetByTokenHash returns the reset whose token hashes to h, whatever its
// state, or store.ErrResetNotFound: one indexed lookup.
func (s *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.Reset{}, err
	}
	var v sqlcore.ResetRow
	r, err := v.ScanByHash(p[sResetByTokenHash].QueryRowContext(ctx, v.ByHash(h)))
	return r, resetErr("reset by token hash", err)
}

// codeColumns are the columns of a reset's code: NULL for a reset without
// one.
func codeColumns(c store.Code) (key, hash, expires any) {
	if c.Key == "" {
		return nil, nil, nil
	}
	return c.Key, c.Hash[:], c.ExpiresAt.UnixMilli()
}

// ClaimResetCode takes one try from the code of the newest reset under key
// that can still take a guess at now, in one transaction, and returns the
// reset as it now is; store.ErrResetNotFound when none qualifies.
//
// An indexed read finds the reset, so that a key without a live code costs
// no write; the try is then taken by a conditional update of one statement
// that swaps the count of tries read for one less.
// Like AllowRequest's record, the try is committed without a disk flush of
// its own (see unsynced): a power loss before the next synced commit may
// give a code back the tries of its last guesses. It spares every guess a
// flush, and gives a guess at a known address the cost of the record the
// Service makes of a guess at an unknown one.
func (s *Store) ClaimResetCode(ctx context.Context, key string, now time.Time) (store.Reset, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.Reset{}, fmt.Errorf("sqlitestore: claim reset code: %w", err)
	}
	// Each round reads the reset on the read pool, then swaps its count of
	// tries in a write of one statement; a round lost to a concurrent claim
	// reads again, and there are at most as many rounds as tries.
	for {
		var v sqlcore.ResetRow
		r, err := v.Scan(p[sFindResetCode].QueryRowContext(ctx, key, now.UnixMilli()))
		if err != nil {
			return store.Reset{}, resetErr("claim reset code", err)
		}
		var swapped int64
		err = s.unsynced(ctx, func(tx *sql.Tx) error {
			res, err := tx.StmtContext(ctx, p[sTakeTry]).ExecContext(ctx, r.ID, now.UnixMilli(), r.Code.TriesLeft)
			if err != nil {
				return err
			}
			swapped, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return store.Reset{}, resetErr("claim reset code", err)
		}
		if swapped == 1 {
			r.Code.TriesLeft--
			return r, nil
		}
	}
}

// EndResets ends the user's unspent, unended resets at now, in one
// statement, and returns how many.
func (s *Store) EndResets(ctx context.Context, userID string, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, qEndResets, now.UnixMilli(), userID)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: end resets: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: end resets: %w", err)
	}
	return int(n), nil
}

// ChangePassword replaces the user's hash only while it is still c.OldHash,
// and, for a new password, revokes the user's other sessions, restamps the
// kept one and inserts c.Jobs, in one transaction that begins with the
// conditional update.
func (s *Store) ChangePassword(ctx context.Context, c store.PasswordChange) (store.Changed, error) {
	out, err := s.changePassword(ctx, c)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, store.ErrPasswordChanged), errors.Is(err, store.ErrUserNotFound):
		return store.Changed{}, err
	}
	return store.Changed{}, fmt.Errorf("sqlitestore: change password: %w", err)
}

func (s *Store) changePassword(ctx context.Context, c store.PasswordChange) (store.Changed, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.Changed{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Changed{}, err
	}
	defer rollback(tx)
	if s.users != nil {
		err = s.changeHost(ctx, tx, c)
	} else {
		err = s.changeTable(ctx, tx, p, c)
	}
	if err != nil {
		return store.Changed{}, err
	}
	var out store.Changed
	if !c.Rehash {
		now := c.Now.UnixMilli()
		res, err := tx.ExecContext(ctx, qRevokeOtherSessions, now, c.UserID, c.KeepSessionID)
		if err != nil {
			return store.Changed{}, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return store.Changed{}, err
		}
		out.SessionsRevoked = int(n)
		if c.KeepSessionID != "" {
			if _, err := tx.ExecContext(ctx, qSetSessionStamp, c.KeepStamp, c.KeepSessionID, c.UserID); err != nil {
				return store.Changed{}, err
			}
		}
		if err := insertJobs(ctx, tx, p, c.Jobs); err != nil {
			return store.Changed{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return store.Changed{}, err
	}
	s.scrubWAL(ctx)
	return out, nil
}

// changeTable is ChangePassword's conditional update of a users table,
// passreset's or the host's (WithUsers), in its transaction:
// store.ErrPasswordChanged when the stored hash is no longer c.OldHash.
func (s *Store) changeTable(ctx context.Context, tx *sql.Tx, p *statements, c store.PasswordChange) error {
	key, ok := s.userKey(c.UserID)
	if !ok {
		return store.ErrUserNotFound
	}
	var (
		res sql.Result
		err error
	)
	switch {
	case c.Rehash && s.host == nil:
		res, err = tx.ExecContext(ctx, qRehash, c.NewHash, key, c.OldHash)
	case c.Rehash:
		res, err = tx.ExecContext(ctx, s.host.rehash, c.NewHash, key, c.OldHash)
	case s.host == nil:
		res, err = tx.ExecContext(ctx, qChangePassword, c.NewHash, c.Now.UnixMilli(), key, c.OldHash)
	default:
		res, err = tx.ExecContext(ctx, s.host.changePassword, c.NewHash, s.host.updatedAt(c.Now), key, c.OldHash)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		if err := s.userExists(ctx, tx, p, c.UserID); err != nil {
			return err
		}
		return store.ErrPasswordChanged
	}
	return nil
}

// resetErr translates a missing row into store.ErrResetNotFound.
func resetErr(op string, err error) error {
	return sqlcore.NoRows("sqlitestore", op, err, store.ErrResetNotFound)
}

// RedeemReset spends the reset, sets the user's password hash, marks the
// email verified, revokes the user's active sessions and inserts r.Jobs, in
// one transaction that begins with the conditional update spending the
// token: of concurrent callers exactly one wins. It returns
// store.ErrTokenExpired, store.ErrInvalidToken (spent or ended, the reset
// belongs to a user other than r.UserID, or the address it was sent to is
// no longer the user's: compared, without regard to case, with the address
// the user's row holds within the transaction) or store.ErrResetNotFound
// when the reset cannot be spent, and keeps nothing when any step fails.
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

	now := r.Now.UnixMilli()
	var userID, email string
	err = tx.StmtContext(ctx, p[sSpendReset]).QueryRowContext(ctx, now, r.ResetID).Scan(&userID, &email)
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
	if s.users != nil {
		if out.User, err = s.redeemHost(ctx, tx, userID, email, r.PasswordHash, r.Now); err != nil {
			return store.Redeemed{}, err
		}
	} else {
		out.User, err = s.setPassword(ctx, tx, p, userID, r.PasswordHash, r.Now)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Redeemed{}, store.ErrUserNotFound
		}
		if err != nil {
			return store.Redeemed{}, err
		}
		// The transaction has held the write lock since its first statement,
		// so the address read back with the user's row is the current one,
		// and no change to it can commit before this transaction ends.
		if !emailaddr.EqualFold(out.User.Email, email) {
			return store.Redeemed{}, store.ErrInvalidToken // the address is no longer the user's: rolled back
		}
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
	s.scrubWAL(ctx)
	return out, nil
}

// scrubWAL runs a truncating checkpoint after a commit that replaced a
// password hash: the pages of the write-ahead log that still hold the old
// hash (the log keeps every page image until a checkpoint resets it) are
// copied over in the database file, where secure_delete has zeroed the old
// cell, and the log is cut to nothing. It is best effort: a reader that
// holds an older snapshot makes the checkpoint stop short, and the old
// images then go with a later checkpoint. The commit has happened either
// way, so a failure is not the caller's; the next one tries again.
func (s *Store) scrubWAL(ctx context.Context) {
	_, _ = s.w.ExecContext(context.WithoutCancel(ctx), `PRAGMA wal_checkpoint(TRUNCATE)`)
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
	r := store.Reset{ExpiresAt: sqlcore.FromMS(expires), UsedAt: sqlcore.FromNullMS(used), EndedAt: sqlcore.FromNullMS(ended)}
	if err := r.Status(sqlcore.FromMS(now)); err != nil {
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
			j.RunAt.UnixMilli(), sqlcore.NullMS(j.ClaimedUntil), j.CreatedAt.UnixMilli()); err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
	}
	return nil
}
