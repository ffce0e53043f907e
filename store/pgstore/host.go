package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
)

// hostTable is a host's users table (WithUsers): its description, and the
// SQL that reads and writes it, written once the table's column types are
// known (inspect).
type hostTable struct {
	desc store.UsersTable
	name string // the table as SQL names it: each part quoted

	sql atomic.Pointer[hostSQL] // nil until inspected
	mu  sync.Mutex              // serialises inspections
}

// timeKind is how the host's UpdatedAt column keeps a time.
type timeKind int

const (
	noTime      timeKind = iota // no UpdatedAt column
	timestampTZ                 // timestamptz: the instant
	timestamp                   // timestamp without time zone: the UTC wall clock
	unixSeconds                 // an integer column: unix seconds
)

// hostSQL is what inspecting the table taught: how its keys map to ids,
// how it keeps times, and the statements over it.
type hostSQL struct {
	ids     hostusers.IDs
	uuid    bool // the key is a uuid: an id must be one to name a row
	updated timeKind

	byID, byEmail, byEmailLike, hash string
	createReset, redeemReset         string
	changePassword                   string
}

// newHostTable checks t and returns the host table it describes. Its
// Table may name a schema: "schema.table".
func newHostTable(t store.UsersTable) (*hostTable, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	parts := strings.Split(t.Table, ".")
	if len(parts) > 2 || slices.Contains(parts, "") {
		return nil, fmt.Errorf("UsersTable.Table %q is not a table or schema.table", t.Table)
	}
	return &hostTable{desc: t, name: pgx.Identifier(parts).Sanitize()}, nil
}

// typeIn reports whether typ, format_type's name of a column's type (of
// a domain's base type), is one of the kinds a described column may have.
func typeIn(typ string, kinds ...string) bool {
	for _, k := range kinds {
		switch {
		case k == "integer" && (typ == "smallint" || typ == "integer" || typ == "bigint"),
			k == "text" && (typ == "text" || typ == "character varying" || typ == "character" || typ == "citext"),
			k == "timestamp" && (typ == "timestamp with time zone" || typ == "timestamp without time zone"),
			k == typ: // boolean, uuid
			return true
		}
	}
	return false
}

// qColumns lists the columns of a table (or view) and the names of their
// types, those of a domain's base type, without modifiers.
const qColumns = `SELECT a.attname, format_type(coalesce(nullif(t.typbasetype, 0), a.atttypid), NULL)
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`

// inspect reads the table's columns through pool (whose search_path finds
// an unqualified table as the host's queries find it), checks the
// description against them, and writes the SQL over it, qualifying
// passreset's own tables with prefix.
func (h *hostTable) inspect(ctx context.Context, pool *pgxpool.Pool, prefix string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	rows, err := pool.Query(ctx, qColumns, h.name)
	if err != nil {
		return err
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var c [2]string
		err := r.Scan(&c[0], &c[1])
		return c, err
	})
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		return fmt.Errorf("users table %s does not exist (or has no columns)", strconv.Quote(h.desc.Table))
	}
	types := make(map[string]string, len(cols))
	for _, c := range cols {
		types[c[0]] = c[1]
	}
	d := h.desc
	var errs []error
	var missing []string
	for _, c := range []struct {
		field, name string
		want        []string
	}{
		{"ID", d.ID, []string{"integer", "text", "uuid"}},
		{"Email", d.Email, []string{"text"}},
		{"PasswordHash", d.PasswordHash, []string{"text"}},
		{"Verified", d.Verified, []string{"boolean", "integer"}},
		{"UpdatedAt", d.UpdatedAt, []string{"timestamp", "integer"}},
	} {
		if c.name == "" {
			continue
		}
		typ, ok := types[c.name]
		switch {
		case !ok:
			missing = append(missing, strconv.Quote(c.name)+hint(c.name, types))
		case !typeIn(typ, c.want...):
			errs = append(errs, fmt.Errorf("column %q (UsersTable.%s) is of type %s, not %s",
				c.name, c.field, typ, strings.Join(c.want, " or ")))
		}
	}
	if len(missing) > 0 {
		errs = append([]error{fmt.Errorf("no column %s", strings.Join(missing, ", "))}, errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("users table %s: %w", strconv.Quote(d.Table), err)
	}

	hs := &hostSQL{
		ids:  hostusers.IDs{Integer: typeIn(types[d.ID], "integer"), Prefix: d.Prefix()},
		uuid: types[d.ID] == "uuid",
	}
	switch t := types[d.UpdatedAt]; {
	case d.UpdatedAt == "":
		hs.updated = noTime
	case t == "timestamp with time zone":
		hs.updated = timestampTZ
	case t == "timestamp without time zone":
		hs.updated = timestamp
	default:
		hs.updated = unixSeconds
	}
	hs.write(h.name, d, types, prefix)
	h.sql.Store(hs)
	return nil
}

// hint suggests the column a case-sensitive name may have meant: every
// name is quoted, so Account_ID does not find account_id.
func hint(name string, types map[string]string) string {
	for c := range types {
		if strings.EqualFold(c, name) {
			return fmt.Sprintf(" (there is %q: names are quoted, so case matters)", c)
		}
	}
	return ""
}

// write writes the statements over the host's table tbl.
func (hs *hostSQL) write(tbl string, d store.UsersTable, types map[string]string, prefix string) {
	q := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	id, email, hash := q(d.ID), q(d.Email), q(d.PasswordHash)
	// The key is compared with a bigint parameter whatever its width, so
	// that an id out of a smaller column's range finds nothing rather than
	// failing; a text key is compared with a parameter of its own type.
	key := func(n int) string { return "$" + strconv.Itoa(n) }
	idCol := id + "::text"
	if hs.ids.Integer {
		key = func(n int) string { return "$" + strconv.Itoa(n) + "::bigint" }
		idCol = id + "::bigint"
	}
	verified, setVerified := "false", ""
	if d.Verified != "" {
		v := q(d.Verified)
		if types[d.Verified] == "boolean" {
			verified, setVerified = "coalesce("+v+", false)", ", "+v+" = true"
		} else {
			verified, setVerified = "coalesce("+v+", 0) <> 0", ", "+v+" = 1"
		}
	}
	setUpdated := ""
	if hs.updated != noTime {
		setUpdated = ", " + q(d.UpdatedAt) + " = $" + strconv.Itoa(redeemResetParams+2)
	}
	cols := idCol + ", coalesce(" + email + "::text, ''), " + verified

	hs.byID = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + id + ` = ` + key(1)
	hs.byEmail = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + email + ` = $1`
	// The fallback for an address stored in another case: ILIKE under the
	// "C" collation folds ASCII letters alone, whatever the column's
	// collation (a nondeterministic one refuses ILIKE), the pattern's
	// non-ASCII characters are wildcards, and the candidates are compared
	// in Go. It reads the whole table, so it runs only when the indexed
	// equality finds nothing.
	hs.byEmailLike = `SELECT ` + cols + ` FROM ` + tbl + ` WHERE ` + email + ` COLLATE "C" ILIKE $1`
	hs.hash = `SELECT coalesce(` + hash + `::text, '') FROM ` + tbl + ` WHERE ` + id + ` = ` + key(1)
	change := hash + ` = $3`
	if hs.updated != noTime {
		u := q(d.UpdatedAt)
		change += `, ` + u + ` = CASE WHEN $2::boolean THEN ` + u + ` ELSE $` + strconv.Itoa(changePasswordParams+2) + ` END`
	}
	parts := userParts{
		users:  tbl,
		id:     id,
		email:  email + "::text",
		set:    hash + ` = $4` + setVerified + setUpdated,
		cols:   cols,
		key:    func(params int) string { return key(params + 1) },
		change: change,
		hash:   `coalesce(` + hash + `::text, '')`,
	}
	hs.createReset = strings.ReplaceAll(userStatement(qCreateReset, parts), "{s}", prefix)
	hs.redeemReset = strings.ReplaceAll(userStatement(qRedeemReset, parts), "{s}", prefix)
	hs.changePassword = strings.ReplaceAll(userStatement(qChangePassword, parts), "{s}", prefix)
}

// key returns the key of the row an id names, and false when it can name
// none: a malformed integer id, or a uuid key's id that is not one in the
// form the Store shows (which Postgres would refuse to compare).
func (hs *hostSQL) key(id string) (any, bool) {
	if hs.uuid && !isUUID(id) {
		return nil, false
	}
	return hs.ids.Key(id)
}

// isUUID reports whether s is a uuid in its canonical text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// updatedAt is the value written to UpdatedAt for a reset at t.
func (hs *hostSQL) updatedAt(t time.Time) any {
	switch hs.updated {
	case unixSeconds:
		return t.Unix()
	case timestamp:
		return ms(t).UTC() // pgx writes a timestamp's wall clock
	}
	return ms(t)
}

// scan reads the columns of a host row: key, email, verified.
func (hs *hostSQL) scan(row pgx.Row, extra ...any) (store.User, error) {
	var (
		u      store.User
		intKey int64
		key    any = &u.ID
	)
	if hs.ids.Integer {
		key = &intKey
	}
	if err := row.Scan(append([]any{key, &u.Email, &u.EmailVerified}, extra...)...); err != nil {
		return store.User{}, err
	}
	if hs.ids.Integer {
		u.ID = hs.ids.Public(intKey)
	}
	return u, nil
}

// hostSQL returns the statements over the host's table, inspecting it
// first if Migrate has not (an instance that did not run Migrate).
func (s *Store) hostSQL(ctx context.Context) (*hostSQL, error) {
	if hs := s.host.sql.Load(); hs != nil {
		return hs, nil
	}
	if err := s.host.inspect(ctx, s.pool, schemaPrefix(s.schema)); err != nil {
		return nil, fmt.Errorf("WithUsers: %w", err)
	}
	return s.host.sql.Load(), nil
}
