package mysqlstore_test

// The benchmarks of store/internal/storebench on MySQL or MariaDB: each hot
// path through the module and as the Store's statements issued by hand
// (raw_bench_test.go), in the same run. Each side has a fresh database of
// its own, seeded alike with multi-row INSERTs and dropped when the
// benchmark ends. They need a server, and skip without one:
//
//	PASSRESET_MYSQL_URL='root@tcp(127.0.0.1:3306)/test' \
//		go test -run '^$' -bench 'Pairs|HostPairs' -benchmem -count=6 ./store/mysqlstore/

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/mysqlstore"
)

func BenchmarkPairs(b *testing.B)     { storebench.Pairs(b, benchDialect(false)) }
func BenchmarkHostPairs(b *testing.B) { storebench.Pairs(b, benchDialect(true)) }
func TestBench(t *testing.T)          { storebench.Test(t, benchDialect(false)) }
func TestBenchHost(t *testing.T)      { storebench.Test(t, benchDialect(true)) }

// benchDialect is MySQL to the harness: over passreset's own users table,
// or over the host's accounts (host_test.go).
func benchDialect(host bool) storebench.Dialect {
	return storebench.Dialect{Host: host, Seeded: func(tb testing.TB, spec storebench.Spec) storebench.DB {
		cfg := freshDB(tb)
		db := benchDB(cfg, host)
		seed(tb, benchPool(tb, cfg), db, spec)
		return db
	}}
}

// benchDB is the database of cfg: the Store opened as Open opens it, on a
// pool of OpenDB's (READ COMMITTED set when each connection connects,
// placeholders interpolated), and the raw side on another.
func benchDB(cfg *mysql.Config, host bool) storebench.Server[*mysqlstore.Store] {
	return storebench.Server[*mysqlstore.Store]{
		Host: host,
		NewStore: func(tb testing.TB) (*mysqlstore.Store, error) {
			var opts []mysqlstore.Option
			if host {
				opts = append(opts, mysqlstore.WithUsers(sqltest.Accounts()))
			}
			return mysqlstore.New(context.Background(), benchPool(tb, cfg), opts...)
		},
		HostSQL: mysqlstore.HostBenchSQL,
		NewRaw: func(tb testing.TB, hostSQL map[string]string, now func() time.Time) storebench.Raw {
			return openRaw(tb, benchPool(tb, cfg), hostSQL, now)
		},
	}
}

// benchPool is a pool of OpenDB's with database/sql's defaults, closed
// when tb ends: the pool of either side.
func benchPool(tb testing.TB, cfg *mysql.Config) *sql.DB {
	tb.Helper()
	pool, err := mysqlstore.OpenDB(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pool.Close() })
	return pool
}

// seed migrates the database of db, on pool, fills its tables as spec
// says with multi-row INSERTs, and analyses them.
func seed(tb testing.TB, pool *sql.DB, db storebench.Server[*mysqlstore.Store], spec storebench.Spec) {
	tb.Helper()
	ctx := context.Background()
	if db.Host {
		if _, err := pool.ExecContext(ctx, accountsDDL); err != nil {
			tb.Fatal(err)
		}
	}
	db.Store(tb)
	tables := storebench.Tables(spec, db.Host, func(t time.Time) any { return t.UnixMilli() }, "{}")
	for _, tbl := range tables {
		const chunk = 500
		group := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(tbl.Cols)), ", ") + ")"
		for lo := 0; lo < tbl.Rows; lo += chunk {
			hi := min(lo+chunk, tbl.Rows)
			q := "INSERT INTO " + tbl.Name + " (" + strings.Join(tbl.Cols, ", ") + ") VALUES " +
				strings.TrimSuffix(strings.Repeat(group+", ", hi-lo), ", ")
			args := make([]any, 0, (hi-lo)*len(tbl.Cols))
			for i := lo; i < hi; i++ {
				args = append(args, tbl.Row(i)...)
			}
			if _, err := pool.ExecContext(ctx, q, args...); err != nil {
				tb.Fatalf("seed %s: %v", tbl.Name, err)
			}
		}
	}
	if _, err := pool.ExecContext(ctx, "ANALYZE TABLE "+tables[0].Name+", passreset_resets, passreset_sessions"); err != nil {
		tb.Fatal(err)
	}
}
