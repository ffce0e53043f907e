package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/internal/sqlcore"
	"github.com/passreset/passreset/store/internal/sqlrows"
	"github.com/passreset/passreset/token"
)

const (
	qCreateSession = `INSERT INTO passreset_sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at,
		revoked_at, user_agent, ip_address, stamp)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qSessionByTokenHash = `SELECT ` + sqlcore.SessionColumns + ` FROM passreset_sessions WHERE token_hash = ?`
	qSessionByID        = `SELECT ` + sqlcore.SessionColumns + ` FROM passreset_sessions WHERE id = ?`
	qSessionExists      = `SELECT 1 FROM passreset_sessions WHERE id = ?`
	qTouchSession       = `UPDATE passreset_sessions SET last_seen_at = ? WHERE id = ?`
	qRotateSessionToken = `UPDATE passreset_sessions SET token_hash = ?, last_seen_at = ?
	WHERE id = ? AND token_hash = ? AND revoked_at IS NULL`
	qRotatedTo    = `SELECT 1 FROM passreset_sessions WHERE id = ? AND token_hash = ? AND revoked_at IS NULL`
	qListSessions = `SELECT ` + sqlcore.SessionColumns + ` FROM passreset_sessions
	WHERE user_id = ? AND (? = '' OR id < ?) AND (? = '' OR id > ?)
	ORDER BY id LIMIT ?`
	qListSessionsDesc = `SELECT ` + sqlcore.SessionColumns + ` FROM passreset_sessions
	WHERE user_id = ? AND (? = '' OR id < ?) AND (? = '' OR id > ?)
	ORDER BY id DESC LIMIT ?`
	qRevokeSession = `UPDATE passreset_sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`
	qRetireToken   = `INSERT INTO passreset_retired_session_tokens (token_hash, session_id, retired_at) VALUES (?, ?, ?)`
	qRetiredOf     = `SELECT session_id FROM passreset_retired_session_tokens WHERE token_hash = ?`
	// The retired hashes go first, with the sessions they belong to.
	qPurgeRetired = `DELETE r FROM passreset_retired_session_tokens r
	JOIN passreset_sessions s ON s.id = r.session_id WHERE s.expires_at < ? OR s.revoked_at < ?`
	qPurgeSessions = `DELETE FROM passreset_sessions WHERE expires_at < ? OR revoked_at < ?`
)

// CreateSession inserts sess, findable by h, with its credential stamp.
func (s *Store) CreateSession(ctx context.Context, sess session.Session, h token.Hash) error {
	_, err := s.db.ExecContext(ctx, qCreateSession, sess.ID, sess.UserID, h[:],
		sess.CreatedAt.UnixMilli(), sess.LastSeenAt.UnixMilli(), sess.ExpiresAt.UnixMilli(), sqlcore.NullMS(sess.RevokedAt),
		sess.UserAgent, sess.IPAddress, sess.Stamp)
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// SessionByTokenHash returns the session whose current token hashes to h,
// or session.ErrNotFound: one lookup in the unique index on token_hash.
func (s *Store) SessionByTokenHash(ctx context.Context, h token.Hash) (session.Session, error) {
	// The hash goes into the row's scan buffer, which is on the heap
	// anyway, rather than onto the heap by itself.
	v := new(sqlcore.SessionRow)
	v.Hash = h
	sess, err := v.Scan(s.db.QueryRowContext(ctx, qSessionByTokenHash, v.Hash[:]))
	if err != nil {
		return session.Session{}, sessionErr("session by token hash", err)
	}
	return sess, nil
}

// SessionByID returns the session with this id, or session.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	sess, err := sqlcore.ScanSession(s.db.QueryRowContext(ctx, qSessionByID, id))
	if err != nil {
		return session.Session{}, sessionErr("session by id", err)
	}
	return sess, nil
}

// TouchSession sets the session's LastSeenAt to at, or returns
// session.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "touch session", qSessionExists, []any{id}, qTouchSession, at.UnixMilli(), id)
}

// RotateSessionToken replaces the token hash oldHash with newHash, only
// while oldHash is current and the session is not revoked, and keeps
// oldHash as retired, in one transaction; otherwise, as for the losers of
// concurrent rotations, it returns session.ErrNotFound.
func (s *Store) RotateSessionToken(ctx context.Context, id string, oldHash, newHash token.Hash, at time.Time) error {
	if oldHash == newHash {
		// Nothing is replaced, so nothing retires: the update changes no
		// row even when it matches, and the check says whether it did.
		return s.execOne(ctx, "rotate session token", qRotatedTo, []any{id, newHash[:]},
			qRotateSessionToken, newHash[:], at.UnixMilli(), id, oldHash[:])
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The swap changes the row whenever it matches: no second read.
		res, err := tx.ExecContext(ctx, qRotateSessionToken, newHash[:], at.UnixMilli(), id, oldHash[:])
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return session.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, qRetireToken, oldHash[:], id, at.UnixMilli())
		return err
	})
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		return wrap("rotate session token", err)
	}
	return err
}

// RevokeRetiredToken revokes, in one transaction, the session of which h
// is a retired token hash, unless it is already revoked, and returns it;
// or session.ErrNotFound.
func (s *Store) RevokeRetiredToken(ctx context.Context, h token.Hash, at time.Time) (session.Session, error) {
	var sess session.Session
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id string
		if err := tx.QueryRowContext(ctx, qRetiredOf, h[:]).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qRevokeSession, at.UnixMilli(), id); err != nil {
			return err
		}
		var err error
		sess, err = sqlcore.ScanSession(tx.QueryRowContext(ctx, qSessionByID, id))
		return err
	})
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
	rows, err := s.db.QueryContext(ctx, q, userID, p.Before, p.Before, p.After, p.After, p.PageSize())
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	list, err := sqlrows.Collect(rows, sqlcore.ScanSession)
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	return list, nil
}

// RevokeSession sets RevokedAt to at unless the session is already revoked,
// or returns session.ErrNotFound.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "revoke session", qSessionExists, []any{id}, qRevokeSession, at.UnixMilli(), id)
}

// RevokeUserSessions revokes every active session of the user at at, in one
// statement, and returns how many it revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, qRevokeUserSessions, at.UnixMilli(), userID, at.UnixMilli())
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("revoke user sessions", err)
	}
	return int(n), nil
}

// PurgeSessions deletes sessions that expired or were revoked before
// before, with their retired hashes, in one transaction.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, qPurgeRetired, before.UnixMilli(), before.UnixMilli()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, qPurgeSessions, before.UnixMilli(), before.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, wrap("purge sessions", err)
	}
	return n, nil
}

// execOne runs an update of one session; when it changes no row, the
// check (when given) tells whether the row was there all the same (MySQL
// counts the rows an update changed, not those it matched): no row is
// session.ErrNotFound.
func (s *Store) execOne(ctx context.Context, op, check string, checkArgs []any, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n > 0 {
		return nil
	}
	if check == "" {
		return session.ErrNotFound
	}
	var one int
	if err := s.db.QueryRowContext(ctx, check, checkArgs...).Scan(&one); err != nil {
		return sessionErr(op, err)
	}
	return nil
}

// sessionErr translates a missing row into session.ErrNotFound.
func sessionErr(op string, err error) error {
	return sqlcore.NoRows("mysqlstore", op, err, session.ErrNotFound)
}
