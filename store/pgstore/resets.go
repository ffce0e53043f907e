package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// CreateReset stores r and jobs in one statement, which also ends every
// other unused reset of r.UserID at r.CreatedAt, and first checks that the
// user exists (locking its row against deletion until the commit). Nothing
// is stored when any part fails; an unknown user is store.ErrUserNotFound.
func (s *Store) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	text := s.q[qCreateReset]
	args := make([]any, 0, createResetParams+1)
	args = append(args, r.ID, r.UserID, r.Email, r.TokenHash[:], ms(r.CreatedAt), ms(r.ExpiresAt),
		nullTime(r.UsedAt), nullTime(r.EndedAt))
	if r.Code.Key == "" {
		args = append(args, nil, nil, nullTime(time.Time{}), r.Code.TriesLeft)
	} else {
		args = append(args, r.Code.Key, r.Code.Hash[:], nullTime(ms(r.Code.ExpiresAt)), r.Code.TriesLeft)
	}
	args = appendJobArrays(args, jobs)
	if s.host != nil {
		hs, err := s.hostSQL(ctx)
		if err != nil {
			return wrap("create reset", err)
		}
		key, ok := hs.key(r.UserID)
		if !ok {
			return store.ErrUserNotFound
		}
		text, args = hs.createReset, append(args, key)
	}
	b := &pgx.Batch{}
	b.Queue(s.q[qCreateResetLock], r.UserID)
	b.Queue(text, args...)
	br := s.pool.SendBatch(ctx, b)
	var found bool
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&found)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrap("create reset", err)
	}
	if !found {
		return store.ErrUserNotFound
	}
	return nil
}

// ResetByID returns the reset with this id, or store.ErrResetNotFound.
func (s *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	r, err := scanReset(s.pool.QueryRow(ctx, s.q[qResetByID], id))
	if err != nil {
		return store.Reset{}, resetErr("reset by id", err)
	}
	return r, nil
}

// ResetByTokenHash returns the reset whose token hashes to h, or
// store.ErrResetNotFound: one lookup in the unique index on token_hash.
func (s *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	r, err := scanReset(s.pool.QueryRow(ctx, s.q[qResetByTokenHash], h[:]))
	if err != nil {
		return store.Reset{}, resetErr("reset by token hash", err)
	}
	return r, nil
}

// EndResets ends the user's unspent, unended resets at now, in one
// statement, and returns how many.
func (s *Store) EndResets(ctx context.Context, userID string, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q[qEndResets], userID, ms(now))
	if err != nil {
		return 0, wrap("end resets", err)
	}
	return int(tag.RowsAffected()), nil
}

// RedeemReset spends the reset, sets the user's password hash, marks their
// email verified (where the host keeps such a flag), sets their updated
// time (where the host keeps one), revokes their active sessions and
// queues r.Jobs, all in one statement (so one transaction) whose first step
// is a conditional update: of concurrent callers, in this process or any
// other, exactly one wins. The reset is spent only while the user's row
// still holds the address it was sent to (compared exactly, or in lower
// case), checked under the row's lock in that first step. When the reset
// cannot be spent it returns store.ErrResetNotFound, store.ErrTokenExpired
// or store.ErrInvalidToken (also for a reset of another user than
// r.UserID, or one whose address is no longer the user's), or
// store.ErrUserNotFound when the user's row is gone, and changes nothing.
func (s *Store) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	now := ms(r.Now)
	text, scan := s.q[qRedeemReset], scanUser
	args := make([]any, 0, redeemResetParams+2)
	args = append(args, r.ResetID, r.UserID, now, r.PasswordHash)
	args = appendJobArrays(args, r.Jobs)
	if s.host != nil {
		hs, err := s.hostSQL(ctx)
		if err != nil {
			return store.Redeemed{}, wrap("redeem reset", err)
		}
		key, ok := hs.key(r.UserID)
		if !ok {
			// No reset can belong to a user with such an id.
			return store.Redeemed{}, s.whyNotRedeemed(ctx, r.ResetID, "", now)
		}
		text, scan, args = hs.redeemReset, hs.scan, append(args, key)
		if hs.updated != noTime {
			args = append(args, hs.updatedAt(now))
		}
	}
	var revoked int64
	u, err := scan(s.pool.QueryRow(ctx, text, args...), &revoked)
	if err == nil {
		return store.Redeemed{User: u, SessionsRevoked: int(revoked)}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Redeemed{}, wrap("redeem reset", err)
	}
	return store.Redeemed{}, s.whyNotRedeemed(ctx, r.ResetID, r.UserID, now)
}

// whyNotRedeemed tells why a redemption changed nothing. This read is off
// the hot path, and sees the reset as the winner of a race left it.
func (s *Store) whyNotRedeemed(ctx context.Context, resetID, userID string, now time.Time) error {
	var (
		st      store.Reset
		used    pgtype.Timestamptz
		ended   pgtype.Timestamptz
		expires time.Time
	)
	err := s.pool.QueryRow(ctx, s.q[qResetState], resetID).Scan(&st.UserID, &used, &ended, &expires)
	if err != nil {
		return resetErr("redeem reset", err)
	}
	st.UsedAt, st.EndedAt, st.ExpiresAt = fromNull(used), fromNull(ended), expires
	if err := st.Status(now); err != nil {
		return err
	}
	if st.UserID == userID {
		// Redeemable, and the user's: the user's row is missing, or its
		// address is no longer the reset's.
		if _, err := s.UserByID(ctx, userID); errors.Is(err, store.ErrUserNotFound) {
			return store.ErrUserNotFound
		} else if err != nil {
			return err
		}
	}
	return store.ErrInvalidToken
}

func resetErr(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrResetNotFound
	}
	return wrap(op, err)
}

func scanReset(row pgx.Row) (store.Reset, error) {
	var (
		r                        store.Reset
		h, codeHash              []byte
		used, ended, codeExpires pgtype.Timestamptz
		codeKey                  pgtype.Text
	)
	if err := row.Scan(&r.ID, &r.UserID, &r.Email, &h, &r.CreatedAt, &r.ExpiresAt, &used, &ended,
		&codeKey, &codeHash, &codeExpires, &r.Code.TriesLeft); err != nil {
		return store.Reset{}, err
	}
	r.Code.Key, r.Code.ExpiresAt = codeKey.String, fromNull(codeExpires)
	copy(r.Code.Hash[:], codeHash)
	if len(h) != len(r.TokenHash) {
		return store.Reset{}, fmt.Errorf("token hash of %d bytes", len(h))
	}
	copy(r.TokenHash[:], h)
	r.CreatedAt = r.CreatedAt.UTC()
	r.ExpiresAt = r.ExpiresAt.UTC()
	r.UsedAt = fromNull(used)
	r.EndedAt = fromNull(ended)
	return r, nil
}

// ClaimResetCode takes one try from the code of the newest reset under key
// that can still take a guess at now, and returns the reset as it now is;
// store.ErrResetNotFound when none qualifies. A read finds the reset, so
// that a key without a live code costs no write; the try is then taken by
// a conditional update that swaps the count of tries read for one less
// (a round lost to a concurrent claim reads again). That write commits
// without waiting for the WAL flush, as a rate-limit record does: a crash
// of the server may give a code back the tries of its last guesses, and
// every guess is spared a flush.
func (s *Store) ClaimResetCode(ctx context.Context, key string, now time.Time) (store.Reset, error) {
	at := ms(now)
	for {
		r, err := scanReset(s.pool.QueryRow(ctx, s.q[qFindResetCode], key, at))
		if err != nil {
			return store.Reset{}, resetErr("claim reset code", err)
		}
		b := &pgx.Batch{}
		b.Queue(s.q[qCommitUnsynced])
		b.Queue(s.q[qTakeTry], r.ID, at, r.Code.TriesLeft)
		br := s.pool.SendBatch(ctx, b)
		_, err = br.Exec()
		var tag pgconn.CommandTag
		if err == nil {
			tag, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return store.Reset{}, wrap("claim reset code", err)
		}
		if tag.RowsAffected() == 1 {
			r.Code.TriesLeft--
			return r, nil
		}
	}
}

// ChangePassword replaces the user's hash only while it is still c.OldHash
// and, for a new password, revokes the user's other sessions, restamps the
// kept one and queues c.Jobs, in one statement (so one transaction) whose
// first step is the conditional update.
func (s *Store) ChangePassword(ctx context.Context, c store.PasswordChange) (store.Changed, error) {
	now := ms(c.Now)
	text, hashQuery := s.q[qChangePassword], s.q[qPasswordHash]
	args := make([]any, 0, changePasswordParams+2)
	args = append(args, c.UserID, c.Rehash, c.NewHash, c.OldHash, now, c.KeepSessionID, c.KeepStamp)
	jobs := c.Jobs
	if c.Rehash {
		jobs = nil
	}
	args = appendJobArrays(args, jobs)
	var key any = c.UserID
	if s.host != nil {
		hs, err := s.hostSQL(ctx)
		if err != nil {
			return store.Changed{}, wrap("change password", err)
		}
		k, ok := hs.key(c.UserID)
		if !ok {
			return store.Changed{}, store.ErrUserNotFound
		}
		key, text, hashQuery = k, hs.changePassword, hs.hash
		args = append(args, k)
		if hs.updated != noTime {
			args = append(args, hs.updatedAt(now))
		}
	}
	var (
		changed bool
		revoked int64
	)
	if err := s.pool.QueryRow(ctx, text, args...).Scan(&changed, &revoked); err != nil {
		return store.Changed{}, wrap("change password", err)
	}
	if changed {
		return store.Changed{SessionsRevoked: int(revoked)}, nil
	}
	// Off the hot path: tell a missing user from a hash changed meanwhile.
	var h string
	if err := s.pool.QueryRow(ctx, hashQuery, key).Scan(&h); errors.Is(err, pgx.ErrNoRows) {
		return store.Changed{}, store.ErrUserNotFound
	} else if err != nil {
		return store.Changed{}, wrap("change password", err)
	}
	return store.Changed{}, store.ErrPasswordChanged
}
