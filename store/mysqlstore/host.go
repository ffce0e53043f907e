package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
)

// hostTable is a host's users table (WithUsers): its description, and the
// SQL that reads and writes it, written once the table's column types are
// known (inspect).
type hostTable struct {
	desc   store.UsersTable
	schema string // the database named in Table, or "" for the connection's
	table  string
	name   string // the table as SQL names it: each part quoted

	sql atomic.Pointer[userSQL] // nil until inspected
	mu  sync.Mutex              // serialises inspections
}

// newHostTable checks t and returns the host table it describes. Its
// Table may name a database: "database.table".
func newHostTable(t store.UsersTable) (*hostTable, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	parts := strings.Split(t.Table, ".")
	if len(parts) > 2 || slices.Contains(parts, "") {
		return nil, fmt.Errorf("UsersTable.Table %q is not a table or database.table", t.Table)
	}
	h := &hostTable{desc: t, table: parts[len(parts)-1]}
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = quote(p)
	}
	if len(parts) == 2 {
		h.schema = parts[0]
	}
	h.name = strings.Join(quoted, ".")
	return h, nil
}

// quote quotes a name as an identifier.
func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// The kinds of column type a described column may have, by
// information_schema's DATA_TYPE.
var (
	integerTypes = []string{"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
	textTypes    = []string{"char", "varchar", "tinytext", "text", "mediumtext", "longtext"}
	timeTypes    = []string{"datetime", "timestamp"}
)

// inspect reads the table's columns, checks the description against them
// and the table's engine, and writes the SQL over it.
func (h *hostTable) inspect(ctx context.Context, db *sql.DB) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var schema any
	if h.schema != "" {
		schema = h.schema
	}
	var kind, engine string
	err := db.QueryRowContext(ctx, `SELECT TABLE_TYPE, COALESCE(ENGINE, '') FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`, schema, h.table).Scan(&kind, &engine)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("users table %s does not exist", strconv.Quote(h.desc.Table))
	}
	if err != nil {
		return err
	}
	if kind == "BASE TABLE" && !strings.EqualFold(engine, "InnoDB") {
		return fmt.Errorf("users table %s is %s, not InnoDB: a reset writes it in a transaction", strconv.Quote(h.desc.Table), engine)
	}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`, schema, h.table)
	if err != nil {
		return err
	}
	defer rows.Close()
	types := map[string]string{} // by lower-case name: MySQL's column names ignore case
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return err
		}
		types[strings.ToLower(name)] = strings.ToLower(typ)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	d := h.desc
	typeOf := func(col string) string { return types[strings.ToLower(col)] }
	var errs []error
	var missing []string
	for _, c := range []struct {
		field, name string
		want        [][]string
		wantName    string
	}{
		{"ID", d.ID, [][]string{integerTypes, textTypes}, "an integer or text"},
		{"Email", d.Email, [][]string{textTypes}, "text"},
		{"PasswordHash", d.PasswordHash, [][]string{textTypes}, "text"},
		{"Verified", d.Verified, [][]string{integerTypes}, "BOOLEAN or an integer"},
		{"UpdatedAt", d.UpdatedAt, [][]string{timeTypes, integerTypes}, "DATETIME, TIMESTAMP or an integer"},
	} {
		if c.name == "" {
			continue
		}
		typ, ok := types[strings.ToLower(c.name)]
		switch {
		case !ok:
			missing = append(missing, strconv.Quote(c.name))
		case !slices.ContainsFunc(c.want, func(kinds []string) bool { return slices.Contains(kinds, typ) }):
			errs = append(errs, fmt.Errorf("column %q (UsersTable.%s) is of type %s, not %s", c.name, c.field, typ, c.wantName))
		}
	}
	if len(missing) > 0 {
		errs = append([]error{fmt.Errorf("no column %s", strings.Join(missing, ", "))}, errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("users table %s: %w", strconv.Quote(d.Table), err)
	}
	h.sql.Store(hostStatements(h.name, d, typeOf))
	return nil
}

// hostStatements writes the statements over the host's table tbl.
func hostStatements(tbl string, d store.UsersTable, typeOf func(string) string) *userSQL {
	ids := hostusers.IDs{Integer: slices.Contains(integerTypes, typeOf(d.ID)), Prefix: d.Prefix()}
	id, email, hash := quote(d.ID), quote(d.Email), quote(d.PasswordHash)
	verified, setVerified := "FALSE", ""
	if d.Verified != "" {
		v := quote(d.Verified)
		verified, setVerified = "COALESCE("+v+", 0) <> 0", ", "+v+" = 1"
	}
	us := &userSQL{verifies: d.Verified != ""}
	setUpdated := ""
	if d.UpdatedAt != "" {
		u := quote(d.UpdatedAt)
		switch typeOf(d.UpdatedAt) {
		case "datetime":
			// The UTC wall clock, as text: whatever the driver's loc.
			setUpdated = ", " + u + " = ?"
			us.updated = func(t time.Time) any { return t.UTC().Truncate(time.Millisecond).Format("2006-01-02 15:04:05.000") }
		case "timestamp":
			// The instant: FROM_UNIXTIME gives it in the session's time
			// zone, from which the column converts it back.
			setUpdated = ", " + u + " = FROM_UNIXTIME(? / 1000)"
			us.updated = func(t time.Time) any { return t.UnixMilli() }
		default:
			setUpdated = ", " + u + " = ?"
			us.updated = func(t time.Time) any { return t.Unix() }
		}
	}
	cols := id + ", COALESCE(" + email + ", ''), " + verified
	// The hash as stored, compared byte for byte whatever the column's
	// collation: a case-insensitive one would take "$2a$...A" for "$2a$...a".
	storedHash := "CONVERT(COALESCE(" + hash + ", '') USING utf8mb4) COLLATE utf8mb4_bin"

	us.byID = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + id + ` = ?`
	us.lock = us.byID + ` FOR UPDATE`
	us.byEmail = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + email + ` = ?`
	// The fallback for an address stored in another case: LIKE under a
	// binary collation on the lower-cased address folds ASCII letters
	// alone, whatever the column's collation, the pattern's non-ASCII
	// characters are wildcards, and the candidates are compared in Go. It
	// reads the whole table, so it runs only when the equality finds
	// nothing.
	us.byEmailLike = `SELECT ` + cols + ` FROM ` + tbl +
		` WHERE LOWER(CONVERT(` + email + ` USING utf8mb4)) COLLATE utf8mb4_bin LIKE ? ESCAPE '!'`
	us.hash = `SELECT COALESCE(` + hash + `, '') FROM ` + tbl + ` WHERE ` + id + ` = ?`
	us.setPassword = `UPDATE ` + tbl + ` SET ` + hash + ` = ?` + setVerified + setUpdated + ` WHERE ` + id + ` = ?`
	us.changePassword = `UPDATE ` + tbl + ` SET ` + hash + ` = ?` + setUpdated + ` WHERE ` + id + ` = ? AND ` + storedHash + ` = ?`
	us.rehash = `UPDATE ` + tbl + ` SET ` + hash + ` = ? WHERE ` + id + ` = ? AND ` + storedHash + ` = ?`
	us.key = ids.Key
	us.scan = func(r row) (store.User, error) {
		var (
			u      store.User
			intKey int64
			key    any = &u.ID
		)
		if ids.Integer {
			key = &intKey
		}
		if err := r.Scan(key, &u.Email, &u.EmailVerified); err != nil {
			return store.User{}, err
		}
		if ids.Integer {
			u.ID = ids.Public(intKey)
		}
		return u, nil
	}
	return us
}

// hostSQL returns the statements over the host's table, inspecting it
// first if Migrate has not (an instance that did not run Migrate).
func (s *Store) hostSQL(ctx context.Context) (*userSQL, error) {
	if us := s.host.sql.Load(); us != nil {
		return us, nil
	}
	if err := s.host.inspect(ctx, s.db); err != nil {
		return nil, fmt.Errorf("WithUsers: %w", err)
	}
	return s.host.sql.Load(), nil
}
