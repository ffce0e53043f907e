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
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/passreset/passreset/store/internal/sqltest"
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
	return storebench.Dialect{Host: host, Seeded: func(tb testing.TB, spec storebench.Spec) storebench.DB {
		schema := freshSchema(tb)
		db := benchDB(schema, host)
		seed(tb, newPool(tb, schema), db, spec)
		return db
	}}
}

// benchDB is schema: the Store and the raw side each on a pool of its own
// with pgxpool's defaults.
func benchDB(schema string, host bool) storebench.Server[*pgstore.Store] {
	return storebench.Server[*pgstore.Store]{
		Host: host,
		NewStore: func(tb testing.TB) (*pgstore.Store, error) {
			var opts []pgstore.Option
			if host {
				opts = append(opts, pgstore.WithUsers(sqltest.Accounts()))
			}
			return pgstore.New(context.Background(), newPool(tb, schema), opts...)
		},
		HostSQL: pgstore.HostBenchSQL,
		NewRaw: func(tb testing.TB, hostSQL map[string]string, now func() time.Time) storebench.Raw {
			return openRaw(tb, newPool(tb, schema), hostSQL, now)
		},
	}
}

// seed migrates the schema of db, on pool, fills its tables as spec says
// with COPY, and analyses them.
func seed(tb testing.TB, pool *pgxpool.Pool, db storebench.Server[*pgstore.Store], spec storebench.Spec) {
	tb.Helper()
	ctx := context.Background()
	defer pool.Close()
	if db.Host {
		if _, err := pool.Exec(ctx, accountsDDL); err != nil {
			tb.Fatal(err)
		}
	}
	db.Store(tb)
	tables := storebench.Tables(spec, db.Host, func(t time.Time) any { return t }, "{}")
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
