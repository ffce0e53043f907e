// Package migrate lists the versioned SQL files a store embeds: one home for
// what every SQL store's Migrate reads, whatever its locking and dialect.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/passreset/passreset/store/internal/hostusers"
)

// File is one migration: the statements of a file named
// NNNN_description.sql. A file, once released, is never edited; a change is
// a new file.
type File struct {
	Name    string // the path within the embedded FS, as recorded when applied
	Version int
	SQL     string
}

// List returns the .sql files directly in dir of fsys, in version order. A
// name that does not start with a positive version number, or two files of
// one version, is an error.
func List(fsys fs.FS, dir string) ([]File, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	files := make([]File, 0, len(names))
	for _, name := range names {
		digits, _, ok := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(digits)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: name, Version: v, SQL: string(b)})
	}
	slices.SortFunc(files, func(a, b File) int { return a.Version - b.Version })
	for i := 1; i < len(files); i++ {
		if files[i].Version == files[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s: same version", files[i-1].Name, files[i].Name)
		}
	}
	return files, nil
}

// Store returns the migrations a SQL store applies, in the order it
// applies them: those of passreset's own state in migrations/, then, when
// the store keeps its own users table (ownUsers: no host table described),
// those of passreset_users in migrations/users/.
func Store(fsys fs.FS, ownUsers bool) ([]File, error) {
	files, err := List(fsys, "migrations")
	if err != nil || !ownUsers {
		return files, err
	}
	users, err := List(fsys, "migrations/users")
	if err != nil {
		return nil, err
	}
	return append(files, users...), nil
}

// EmailFold is the migration whose work is done in Go: after its SQL, in
// its transaction, the store sets each user's email_key to the address
// folded by hostusers.Fold (EmailKeyChanges).
const EmailFold = "migrations/users/0002_email_fold.sql"

// SelectEmailKeys reads what EmailKeyChanges takes: each user's id, email and
// email_key, oldest account first.
const SelectEmailKeys = `SELECT id, email, email_key FROM passreset_users ORDER BY created_at, id`

// Rows is a result of SelectEmailKeys: a *sql.Rows or a pgx.Rows, which
// the caller closes.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// KeyChange is a user whose email_key is to become Key.
type KeyChange struct{ ID, Key string }

// EmailKeyChanges reads rows of SelectEmailKeys and returns, in their
// order, the users whose email_key is not the fold of their email. Only
// those are held in memory: the users with a non-ASCII address, or one
// emailaddr refuses. The caller sets each key unless another account holds
// it already, so that the oldest account keeps a contested one.
func EmailKeyChanges(rows Rows) ([]KeyChange, error) {
	var changes []KeyChange
	for rows.Next() {
		var id, email, key string
		if err := rows.Scan(&id, &email, &key); err != nil {
			return nil, err
		}
		if k := hostusers.Fold(email); k != key {
			changes = append(changes, KeyChange{id, k})
		}
	}
	return changes, rows.Err()
}
