// Package deploy opens what the instances of an example share when several
// of them run behind one address: the database that -db names, and the
// secret key in PASSRESET_SECRET_KEY. Both examples (apiserver and webapp)
// use it, so that they read -db and the key alike.
package deploy

import (
	"context"
	"net/url"
	"strings"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/mysqlstore"
	"github.com/passreset/passreset/store/pgstore"
	"github.com/passreset/passreset/store/sqlitestore"
)

// Store is what the examples keep their users, resets, sessions and
// replays in: store/sqlitestore, store/pgstore or store/mysqlstore. It lists every optional
// part the Service looks for (a DB holds the store behind this interface,
// so a part left out here would be lost: the Service would no longer
// record sign-ins).
type Store interface {
	store.Store
	store.UserCreator
	store.SignInRecorder
	session.Store
}

// DB is an open, migrated database.
type DB struct {
	Store
	// Name says which database it is, for logs and messages: the file, or
	// the URL without its password.
	Name    string
	migrate func(context.Context) error
	close   func() error
}

// Close closes the database.
func (d *DB) Close() error { return d.close() }

// Open opens the database that db names, creating its tables or bringing
// them up to date: a postgres:// or postgresql:// URL is a Postgres
// database (store/pgstore), a mysql:// URL
// (mysql://user:password@host:3306/database) a MySQL or MariaDB database
// (store/mysqlstore), anything else the path of a SQLite file
// (store/sqlitestore), created if need be. Errors never quote a URL, which
// may hold a password.
func Open(ctx context.Context, db string) (*DB, error) {
	d, err := open(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// open opens the database that db names, as Open says, without migrating
// it.
func open(ctx context.Context, db string) (*DB, error) {
	scheme, rest := schemeOf(db)
	switch scheme {
	case "postgres", "postgresql":
		// pgx reads only a lower-case scheme as a URL; URLs' schemes are
		// case-insensitive.
		db = scheme + "://" + rest
		st, err := pgstore.Open(ctx, db)
		if err != nil {
			return nil, err
		}
		return &DB{Store: st, Name: redacted(db, "postgres database"), migrate: st.Migrate, close: func() error { st.Close(); return nil }}, nil
	case "mysql":
		db = scheme + "://" + rest
		st, err := mysqlstore.Open(ctx, db)
		if err != nil {
			return nil, err
		}
		return &DB{Store: st, Name: redacted(db, "mysql database"), migrate: st.Migrate, close: st.Close}, nil
	default:
		st, err := sqlitestore.Open(ctx, db)
		if err != nil {
			return nil, err
		}
		return &DB{Store: st, Name: db, migrate: st.Migrate, close: st.Close}, nil
	}
}

// redacted returns the URL db without its password, or, when db does not
// parse, what it is.
func redacted(db, what string) string {
	u, err := url.Parse(db)
	if err != nil {
		return what
	}
	return u.Redacted()
}

// Shared reports whether db names a database server that instances on
// several machines may share (Postgres, MySQL), rather than a file: such
// instances must share one secret key too.
func Shared(db string) bool {
	scheme, _ := schemeOf(db)
	return scheme == "postgres" || scheme == "postgresql" || scheme == "mysql"
}

// schemeOf splits a URL's scheme, lower-cased, from the rest; a path has
// none.
func schemeOf(db string) (scheme, rest string) {
	scheme, rest, ok := strings.Cut(db, "://")
	if !ok {
		return "", db
	}
	return strings.ToLower(scheme), rest
}
