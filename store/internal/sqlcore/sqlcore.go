// Package sqlcore is what the SQL stores share whatever their dialect: the
// ports each of them implements and, for those over database/sql that keep
// times as unix milliseconds (mysqlstore, sqlitestore), how a time goes in
// and out of a column, how a session or an idempotency record is read, and
// how a missing row becomes a port's not-found error. The SQL itself stays
// in each store, in its dialect.
package sqlcore

import (
	"database/sql"
	"errors"
	"fmt"
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

// SessionColumns are the columns of passreset_sessions every SQL store
// reads for a session, in the order SessionRow.Scan reads them.
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

// NoRows translates the error of a statement that reads or changes one
// row, for the store named name ("mysqlstore") in the operation op: nil
// stays nil, sql.ErrNoRows becomes notFound, the port's sentinel
// (store.ErrUserNotFound, store.ErrResetNotFound, session.ErrNotFound),
// and any other error is wrapped with the name and op.
func NoRows(name, op string, err, notFound error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return notFound
	}
	return fmt.Errorf("%s: %s: %w", name, op, err)
}

// ScanReplay reads an idempotency record's columns: its key, fingerprint,
// owner, answer, created_at, claimed_until and expires_at, in this order.
func ScanReplay(sc sqlrows.Scanner) (store.Replay, error) {
	var (
		r                store.Replay
		created, expires int64
		claimed          sql.NullInt64
	)
	if err := sc.Scan(&r.Key, &r.Fingerprint, &r.Owner, &r.Answer, &created, &claimed, &expires); err != nil {
		return store.Replay{}, err
	}
	r.CreatedAt, r.ClaimedUntil, r.ExpiresAt = FromMS(created), FromNullMS(claimed), FromMS(expires)
	return r, nil
}

// ResetRow gathers the scan destinations of a reset, so that they escape
// to the heap as one allocation rather than one each. It reads a *sql.Row,
// whose Scan keeps the list of destinations off the heap. Its zero value is
// ready; a row is scanned once.
type ResetRow struct {
	r                        store.Reset
	created, expires         int64
	used, ended, codeExpires sql.NullInt64
	codeKey                  sql.NullString
	codeHash                 []byte
}

// Scan reads a reset's columns: id, user_id, email, token_hash,
// created_at, expires_at, used_at, ended_at, code_key, code_hash,
// code_expires_at and code_tries_left, in this order.
func (v *ResetRow) Scan(row *sql.Row) (store.Reset, error) {
	err := row.Scan(&v.r.ID, &v.r.UserID, &v.r.Email, (*hash32)(&v.r.TokenHash),
		&v.created, &v.expires, &v.used, &v.ended,
		&v.codeKey, &v.codeHash, &v.codeExpires, &v.r.Code.TriesLeft)
	if err != nil {
		return store.Reset{}, err
	}
	return v.reset(), nil
}

// ByHash readies v for a lookup by token hash: it keeps h, and returns it
// as the lookup's argument, which then shares v's allocation instead of
// making its own.
func (v *ResetRow) ByHash(h token.Hash) []byte {
	v.r.TokenHash = h
	return v.r.TokenHash[:]
}

// ScanByHash reads the columns Scan reads but token_hash, of the reset of
// a lookup by the hash given to ByHash, which it need not read back.
func (v *ResetRow) ScanByHash(row *sql.Row) (store.Reset, error) {
	err := row.Scan(&v.r.ID, &v.r.UserID, &v.r.Email,
		&v.created, &v.expires, &v.used, &v.ended,
		&v.codeKey, &v.codeHash, &v.codeExpires, &v.r.Code.TriesLeft)
	if err != nil {
		return store.Reset{}, err
	}
	return v.reset(), nil
}

func (v *ResetRow) reset() store.Reset {
	v.r.CreatedAt, v.r.ExpiresAt = FromMS(v.created), FromMS(v.expires)
	v.r.UsedAt, v.r.EndedAt = FromNullMS(v.used), FromNullMS(v.ended)
	v.r.Code.Key, v.r.Code.ExpiresAt = v.codeKey.String, FromNullMS(v.codeExpires)
	copy(v.r.Code.Hash[:], v.codeHash)
	return v.r
}

// hash32 scans a 32-byte BLOB straight into a token hash, without the
// intermediate copy database/sql makes for a *[]byte.
type hash32 [32]byte

func (h *hash32) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok || len(b) != len(h) {
		return fmt.Errorf("token hash: want %d bytes, got %T of length %d", len(h), src, len(b))
	}
	copy(h[:], b)
	return nil
}
