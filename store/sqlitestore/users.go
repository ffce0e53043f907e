package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/internal/metadata"
	"github.com/passreset/passreset/store/internal/sqlcore"
)

// The users passreset keeps itself, when the host has no table of its own
// (no WithUsers): passreset_users, with WorkOS's profile fields.

const userCols = `id, email, email_verified, first_name, last_name, profile_picture_url,
	external_id, locale, metadata, last_sign_in_at, created_at, updated_at`

const (
	qUserByID     = `SELECT ` + userCols + ` FROM passreset_users WHERE id = ?`
	qUserByEmail  = `SELECT ` + userCols + ` FROM passreset_users WHERE email_key = ?`
	qPasswordHash = `SELECT password_hash FROM passreset_users WHERE id = ?`
	qUserExists   = `SELECT 1 FROM passreset_users WHERE id = ?`
	qSetPassword  = `UPDATE passreset_users SET password_hash = ?1, email_verified = 1, updated_at = ?2
	WHERE id = ?3 RETURNING ` + userCols
	qInsertUser = `INSERT INTO passreset_users (id, email, email_key, email_verified, first_name, last_name,
	profile_picture_url, external_id, locale, metadata, password_hash, last_sign_in_at,
	created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qRecordSignIn = `UPDATE passreset_users SET last_sign_in_at = ? WHERE id = ?`
	// The conditional updates of ChangePassword: only while the hash is
	// still the one the caller checked.
	qRehash         = `UPDATE passreset_users SET password_hash = ?1 WHERE id = ?2 AND password_hash = ?3`
	qChangePassword = `UPDATE passreset_users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3 AND password_hash = ?4`
)

// hostTable is a host's users table (WithUsers): its description, and the
// SQL that reads and writes it.
type hostTable struct {
	desc store.UsersTable
	ids  hostusers.IDs
	// updatedUnix says UpdatedAt has INTEGER affinity: it is written as
	// unix seconds; otherwise as text, "2006-01-02 15:04:05.000" in UTC,
	// the form of SQLite's own date functions.
	updatedUnix bool

	byID, byEmail, byEmailLike, hash, exists, setPassword string
	// The conditional updates of ChangePassword: ?1 the new hash, ?2 the
	// updated time (changePassword only), then the key and the old hash.
	rehash, changePassword string
}

// newHostTable writes the SQL for t. Whether the key is an integer, and how
// UpdatedAt is written, is learnt from the table itself (inspect).
func newHostTable(t store.UsersTable) *hostTable {
	h := &hostTable{desc: t, ids: hostusers.IDs{Prefix: t.Prefix()}}
	h.write()
	return h
}

func (h *hostTable) write() {
	t := h.desc
	tbl, id, email, hash := quote(t.Table), quote(t.ID), quote(t.Email), quote(t.PasswordHash)
	verified := "0"
	if t.Verified != "" {
		verified = "coalesce(" + quote(t.Verified) + ", 0) <> 0"
	}
	cols := id + ", " + email + ", " + verified
	h.byID = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + id + ` = ?`
	h.byEmail = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + email + ` = ?`
	// The fallback for an address stored in another case: LIKE folds ASCII
	// case, and the non-ASCII characters are wildcards; the candidates are
	// compared in Go. It reads the whole table, so it runs only when the
	// indexed equality finds nothing.
	h.byEmailLike = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + email + ` LIKE ? ESCAPE '\'`
	h.hash = `SELECT coalesce(` + hash + `, '') FROM ` + tbl + ` WHERE ` + id + ` = ?`
	h.exists = `SELECT 1 FROM ` + tbl + ` WHERE ` + id + ` = ?`
	set := hash + ` = ?1`
	if t.Verified != "" {
		set += `, ` + quote(t.Verified) + ` = 1`
	}
	if t.UpdatedAt != "" {
		set += `, ` + quote(t.UpdatedAt) + ` = ?2`
	}
	h.setPassword = `UPDATE ` + tbl + ` SET ` + set + ` WHERE ` + id + ` = ?3 RETURNING ` + cols
	h.rehash = `UPDATE ` + tbl + ` SET ` + hash + ` = ?1 WHERE ` + id + ` = ?2 AND coalesce(` + hash + `, '') = ?3`
	change := hash + ` = ?1`
	if t.UpdatedAt != "" {
		change += `, ` + quote(t.UpdatedAt) + ` = ?2`
	} // else ?2 is bound and unused, which SQLite allows
	h.changePassword = `UPDATE ` + tbl + ` SET ` + change + ` WHERE ` + id + ` = ?3 AND coalesce(` + hash + `, '') = ?4`
}

// quote makes name an SQLite identifier.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// inspect checks that the table has the described columns, learns whether
// its key is an integer and how UpdatedAt is kept, and rewrites the SQL.
func (h *hostTable) inspect(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?)`, h.desc.Table)
	if err != nil {
		return err
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return err
		}
		types[strings.ToLower(name)] = strings.ToUpper(typ)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(types) == 0 {
		return fmt.Errorf("users table %q does not exist", h.desc.Table)
	}
	var missing []string
	for _, c := range []string{h.desc.ID, h.desc.Email, h.desc.PasswordHash, h.desc.Verified, h.desc.UpdatedAt} {
		if _, ok := types[strings.ToLower(c)]; c != "" && !ok {
			missing = append(missing, strconv.Quote(c))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("users table %q has no column %s", h.desc.Table, strings.Join(missing, ", "))
	}
	// SQLite's affinity rule: a declared type containing "INT" is integer.
	h.ids.Integer = strings.Contains(types[strings.ToLower(h.desc.ID)], "INT")
	h.updatedUnix = h.desc.UpdatedAt != "" && strings.Contains(types[strings.ToLower(h.desc.UpdatedAt)], "INT")
	return nil
}

// updatedAt is the value written to UpdatedAt for a reset at t.
func (h *hostTable) updatedAt(t time.Time) any {
	if h.updatedUnix {
		return t.Unix()
	}
	return t.UTC().Format("2006-01-02 15:04:05.000")
}

// scan reads the columns of a host row: key, email, verified.
func (h *hostTable) scan(sc scanner) (store.User, error) {
	var (
		u        store.User
		intKey   int64
		key      any = &u.ID
		verified bool
	)
	if h.ids.Integer {
		key = &intKey
	}
	var email sql.NullString
	if err := sc.Scan(key, &email, &verified); err != nil {
		return store.User{}, err
	}
	if h.ids.Integer {
		u.ID = h.ids.Public(intKey)
	}
	u.Email, u.EmailVerified = email.String, verified
	return u, nil
}

// emailKey is the form of an email that lookups and the unique index
// compare: its Unicode lower case. (SQLite's own lower() and NOCASE fold
// ASCII letters only.)
func emailKey(email string) string { return hostusers.Fold(email) }

// UserByEmail returns the user whose email equals email without regard to
// case, in full Unicode, or store.ErrUserNotFound. Over a host's table it
// is one indexed equality when the address is stored as given or in lower
// case; otherwise a second query reads the table's rows that match it
// without regard to ASCII case (LIKE, unindexed) and compares them in Go.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.User{}, err
	}
	key := emailKey(email)
	if s.users != nil {
		u, err := s.hostUserByEmail(ctx, s.r, key)
		return u, hostReadErr("user by email", err)
	}
	if s.host == nil {
		u, err := scanUser(p[sUserByEmail].QueryRowContext(ctx, key))
		return u, userErr("user by email", err)
	}
	u, err := s.host.scan(p[sUserByEmail].QueryRowContext(ctx, key))
	// The column's collation has no say: a row the equality finds counts
	// only if its address folds to the key (a case-insensitive collation
	// may equate a Kelvin sign with k).
	if err == nil && hostusers.FoldsTo(u.Email, key) || err != nil && !errors.Is(err, sql.ErrNoRows) {
		return u, userErr("user by email", err)
	}
	rows, err := p[sUserByEmailLike].QueryContext(ctx, hostusers.LikePattern(key, '\\'))
	if err != nil {
		return store.User{}, userErr("user by email", err)
	}
	defer rows.Close()
	// The candidates are compared as they come, so that a broad pattern
	// (an address all of whose local part is non-ASCII matches its whole
	// domain) costs time, not memory: an exact match wins, else the first
	// that folds to the address.
	var found *store.User
	for rows.Next() {
		u, err := s.host.scan(rows)
		if err != nil {
			return store.User{}, userErr("user by email", err)
		}
		if hostusers.Pick(key, []string{u.Email}) < 0 {
			continue
		}
		if u.Email == key {
			return u, nil
		}
		if found == nil {
			found = &u
		}
	}
	if err := rows.Err(); err != nil {
		return store.User{}, userErr("user by email", err)
	}
	if found != nil {
		return *found, nil
	}
	return store.User{}, store.ErrUserNotFound
}

// UserByID returns the user with this id, or store.ErrUserNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return store.User{}, err
	}
	if s.users != nil {
		u, err := s.users.UserByID(ctx, s.r, id)
		return u, hostReadErr("user by id", err)
	}
	if s.host == nil {
		u, err := scanUser(p[sUserByID].QueryRowContext(ctx, id))
		return u, userErr("user by id", err)
	}
	key, ok := s.host.ids.Key(id)
	if !ok {
		return store.User{}, store.ErrUserNotFound
	}
	u, err := s.host.scan(p[sUserByID].QueryRowContext(ctx, key))
	return u, userErr("user by id", err)
}

// PasswordHash returns the user's password hash, "" when the user has none,
// or store.ErrUserNotFound.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	p, err := s.prepared(ctx)
	if err != nil {
		return "", err
	}
	if s.users != nil {
		h, err := s.users.PasswordHash(ctx, s.r, userID)
		return h, hostReadErr("password hash", err)
	}
	key, ok := s.userKey(userID)
	if !ok {
		return "", store.ErrUserNotFound
	}
	var h string
	err = p[sPasswordHash].QueryRowContext(ctx, key).Scan(&h)
	return h, userErr("password hash", err)
}

// userKey is the key of the row a user id names, in passreset's table or
// the host's, and false when the id cannot name one.
func (s *Store) userKey(id string) (any, bool) {
	if s.host == nil {
		return id, true
	}
	return s.host.ids.Key(id)
}

// setPassword writes the new hash inside a redemption's transaction and
// returns the user as it now is.
func (s *Store) setPassword(ctx context.Context, tx *sql.Tx, p *statements, userID, hash string, now time.Time) (store.User, error) {
	key, ok := s.userKey(userID)
	if !ok {
		return store.User{}, store.ErrUserNotFound
	}
	row := tx.StmtContext(ctx, p[sSetPassword])
	if s.host == nil {
		return scanUser(row.QueryRowContext(ctx, hash, now.UnixMilli(), key))
	}
	return s.host.scan(row.QueryRowContext(ctx, hash, s.host.updatedAt(now), key))
}

// CreateUser inserts u with the given password hash, keeping the email's
// case as given. It returns store.ErrEmailTaken when another user has the
// same email without regard to case. Only a Store that keeps its own users
// creates them: over a host's table it returns an error matching
// store.ErrNoUserCreator.
func (s *Store) CreateUser(ctx context.Context, u store.User, passwordHash string) error {
	if s.host != nil || s.users != nil {
		return fmt.Errorf("sqlitestore: create user: the users are the host's: %w", store.ErrNoUserCreator)
	}
	md, err := metadata.Marshal(u.Metadata)
	if err != nil {
		return fmt.Errorf("sqlitestore: create user: %w", err)
	}
	_, err = s.w.ExecContext(ctx, qInsertUser,
		u.ID, u.Email, emailKey(u.Email), u.EmailVerified, u.FirstName, u.LastName,
		u.ProfilePictureURL, u.ExternalID, u.Locale, md, passwordHash,
		sqlcore.NullMS(u.LastSignInAt), u.CreatedAt.UnixMilli(), u.UpdatedAt.UnixMilli())
	switch {
	case isUnique(err):
		return store.ErrEmailTaken
	case err != nil:
		return fmt.Errorf("sqlitestore: create user: %w", err)
	}
	return nil
}

// RecordSignIn sets the user's LastSignInAt to at, or returns
// store.ErrUserNotFound. Over a host's users (WithUsers, WithHostUsers),
// which have no such column, it does nothing.
func (s *Store) RecordSignIn(ctx context.Context, userID string, at time.Time) error {
	if s.host != nil || s.users != nil {
		return nil
	}
	res, err := s.w.ExecContext(ctx, qRecordSignIn, at.UnixMilli(), userID)
	if err != nil {
		return fmt.Errorf("sqlitestore: record sign-in: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlitestore: record sign-in: %w", err)
	} else if n == 0 {
		return store.ErrUserNotFound
	}
	return nil
}

// scanUser reads the columns of userCols.
func scanUser(sc scanner) (store.User, error) {
	// One allocation for every destination, rather than one each.
	var v struct {
		u                store.User
		md               sql.NullString
		signIn           sql.NullInt64
		created, updated int64
	}
	err := sc.Scan(&v.u.ID, &v.u.Email, &v.u.EmailVerified, &v.u.FirstName, &v.u.LastName,
		&v.u.ProfilePictureURL, &v.u.ExternalID, &v.u.Locale, &v.md, &v.signIn, &v.created, &v.updated)
	if err != nil {
		return store.User{}, err
	}
	if v.u.Metadata, err = metadata.Unmarshal(v.md.String); err != nil {
		return store.User{}, err
	}
	v.u.LastSignInAt = sqlcore.FromNullMS(v.signIn)
	v.u.CreatedAt = sqlcore.FromMS(v.created)
	v.u.UpdatedAt = sqlcore.FromMS(v.updated)
	return v.u, nil
}

// userErr translates a missing row into store.ErrUserNotFound.
func userErr(op string, err error) error {
	return sqlcore.NoRows("sqlitestore", op, err, store.ErrUserNotFound)
}
