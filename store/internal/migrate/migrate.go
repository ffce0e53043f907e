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
