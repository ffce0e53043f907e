package storebench

import (
	"context"
	"testing"
	"time"
)

// MigratingStore is a Store that makes its own schema.
type MigratingStore interface {
	Store
	Migrate(ctx context.Context) error
}

// Server is a DB on a database server (MySQL, Postgres): a database or
// schema of its own, seeded, on which each side opens pools of its own.
// A store's test package says how to make a Store and the raw side on it;
// opening them for the harness is the same for every server.
type Server[S MigratingStore] struct {
	// Host says the users are the host's accounts (Dialect.Host).
	Host bool
	// NewStore makes a Store as an app does, over a pool of its own
	// closed when tb ends, over the host's accounts when Host. Store
	// migrates it: a no-op on a seeded database.
	NewStore func(tb testing.TB) (S, error)
	// HostSQL is the store's HostBenchSQL: the statements of a Store over
	// the host's accounts that differ from its own (Statements).
	HostSQL func(ctx context.Context, st S) (map[string]string, error)
	// NewRaw opens the raw side over a pool of its own, closed when tb
	// ends; host is what HostSQL returned, or nil over passreset's own
	// users, and now the raw side's clock (Clock).
	NewRaw func(tb testing.TB, host map[string]string, now func() time.Time) Raw
}

// Store opens a migrated Store on the database.
func (db Server[S]) Store(tb testing.TB) Store { return db.migrated(tb) }

func (db Server[S]) migrated(tb testing.TB) S {
	tb.Helper()
	st, err := db.NewStore(tb)
	if err == nil {
		err = st.Migrate(context.Background())
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// Raw opens the raw side on the database, with the statements of a Store
// over the host's accounts when Host.
func (db Server[S]) Raw(tb testing.TB, now func() time.Time) Raw {
	tb.Helper()
	var host map[string]string
	if db.Host {
		var err error
		if host, err = db.HostSQL(context.Background(), db.migrated(tb)); err != nil {
			tb.Fatal(err)
		}
	}
	return db.NewRaw(tb, host, now)
}
