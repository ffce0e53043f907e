package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passreset/passreset/reset"
)

const userCols = `id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at`

const (
	qUserByID     = `SELECT ` + userCols + ` FROM users WHERE id = ?`
	qUserByEmail  = `SELECT ` + userCols + ` FROM users WHERE email_key = ?`
	qPasswordHash = `SELECT password_hash FROM users WHERE id = ?`
	qInsertUser   = `INSERT INTO users (id, email, email_key, email_verified, first_name, last_name,
	profile_picture_url, external_id, locale, metadata, password_hash, last_sign_in_at,
	created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qRecordSignIn = `UPDATE users SET last_sign_in_at = ? WHERE id = ?`
)

// emailKey is the form of an email that lookups and the unique index
// compare: its Unicode lower case. (SQLite's own lower() and NOCASE fold
// ASCII letters only.)
func emailKey(email string) string { return strings.ToLower(email) }

// UserByEmail returns the user whose email equals email without regard to
// case, or reset.ErrUserNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (reset.User, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return reset.User{}, err
	}
	u, err := scanUser(p[sUserByEmail].QueryRowContext(ctx, emailKey(email)))
	return u, userErr("user by email", err)
}

// UserByID returns the user with this id, or reset.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (reset.User, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return reset.User{}, err
	}
	u, err := scanUser(p[sUserByID].QueryRowContext(ctx, id))
	return u, userErr("user by id", err)
}

// PasswordHash returns the user's password hash, "" when the user has none,
// or reset.ErrUserNotFound.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return "", err
	}
	var h string
	err = p[sPasswordHash].QueryRowContext(ctx, userID).Scan(&h)
	return h, userErr("password hash", err)
}

// CreateUser inserts u with the given password hash, keeping the email's
// case as given. It returns reset.ErrEmailTaken when another user has the
// same email without regard to case.
func (s *Store) CreateUser(ctx context.Context, u reset.User, passwordHash string) error {
	md, err := encodeMetadata(u.Metadata)
	if err != nil {
		return fmt.Errorf("sqlitestore: create user: %w", err)
	}
	_, err = s.w.ExecContext(ctx, qInsertUser,
		u.ID, u.Email, emailKey(u.Email), u.EmailVerified, u.FirstName, u.LastName,
		u.ProfilePictureURL, u.ExternalID, u.Locale, md, passwordHash,
		nullMillis(u.LastSignInAt), millis(u.CreatedAt), millis(u.UpdatedAt))
	switch {
	case isUnique(err):
		return reset.ErrEmailTaken
	case err != nil:
		return fmt.Errorf("sqlitestore: create user: %w", err)
	}
	return nil
}

// RecordSignIn sets the user's LastSignInAt to at, or returns
// reset.ErrUserNotFound.
func (s *Store) RecordSignIn(ctx context.Context, userID string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, qRecordSignIn, millis(at), userID)
	if err != nil {
		return fmt.Errorf("sqlitestore: record sign-in: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlitestore: record sign-in: %w", err)
	} else if n == 0 {
		return reset.ErrUserNotFound
	}
	return nil
}

// scanUser reads the columns of userCols.
func scanUser(sc scanner) (reset.User, error) {
	// One allocation for every destination, rather than one each.
	var v struct {
		u                reset.User
		md               sql.NullString
		signIn           sql.NullInt64
		created, updated int64
	}
	err := sc.Scan(&v.u.ID, &v.u.Email, &v.u.EmailVerified, &v.u.FirstName, &v.u.LastName,
		&v.u.ProfilePictureURL, &v.u.ExternalID, &v.u.Locale, &v.md, &v.signIn, &v.created, &v.updated)
	if err != nil {
		return reset.User{}, err
	}
	if v.u.Metadata, err = decodeMetadata(v.md); err != nil {
		return reset.User{}, err
	}
	v.u.LastSignInAt = fromNullMillis(v.signIn)
	v.u.CreatedAt = fromMillis(v.created)
	v.u.UpdatedAt = fromMillis(v.updated)
	return v.u, nil
}

// userErr translates sql.ErrNoRows into reset.ErrUserNotFound and wraps any
// other error with the operation.
func userErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return reset.ErrUserNotFound
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

// encodeMetadata stores a nil map as NULL and an empty one as "{}", so that
// each reads back as it was given.
func encodeMetadata(m map[string]string) (any, error) {
	switch {
	case m == nil:
		return nil, nil
	case len(m) == 0:
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return string(b), nil
}

// decodeMetadata skips the JSON decoder for the common NULL and "{}".
func decodeMetadata(md sql.NullString) (map[string]string, error) {
	switch {
	case !md.Valid:
		return nil, nil
	case md.String == "{}":
		return map[string]string{}, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(md.String), &m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return m, nil
}
