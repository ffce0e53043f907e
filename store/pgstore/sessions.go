package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/token"
)

// CreateSession inserts sess, findable by h, with its credential stamp.
func (s *Store) CreateSession(ctx context.Context, sess session.Session, h token.Hash) error {
	_, err := s.pool.Exec(ctx, s.q[qCreateSession], sess.ID, sess.UserID, h[:],
		ms(sess.CreatedAt), ms(sess.LastSeenAt), ms(sess.ExpiresAt), nullTime(sess.RevokedAt),
		sess.UserAgent, sess.IPAddress, sess.Stamp)
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// SessionByTokenHash returns the session whose current token hashes to h,
// or session.ErrNotFound: one lookup in the unique index on token_hash.
func (s *Store) SessionByTokenHash(ctx context.Context, h token.Hash) (session.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, s.q[qSessionByTokenHash], h[:]))
	if err != nil {
		return session.Session{}, sessionErr("session by token hash", err)
	}
	return sess, nil
}

// SessionByID returns the session with this id, or session.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, s.q[qSessionByID], id))
	if err != nil {
		return session.Session{}, sessionErr("session by id", err)
	}
	return sess, nil
}

// TouchSession sets the session's LastSeenAt to at, or returns
// session.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "touch session", qTouchSession, id, ms(at))
}

// RotateSessionToken replaces the token hash oldHash with newHash, only while oldHash
// is current and the session is not revoked, and keeps oldHash as retired,
// in one statement; otherwise, as for the losers of concurrent rotations,
// it returns session.ErrNotFound.
func (s *Store) RotateSessionToken(ctx context.Context, id string, oldHash, newHash token.Hash, at time.Time) error {
	return s.execOne(ctx, "rotate session token", qRotateSessionToken, id, oldHash[:], newHash[:], ms(at))
}

// RevokeRetiredToken revokes, in one statement, the session of which h is
// a retired token hash, unless it is already revoked, and returns it; or
// session.ErrNotFound.
func (s *Store) RevokeRetiredToken(ctx context.Context, h token.Hash, at time.Time) (session.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, s.q[qRevokeRetiredToken], h[:], ms(at)))
	if err != nil {
		return session.Session{}, sessionErr("revoke retired token", err)
	}
	return sess, nil
}

// ListSessions returns a page of the user's sessions ordered by id.
func (s *Store) ListSessions(ctx context.Context, userID string, p session.ListParams) ([]session.Session, error) {
	q := qListSessions
	if p.Desc {
		q = qListSessionsDesc
	}
	rows, err := s.pool.Query(ctx, s.q[q], userID, p.Before, p.After, p.PageSize())
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (session.Session, error) { return scanSession(row) })
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	return list, nil
}

// RevokeSession sets RevokedAt to at unless the session is already revoked,
// or returns session.ErrNotFound.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "revoke session", qRevokeSession, id, ms(at))
}

// RevokeUserSessions revokes every active session of the user at at, in one
// statement, and returns how many it revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, s.q[qRevokeUserSessions], userID, ms(at))
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// PurgeSessions deletes sessions that expired or were revoked before before;
// their retired hashes go with them (ON DELETE CASCADE).
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, s.q[qPurgeSessions], ms(before))
	if err != nil {
		return 0, wrap("purge sessions", err)
	}
	return tag.RowsAffected(), nil
}

// execOne runs an update of one session by id; no row is
// session.ErrNotFound.
func (s *Store) execOne(ctx context.Context, op string, q query, args ...any) error {
	tag, err := s.pool.Exec(ctx, s.q[q], args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return session.ErrNotFound
	}
	return nil
}

func sessionErr(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return session.ErrNotFound
	}
	return wrap(op, err)
}

func scanSession(row pgx.Row) (session.Session, error) {
	var (
		sess    session.Session
		revoked pgtype.Timestamptz
	)
	err := row.Scan(&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt, &revoked,
		&sess.UserAgent, &sess.IPAddress, &sess.Stamp)
	if err != nil {
		return session.Session{}, err
	}
	sess.CreatedAt = sess.CreatedAt.UTC()
	sess.LastSeenAt = sess.LastSeenAt.UTC()
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	sess.RevokedAt = fromNull(revoked)
	return sess, nil
}
