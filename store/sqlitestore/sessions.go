package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/internal/sqlcore"
	"github.com/passreset/passreset/store/internal/sqlrows"
	"github.com/passreset/passreset/token"
)

const (
	qSessionByID        = `SELECT ` + sqlcore.SessionColumns + ` FROM passreset_sessions WHERE id = ?`
	qSessionByTokenHash = `SELECT ` + sqlcore.SessionColumns + ` FROM passreset_sessions WHERE token_hash = ?`
	qInsertSession      = `INSERT INTO passreset_sessions (id, user_id, token_hash, created_at, last_seen_at,
	expires_at, revoked_at, user_agent, ip_address, stamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qTouchSession  = `UPDATE passreset_sessions SET last_seen_at = ? WHERE id = ?`
	qRotateSession = `UPDATE passreset_sessions SET token_hash = ?, last_seen_at = ?
	WHERE id = ? AND token_hash = ? AND revoked_at IS NULL`
	// Revoking twice keeps the first time and still counts the row as found.
	qRevokeSession = `UPDATE passreset_sessions SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	qRetireToken   = `INSERT INTO passreset_retired_session_tokens (token_hash, session_id, retired_at) VALUES (?, ?, ?)`
	// ?1 is now, ?2 the hash: revoking keeps the first time.
	qRevokeRetired = `UPDATE passreset_sessions SET revoked_at = coalesce(revoked_at, ?1)
	WHERE id = (SELECT session_id FROM passreset_retired_session_tokens WHERE token_hash = ?2)
	RETURNING ` + sqlcore.SessionColumns
	// ?1 is before; the bound is strict. The retired hashes go first, with
	// the sessions they belong to.
	qPurgeRetired = `DELETE FROM passreset_retired_session_tokens WHERE session_id IN
	(SELECT id FROM passreset_sessions WHERE expires_at < ?1 OR revoked_at < ?1)`
	qPurgeSessions = `DELETE FROM passreset_sessions WHERE expires_at < ?1 OR revoked_at < ?1`
)

// qListSessions holds the eight forms of the ListSessions query, indexed by
// listForm.
var qListSessions = func() (qs [8]string) {
	for i := range qs {
		q := `SELECT ` + sqlcore.SessionColumns + ` FROM passreset_sessions WHERE user_id = ?`
		if i&listBefore != 0 {
			q += ` AND id < ?`
		}
		if i&listAfter != 0 {
			q += ` AND id > ?`
		}
		if i&listDesc != 0 {
			q += ` ORDER BY id DESC LIMIT ?`
		} else {
			q += ` ORDER BY id LIMIT ?`
		}
		qs[i] = q
	}
	return qs
}()

const (
	listBefore = 1 << iota
	listAfter
	listDesc
)

// CreateSession inserts sess, findable by h.
func (s *Store) CreateSession(ctx context.Context, sess session.Session, h token.Hash) error {
	_, err := s.w.ExecContext(ctx, qInsertSession, sess.ID, sess.UserID, h[:],
		sess.CreatedAt.UnixMilli(), sess.LastSeenAt.UnixMilli(), sess.ExpiresAt.UnixMilli(),
		sqlcore.NullMS(sess.RevokedAt), sess.UserAgent, sess.IPAddress, sess.Stamp)
	if err != nil {
		return fmt.Errorf("sqlitestore: create session: %w", err)
	}
	return nil
}

// SessionByTokenHash returns the session whose current token hashes to h,
// revoked or expired alike, or session.ErrNotFound: one indexed lookup.
func (s *Store) SessionByTokenHash(ctx context.Context, h token.Hash) (session.Session, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return session.Session{}, err
	}
	// The hash goes into the row's scan buffer, which is on the heap
	// anyway, rather than onto the heap by itself.
	v := new(sqlcore.SessionRow)
	v.Hash = h
	sess, err := v.Scan(p[sSessionByTokenHash].QueryRowContext(ctx, v.Hash[:]))
	return sess, sessionErr("session by token hash", err)
}

// SessionByID returns the session with this id, or session.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return session.Session{}, err
	}
	sess, err := sqlcore.ScanSession(p[sSessionByID].QueryRowContext(ctx, id))
	return sess, sessionErr("session by id", err)
}

// TouchSession sets the session's LastSeenAt to at, or returns
// session.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	p, err := s.prepared(ctx)
	if err != nil {
		return err
	}
	return oneRow(ctx, "touch session", p[sTouchSession], at.UnixMilli(), id)
}

// RotateSessionToken replaces the session's token hash oldHash with newHash
// and sets LastSeenAt to at, in one transaction that begins with a
// conditional update that matches only while oldHash is the current hash
// and the session is not revoked (of concurrent rotations exactly one wins,
// the others get session.ErrNotFound), then keeps oldHash as retired.
func (s *Store) RotateSessionToken(ctx context.Context, id string, oldHash, newHash token.Hash, at time.Time) error {
	p, err := s.prepared(ctx)
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: rotate session token: %w", err)
	}
	defer rollback(tx)
	res, err := tx.StmtContext(ctx, p[sRotateSession]).ExecContext(ctx, newHash[:], at.UnixMilli(), id, oldHash[:])
	if err := rowFound("rotate session token", res, err); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, qRetireToken, oldHash[:], id, at.UnixMilli()); err != nil {
		return fmt.Errorf("sqlitestore: rotate session token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: rotate session token: %w", err)
	}
	return nil
}

// RevokeRetiredToken revokes, in one statement, the session of which h is
// a retired token hash, unless it is already revoked, and returns it; or
// session.ErrNotFound.
func (s *Store) RevokeRetiredToken(ctx context.Context, h token.Hash, at time.Time) (session.Session, error) {
	sess, err := sqlcore.ScanSession(s.w.QueryRowContext(ctx, qRevokeRetired, at.UnixMilli(), h[:]))
	return sess, sessionErr("revoke retired token", err)
}

// RevokeSession sets RevokedAt to at unless the session is already revoked,
// or returns session.ErrNotFound.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, qRevokeSession, at.UnixMilli(), id)
	return rowFound("revoke session", res, err)
}

// RevokeUserSessions revokes every active (neither revoked nor expired at
// at) session of the user at at, and returns how many it revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, qRevokeUserSessions, at.UnixMilli(), userID)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: revoke user sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: revoke user sessions: %w", err)
	}
	return int(n), nil
}

// ListSessions returns a page of the user's sessions, revoked and expired
// ones included, ordered by id: the p.Limit (10 when <= 0) lowest ids that
// match p.Before and p.After, or the highest, newest first, when p.Desc.
func (s *Store) ListSessions(ctx context.Context, userID string, p session.ListParams) ([]session.Session, error) {
	limit := p.PageSize()
	form := 0
	args := make([]any, 1, 4)
	args[0] = userID
	if p.Before != "" {
		form |= listBefore
		args = append(args, p.Before)
	}
	if p.After != "" {
		form |= listAfter
		args = append(args, p.After)
	}
	if p.Desc {
		form |= listDesc
	}
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, qListSessions[form], args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	out, err := sqlrows.Collect(rows, sqlcore.ScanSession)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	return out, nil
}

// PurgeSessions deletes the sessions that expired or were revoked before
// before (a time equal to before is kept), and returns how many.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purgeSessions(ctx, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: purge sessions: %w", err)
	}
	return n, nil
}

// purgeSessions deletes the sessions and their retired hashes in one
// transaction.
func (s *Store) purgeSessions(ctx context.Context, before int64) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer rollback(tx)
	if _, err := tx.ExecContext(ctx, qPurgeRetired, before); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, qPurgeSessions, before)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// sessionErr translates a missing row into session.ErrNotFound.
func sessionErr(op string, err error) error {
	return sqlcore.NoRows("sqlitestore", op, err, session.ErrNotFound)
}

// oneRow runs an update that must match one session.
func oneRow(ctx context.Context, op string, st *sql.Stmt, args ...any) error {
	res, err := st.ExecContext(ctx, args...)
	return rowFound(op, res, err)
}

// rowFound turns an update that matched no row into session.ErrNotFound.
func rowFound(op string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	if n == 0 {
		return session.ErrNotFound
	}
	return nil
}
