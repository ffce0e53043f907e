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
	d := storebench.Dialect{
		Seeded: func(tb testing.TB, spec storebench.Spec) storebench.DB {
			db := benchDB{cfg: freshDB(tb), host: host}
			seed(tb, db, spec)
			return db
		},
	}
	if host {
		d.UserID = storebench.HostUserID
	}
	return d
}

// benchDB is a seeded database.
type benchDB struct {
	cfg  *mysql.Config
	host bool // the users are in the host's accounts
}

// Store opens the Store as Open does: a pool of OpenDB's (READ COMMITTED
// set when each connection connects, placeholders interpolated).
func (db benchDB) Store(tb testing.TB) storebench.Store {
	tb.Helper()
	var opts []mysqlstore.Option
	if db.host {
		opts = append(opts, mysqlstore.WithUsers(accounts()))
	}
	st, err := mysqlstore.New(context.Background(), benchPool(tb, db.cfg), opts...)
	if err == nil {
		err = st.Migrate(context.Background()) // a no-op on a seeded database
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
		if host, err = mysqlstore.HostBenchSQL(context.Background(), db.Store(tb).(*mysqlstore.Store)); err != nil {
			tb.Fatal(err)
		}
	}
	return openRaw(tb, benchPool(tb, db.cfg), host, now)
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

// seed migrates the database of db, fills its tables as spec says with
// multi-row INSERTs, and analyses them.
func seed(tb testing.TB, db benchDB, spec storebench.Spec) {
	tb.Helper()
	ctx := context.Background()
	pool := benchPool(tb, db.cfg)
	if db.host {
		if _, err := pool.ExecContext(ctx, accountsDDL); err != nil {
			tb.Fatal(err)
		}
	}
	db.Store(tb)
	tables := storebench.Tables(spec, db.host, func(t time.Time) any { return t.UnixMilli() }, "{}")
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
