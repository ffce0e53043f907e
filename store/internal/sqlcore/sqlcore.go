// Package sqlcore is what the SQL stores share whatever their dialect: the
// ports each of them implements and, for those over database/sql that keep
// times as unix milliseconds (mysqlstore, sqlitestore), how a time goes in
// and out of a column and how a session row is read.
package sqlcore

import (
	"database/sql"
	"time"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqlrows"
	"github.com/passreset/passreset/token"
)

// Store is every port a SQL store implements: each checks itself against
// it at compile time, so that a port added here is one each must add.
type Store interface {
	store.Store
	store.UserCreator
	store.SignInRecorder
	store.Durable
	session.Store
}

// Times are kept as unix milliseconds, the precision the contract promises
// and the wire format carries (time.Time.UnixMilli writes one), and read
// back in UTC.

// NullMS is the value of a nullable time column: NULL for the zero time.
func NullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// FromMS reads a time column back, in UTC.
func FromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// FromNullMS reads a nullable time column back: the zero time for NULL.
func FromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return FromMS(v.Int64)
}

// SessionColumns are the columns of passreset_sessions that SessionRow.Scan
// reads, in its order.
const SessionColumns = `id, user_id, created_at, last_seen_at, expires_at, revoked_at, user_agent, ip_address, stamp`

// SessionRow gathers the scan destinations of a session, and the list of
// them Scan takes, so that they reach the heap as one allocation rather
// than one each.
type SessionRow struct {
	id, userID, userAgent, ip, stamp string
	created, seen, expires           int64
	revoked                          sql.NullInt64
	dest                             [9]any
	// Hash is room for the argument of a lookup by token hash, which
	// then shares the row's allocation instead of making its own.
	Hash token.Hash
}

// ScanSession reads the columns of SessionColumns from a row.
func ScanSession(sc sqlrows.Scanner) (session.Session, error) { return new(SessionRow).Scan(sc) }

// Scan reads the columns of SessionColumns from a row.
func (v *SessionRow) Scan(sc sqlrows.Scanner) (session.Session, error) {
	v.dest = [9]any{&v.id, &v.userID, &v.created, &v.seen, &v.expires, &v.revoked, &v.userAgent, &v.ip, &v.stamp}
	if err := sc.Scan(v.dest[:]...); err != nil {
		return session.Session{}, err
	}
	return session.Session{
		ID: v.id, UserID: v.userID, UserAgent: v.userAgent, IPAddress: v.ip, Stamp: v.stamp,
		CreatedAt: FromMS(v.created), LastSeenAt: FromMS(v.seen), ExpiresAt: FromMS(v.expires),
		RevokedAt: FromNullMS(v.revoked),
	}, nil
}
