package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlcore"
	"github.com/passreset/passreset/token"
)

const resetColumns = `id, user_id, email, token_hash, created_at, expires_at, used_at, ended_at,
	code_key, code_hash, code_expires_at, code_tries_left`

const (
	qEndResets = `UPDATE passreset_resets SET ended_at = ?
	WHERE user_id = ? AND used_at IS NULL AND ended_at IS NULL`
	qInsertReset = `INSERT INTO passreset_resets (` + resetColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qResetByID        = `SELECT ` + resetColumns + ` FROM passreset_resets WHERE id = ?`
	qResetByTokenHash = `SELECT ` + resetColumns + ` FROM passreset_resets WHERE token_hash = ?`
	// The conditional update that makes exactly one of concurrent
	// redemptions win: InnoDB's UPDATE reads the latest committed row and
	// locks it, so the losers wait for the winner's commit, then find
	// used_at set and match nothing.
	qSpendReset = `UPDATE passreset_resets SET used_at = ?
	WHERE id = ? AND user_id = ? AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?`
	qResetState = `SELECT user_id, used_at, ended_at, expires_at FROM passreset_resets WHERE id = ?`
	qResetEmail = `SELECT email FROM passreset_resets WHERE id = ?`
	// Active sessions: neither revoked nor expired.
	qRevokeUserSessions = `UPDATE passreset_sessions SET revoked_at = ?
	WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`
	qRevokeOtherSessions = `UPDATE passreset_sessions SET revoked_at = ?
	WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?`
	qSetSessionStamp = `UPDATE passreset_sessions SET stamp = ? WHERE id = ? AND user_id = ?`

	// The claim: the newest reset under the key that can take a guess,
	// then its try taken by a compare-and-swap on the tries it was read
	// with, which re-checks the rest: of concurrent claims on one count
	// only one swaps (the others wait for its row lock, find the count
	// changed, and read again).
	qFindResetCode = `SELECT ` + resetColumns + ` FROM passreset_resets
	WHERE code_key = ? AND used_at IS NULL AND ended_at IS NULL AND expires_at > ?
		AND code_expires_at > ? AND code_tries_left > 0
	ORDER BY created_at DESC, id DESC LIMIT 1`
	qTakeTry = `UPDATE passreset_resets SET code_tries_left = code_tries_left - 1
	WHERE id = ? AND code_tries_left = ? AND used_at IS NULL AND ended_at IS NULL
		AND expires_at > ? AND code_expires_at > ?`
)

// CreateReset stores r and jobs in one transaction, which first reads the
// user's row with SELECT ... FOR UPDATE (an unknown user is
// store.ErrUserNotFound), then ends every other unused reset of r.UserID
// at r.CreatedAt. The row lock queues the creations for one user, on any
// number of instances, until each commits: the UPDATE of the next one
// reads the latest committed rows, so it ends the reset the previous one
// made, and only the newest link works. Nothing is stored when any part
// fails.
func (s *Store) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	us, err := s.users(ctx)
	if err != nil {
		return wrap("create reset", err)
	}
	key, ok := us.key(r.UserID)
	if !ok {
		return store.ErrUserNotFound
	}
	codeKey, codeHash, codeExpires := codeColumns(r.Code)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := us.scan(tx.QueryRowContext(ctx, us.lock, key)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qEndResets, r.CreatedAt.UnixMilli(), r.UserID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qInsertReset, r.ID, r.UserID, r.Email, r.TokenHash[:],
			r.CreatedAt.UnixMilli(), r.ExpiresAt.UnixMilli(), sqlcore.NullMS(r.UsedAt), sqlcore.NullMS(r.EndedAt),
			codeKey, codeHash, codeExpires, r.Code.TriesLeft); err != nil {
			return err
		}
		return insertJobs(ctx, tx, jobs)
	})
	return userErr("create reset", err)
}

// codeColumns are the columns of a reset's code: NULL for a reset without
// one.
func codeColumns(c store.Code) (key, hash, expires any) {
	if c.Key == "" {
		return nil, nil, nil
	}
	return c.Key, c.Hash[:], c.ExpiresAt.UnixMilli()
}

// ResetByID returns the reset with this id, or store.ErrResetNotFound.
func (s *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	r, err := scanReset(s.db.QueryRowContext(ctx, qResetByID, id))
	if err != nil {
		return store.Reset{}, resetErr("reset by id", err)
	}
	return r, nil
}

// ResetByTokenHash returns the reset whose token hashes to h, or
// store.ErrResetNotFound: one lookup in the unique index on token_hash.
func (s *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	r, err := scanReset(s.db.QueryRowContext(ctx, qResetByTokenHash, h[:]))
	if err != nil {
		return store.Reset{}, resetErr("reset by token hash", err)
	}
	return r, nil
}

// RedeemReset spends the reset, sets the user's password hash, marks their
// email verified (where the host keeps such a flag), sets their updated
// time (where the host keeps one), revokes their active sessions and
// queues r.Jobs, all in one transaction. It first locks the user's row
// (SELECT ... FOR UPDATE, as CreateReset does, so that the two never wait
// on each other in opposite orders), then spends the reset by a
// conditional update: of concurrent callers, in this process or any other,
// exactly one wins. When the reset cannot be spent it returns
// store.ErrResetNotFound, store.ErrTokenExpired or store.ErrInvalidToken
// (also for a reset of another user than r.UserID, or one whose address
// is no longer the user's: compared, without regard to case, with the
// address in the user's row, read under its lock), or
// store.ErrUserNotFound when the user's row is gone, and changes nothing.
func (s *Store) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	us, err := s.users(ctx)
	if err != nil {
		return store.Redeemed{}, wrap("redeem reset", err)
	}
	key, ok := us.key(r.UserID)
	if !ok {
		// No reset can belong to a user with such an id.
		return store.Redeemed{}, s.whyNotRedeemed(ctx, r.ResetID, "", r.Now)
	}
	now := r.Now.UnixMilli()
	var out store.Redeemed
	errNotSpent, errAddressGone := errors.New("not spent"), errors.New("address gone")
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := us.scan(tx.QueryRowContext(ctx, us.lock, key))
		if err != nil {
			return err // sql.ErrNoRows: no such user
		}
		res, err := tx.ExecContext(ctx, qSpendReset, now, r.ResetID, r.UserID, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errNotSpent
		}
		// The user's row is locked since the transaction's first read, so
		// the address it holds is the current one, and no change to it
		// commits before this transaction ends.
		var email string
		if err := tx.QueryRowContext(ctx, qResetEmail, r.ResetID).Scan(&email); err != nil {
			return err
		}
		// Compared in the form UserByEmail matches by (hostusers.Fold):
		// a row stored in NFD or with a Unicode domain is still the
		// address the reset was sent to.
		if !emailaddr.EqualFold(u.Email, email) {
			return errAddressGone // rolled back: the reset stays unspent
		}
		args := []any{r.PasswordHash}
		if us.updated != nil {
			args = append(args, us.updated(r.Now))
		}
		if _, err := tx.ExecContext(ctx, us.setPassword, append(args, key)...); err != nil {
			return err
		}
		if us.verifies {
			u.EmailVerified = true
		}
		if s.host == nil {
			u.UpdatedAt = sqlcore.FromMS(now)
		}
		res, err = tx.ExecContext(ctx, qRevokeUserSessions, now, r.UserID, now)
		if err != nil {
			return err
		}
		revoked, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if err := insertJobs(ctx, tx, r.Jobs); err != nil {
			return err
		}
		out = store.Redeemed{User: u, SessionsRevoked: int(revoked)}
		return nil
	})
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, errAddressGone):
		return store.Redeemed{}, store.ErrInvalidToken
	case errors.Is(err, errNotSpent):
		return store.Redeemed{}, s.whyNotRedeemed(ctx, r.ResetID, r.UserID, r.Now)
	case errors.Is(err, sql.ErrNoRows):
		// The user's row is missing: say why the reset could not be spent
		// anyway, or that the user is gone.
		return store.Redeemed{}, s.whyNotRedeemed(ctx, r.ResetID, r.UserID, r.Now)
	}
	return store.Redeemed{}, wrap("redeem reset", err)
}

// EndResets ends the user's unspent, unended resets at now, in one
// statement, and returns how many.
func (s *Store) EndResets(ctx context.Context, userID string, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, qEndResets, now.UnixMilli(), userID)
	if err != nil {
		return 0, wrap("end resets", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("end resets", err)
	}
	return int(n), nil
}

// whyNotRedeemed tells why a redemption changed nothing. This read is off
// the hot path, and sees the reset as the winner of a race left it.
func (s *Store) whyNotRedeemed(ctx context.Context, resetID, userID string, now time.Time) error {
	var (
		st          store.Reset
		used, ended sql.NullInt64
		expires     int64
	)
	err := s.db.QueryRowContext(ctx, qResetState, resetID).Scan(&st.UserID, &used, &ended, &expires)
	if err != nil {
		return resetErr("redeem reset", err)
	}
	st.UsedAt, st.EndedAt, st.ExpiresAt = sqlcore.FromNullMS(used), sqlcore.FromNullMS(ended), sqlcore.FromMS(expires)
	if err := st.Status(sqlcore.FromMS(now.UnixMilli())); err != nil {
		return err
	}
	if st.UserID == userID {
		// Redeemable, and the user's: the user's row is missing.
		return store.ErrUserNotFound
	}
	return store.ErrInvalidToken
}

// resetErr translates a missing row into store.ErrResetNotFound.
func resetErr(op string, err error) error {
	return sqlcore.NoRows("mysqlstore", op, err, store.ErrResetNotFound)
}

// scanReset reads the columns of resetColumns.
func scanReset(r *sql.Row) (store.Reset, error) { return new(sqlcore.ResetRow).Scan(r) }

// ClaimResetCode takes one try from the code of the newest reset under key
// that can still take a guess at now, and returns the reset as it now is;
// store.ErrResetNotFound when none qualifies. A read finds the reset, so
// that a key without a live code costs no write; the try is then taken by
// a conditional update that swaps the count of tries read for one less (a
// round lost to a concurrent claim reads again).
func (s *Store) ClaimResetCode(ctx context.Context, key string, now time.Time) (store.Reset, error) {
	at := now.UnixMilli()
	for {
		r, err := scanReset(s.db.QueryRowContext(ctx, qFindResetCode, key, at, at))
		if err != nil {
			return store.Reset{}, resetErr("claim reset code", err)
		}
		res, err := s.db.ExecContext(ctx, qTakeTry, r.ID, r.Code.TriesLeft, at, at)
		if err != nil {
			return store.Reset{}, wrap("claim reset code", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return store.Reset{}, wrap("claim reset code", err)
		}
		if n == 1 {
			r.Code.TriesLeft--
			return r, nil
		}
	}
}

// ChangePassword replaces the user's hash only while it is still c.OldHash
// and, for a new password, revokes the user's other sessions, restamps the
// kept one and queues c.Jobs, in one transaction whose first statement is
// the conditional update (which locks the user's row).
func (s *Store) ChangePassword(ctx context.Context, c store.PasswordChange) (store.Changed, error) {
	us, err := s.users(ctx)
	if err != nil {
		return store.Changed{}, wrap("change password", err)
	}
	key, ok := us.key(c.UserID)
	if !ok {
		return store.Changed{}, store.ErrUserNotFound
	}
	now := c.Now.UnixMilli()
	var out store.Changed
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		switch {
		case c.Rehash:
			res, err = tx.ExecContext(ctx, us.rehash, c.NewHash, key, c.OldHash)
		case us.updated != nil:
			res, err = tx.ExecContext(ctx, us.changePassword, c.NewHash, us.updated(c.Now), key, c.OldHash)
		default:
			res, err = tx.ExecContext(ctx, us.changePassword, c.NewHash, key, c.OldHash)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// No row changed: no such user, a hash changed meanwhile, or
			// (MySQL counts changed rows, not matched ones) the row was
			// already as written. The update locked the row if it exists.
			var h string
			if err := tx.QueryRowContext(ctx, us.hash+` FOR UPDATE`, key).Scan(&h); err != nil {
				return err
			}
			if h != c.OldHash || h != c.NewHash {
				return store.ErrPasswordChanged
			}
		}
		if c.Rehash {
			return nil
		}
		res, err = tx.ExecContext(ctx, qRevokeOtherSessions, now, c.UserID, now, c.KeepSessionID)
		if err != nil {
			return err
		}
		revoked, err := res.RowsAffected()
		if err != nil {
			return err
		}
		out.SessionsRevoked = int(revoked)
		if c.KeepSessionID != "" {
			if _, err := tx.ExecContext(ctx, qSetSessionStamp, c.KeepStamp, c.KeepSessionID, c.UserID); err != nil {
				return err
			}
		}
		return insertJobs(ctx, tx, c.Jobs)
	})
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, store.ErrPasswordChanged):
		return store.Changed{}, err
	}
	return store.Changed{}, userErr("change password", err)
}
