package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// CreateReset stores r and jobs in one statement, which also ends every
// other unused reset of r.UserID at r.CreatedAt. Nothing is stored when any
// part fails; an unknown user is reset.ErrUserNotFound.
func (s *Store) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	args := make([]any, 0, 16)
	args = append(args, r.ID, r.UserID, r.Email, r.TokenHash[:], ms(r.CreatedAt), ms(r.ExpiresAt),
		nullTime(r.UsedAt), nullTime(r.EndedAt))
	args = appendJobArrays(args, jobs)
	_, err := s.pool.Exec(ctx, s.q[qCreateReset], args...)
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == pgForeignKeyViolation && pe.ConstraintName == resetUserFK {
		return reset.ErrUserNotFound
	}
	if err != nil {
		return wrap("create reset", err)
	}
	return nil
}

// ResetByID returns the reset with this id, or reset.ErrResetNotFound.
func (s *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	r, err := scanReset(s.pool.QueryRow(ctx, s.q[qResetByID], id))
	if err != nil {
		return store.Reset{}, resetErr("reset by id", err)
	}
	return r, nil
}

// ResetByTokenHash returns the reset whose token hashes to h, or
// reset.ErrResetNotFound: one lookup in the unique index on token_hash.
func (s *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	r, err := scanReset(s.pool.QueryRow(ctx, s.q[qResetByTokenHash], h[:]))
	if err != nil {
		return store.Reset{}, resetErr("reset by token hash", err)
	}
	return r, nil
}

// RedeemReset spends the reset, sets the user's password hash, marks their
// email verified, revokes their active sessions and queues r.Jobs, all in
// one statement (so one transaction) whose first step is a conditional
// update: of concurrent callers, in this process or any other, exactly one
// wins. When the reset cannot be spent it returns reset.ErrResetNotFound,
// reset.ErrTokenExpired or reset.ErrInvalidToken (also for a reset of
// another user than r.UserID), and changes nothing.
func (s *Store) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	now := ms(r.Now)
	args := make([]any, 0, 12)
	args = append(args, r.ResetID, r.UserID, now, r.PasswordHash)
	args = appendJobArrays(args, r.Jobs)
	var revoked int64
	u, err := scanUser(s.pool.QueryRow(ctx, s.q[qRedeemReset], args...), &revoked)
	if err == nil {
		return store.Redeemed{User: u, SessionsRevoked: int(revoked)}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Redeemed{}, wrap("redeem reset", err)
	}
	// Nothing was changed: tell why. This read is off the hot path, and sees
	// the reset as the winner of a race left it.
	var (
		st      store.Reset
		used    pgtype.Timestamptz
		ended   pgtype.Timestamptz
		expires time.Time
	)
	err = s.pool.QueryRow(ctx, s.q[qResetState], r.ResetID).Scan(&st.UserID, &used, &ended, &expires)
	if err != nil {
		return store.Redeemed{}, resetErr("redeem reset", err)
	}
	st.UsedAt, st.EndedAt, st.ExpiresAt = fromNull(used), fromNull(ended), expires
	if err := st.Status(now); err != nil {
		return store.Redeemed{}, err
	}
	return store.Redeemed{}, reset.ErrInvalidToken
}

func resetErr(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return reset.ErrResetNotFound
	}
	return wrap(op, err)
}

func scanReset(row pgx.Row) (store.Reset, error) {
	var (
		r           store.Reset
		h           []byte
		used, ended pgtype.Timestamptz
	)
	if err := row.Scan(&r.ID, &r.UserID, &r.Email, &h, &r.CreatedAt, &r.ExpiresAt, &used, &ended); err != nil {
		return store.Reset{}, err
	}
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
