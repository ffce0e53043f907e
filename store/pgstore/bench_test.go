package pgstore_test

// The benchmarks of store/internal/storebench on Postgres: each hot path
// through the module and as the Store's statements issued by hand
// (raw_bench_test.go), in the same run. Each side has a fresh schema of its
// own, seeded alike with COPY and dropped when the benchmark ends (the
// growth benchmarks: one schema per size, which both sides read). They
// need a server, and skip without one:
//
//	PASSRESET_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//		go test -run '^$' -bench 'Pairs|HostPairs' -benchmem -count=6 ./store/pgstore/

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/pgstore"
)

func BenchmarkPairs(b *testing.B)     { storebench.Pairs(b, benchDialect(false)) }
func BenchmarkHostPairs(b *testing.B) { storebench.Pairs(b, benchDialect(true)) }
func BenchmarkGrowth(b *testing.B)    { storebench.Growth(b, benchDialect(false)) }
func TestBench(t *testing.T)          { storebench.Test(t, benchDialect(false)) }
func TestBenchHost(t *testing.T)      { storebench.Test(t, benchDialect(true)) }

// benchDialect is Postgres to the harness: over passreset's own users
// table, or over the host's accounts (host_test.go).
func benchDialect(host bool) storebench.Dialect {
	d := storebench.Dialect{
		Seeded: func(tb testing.TB, spec storebench.Spec) storebench.DB {
			db := benchDB{schema: freshSchema(tb), host: host}
			seed(tb, db, spec)
			return db
		},
	}
	if host {
		d.UserID = storebench.HostUserID
	}
	return d
}

// benchDB is a seeded schema.
type benchDB struct {
	schema string
	host   bool // the users are in the host's accounts
}

func (db benchDB) Store(tb testing.TB) storebench.Store {
	tb.Helper()
	var opts []pgstore.Option
	if db.host {
		opts = append(opts, pgstore.WithUsers(accounts()))
	}
	st, err := pgstore.New(context.Background(), newPool(tb, db.schema), opts...)
	if err == nil {
		err = st.Migrate(context.Background()) // a no-op on a seeded schema
	}
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func (db benchDB) Raw(tb testing.TB, now func() time.Time) storebench.Raw {
	var host map[string]string
	if db.host {
		var err error
		if host, err = pgstore.HostBenchSQL(context.Background(), db.Store(tb).(*pgstore.Store)); err != nil {
			tb.Fatal(err)
		}
	}
	return openRaw(tb, newPool(tb, db.schema), host, now)
}

// seed migrates the schema of db, fills its tables as spec says with COPY,
// and analyses them.
func seed(tb testing.TB, db benchDB, spec storebench.Spec) {
	tb.Helper()
	ctx := context.Background()
	pool := newPool(tb, db.schema)
	defer pool.Close()
	if db.host {
		if _, err := pool.Exec(ctx, accountsDDL); err != nil {
			tb.Fatal(err)
		}
	}
	db.Store(tb)
	tables := storebench.Tables(spec, db.host, func(t time.Time) any { return t }, "{}")
	for _, tbl := range tables {
		_, err := pool.CopyFrom(ctx, pgx.Identifier{tbl.Name}, tbl.Cols, pgx.CopyFromSlice(tbl.Rows, func(i int) ([]any, error) {
			return tbl.Row(i), nil
		}))
		if err != nil {
			tb.Fatalf("seed %s: %v", tbl.Name, err)
		}
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+tables[0].Name+", passreset_resets, passreset_sessions"); err != nil {
		tb.Fatal(err)
	}
}
