package sqlitestore_test

// The benchmarks of store/internal/storebench on SQLite: each hot path
// through the module and as the Store's statements issued by hand
// (raw_bench_test.go), in the same run, on files seeded alike, both
// durable (synchronous=FULL).
//
//	go test -run '^$' -bench 'Pairs|HostPairs' -benchmem -count=6 ./store/sqlitestore/
//	go test -run '^$' -bench Growth -benchmem -count=6 ./store/sqlitestore/
//
// The growth databases are built once and kept in os.TempDir() as
// passreset-bench-schema<S>-data<D>-rows<N>.db, S the newest migration's
// version and D growthDataVersion: a later run reuses them; one that is
// missing or incomplete (no bench_meta row matching its spec) is built
// again, in bulk, in one transaction with synchronous=OFF, into a
// temporary file renamed into place when done. The million-row file takes
// about 730 MB and under a minute to build; delete the files to reclaim
// the space. Only benchmarks build them. Each side reads its file through
// first (warm), so that pages the OS dropped since the last run do not
// count as the cost of a lookup.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/sqlitestore"
)

func BenchmarkPairs(b *testing.B)     { storebench.Pairs(b, benchDialect(false)) }
func BenchmarkHostPairs(b *testing.B) { storebench.Pairs(b, benchDialect(true)) }
func BenchmarkGrowth(b *testing.B)    { storebench.Growth(b, benchDialect(false)) }
func TestBench(t *testing.T)          { storebench.Test(t, benchDialect(false)) }
func TestBenchHost(t *testing.T)      { storebench.Test(t, benchDialect(true)) }

// TestBenchRawWritesAsTheStore: each hot path, once through the module and
// once raw on equal files, writes the same rows and makes the same
// commits, in the same order.
func TestBenchRawWritesAsTheStore(t *testing.T) {
	for _, host := range []bool{false, true} {
		t.Run("host="+strconv.FormatBool(host), func(t *testing.T) {
			spec := storebench.CheckSpec()
			d := benchDialect(host)
			mod, raw := d.Seeded(t, spec).(benchDB), d.Seeded(t, spec).(benchDB)
			mod.hooked, raw.hooked = true, true
			storebench.CheckWrites(t, d, mod, raw, takeWrites)
		})
	}
}

// benchDialect is SQLite to the harness: over passreset's own users
// table, or over the host's accounts (host_test.go).
func benchDialect(host bool) storebench.Dialect {
	d := storebench.Dialect{
		Host: host,
		Seeded: func(tb testing.TB, spec storebench.Spec) storebench.DB {
			path := filepath.Join(tb.TempDir(), "bench.db")
			seed(tb, path, host, spec)
			return benchDB{path: path, host: host}
		},
	}
	if !host {
		d.Grown = func(b *testing.B, spec storebench.Spec) storebench.DB {
			return benchDB{path: growthDB(b, spec), warm: true}
		}
	}
	return d
}

// benchDB is a seeded file.
type benchDB struct {
	path   string
	host   bool // the users are in the host's accounts
	warm   bool // read the file through before opening either side
	hooked bool // record writes and commits (takeWrites)
}

func (db benchDB) Store(tb testing.TB) storebench.Store {
	tb.Helper()
	var opts []sqlitestore.Option
	if db.host {
		opts = append(opts, sqlitestore.WithUsers(sqltest.Accounts()))
	}
	if db.warm {
		warm(tb, db.path)
	}
	var (
		st  *sqlitestore.Store
		err error
	)
	if db.hooked {
		st, err = sqlitestore.New(openHooked(tb, db.path), opts...)
	} else {
		st, err = sqlitestore.Open(context.Background(), db.path, opts...)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil { // a no-op on a seeded file
		tb.Fatal(err)
	}
	return st
}

func (db benchDB) Raw(tb testing.TB, now func() time.Time) storebench.Raw {
	tb.Helper()
	if db.warm {
		warm(tb, db.path)
	}
	if db.hooked {
		h := openHooked(tb, db.path)
		return openRawOn(tb, h, h, db.host, now)
	}
	return openRaw(tb, db.path, db.host, now)
}

// seed creates the schema in the file at path (over the host's accounts
// table, host) and fills it as spec says, in one transaction with
// synchronous=OFF: bulk loading, not the thing measured.
func seed(tb testing.TB, path string, host bool, spec storebench.Spec) {
	tb.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var opts []sqlitestore.Option
	if host {
		if _, err := db.ExecContext(ctx, accountsDDL); err != nil {
			tb.Fatal(err)
		}
		opts = append(opts, sqlitestore.WithUsers(sqltest.Accounts()))
	}
	st, err := sqlitestore.Open(ctx, path, opts...)
	if err == nil {
		err = st.Migrate(ctx)
	}
	if err == nil {
		err = st.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	for _, p := range []string{`PRAGMA synchronous=OFF`, `PRAGMA cache_size=-262144`} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
	if err := fill(ctx, conn, host, spec); err != nil {
		tb.Fatalf("seed %s: %v", path, err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
}

func fill(ctx context.Context, conn *sql.Conn, host bool, spec storebench.Spec) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, tbl := range storebench.Tables(spec, host, func(t time.Time) any { return t.UnixMilli() }, nil) {
		ins, err := tx.PrepareContext(ctx, "INSERT INTO "+strconv.Quote(tbl.Name)+" ("+strings.Join(tbl.Cols, ", ")+
			") VALUES ("+strings.TrimSuffix(strings.Repeat("?, ", len(tbl.Cols)), ", ")+")")
		if err != nil {
			return err
		}
		for i := range tbl.Rows {
			if _, err := ins.ExecContext(ctx, tbl.Row(i)...); err != nil {
				return err
			}
		}
	}
	// The spec, in a table of the benchmarks' own: a file that has it is
	// complete.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE bench_meta (users INTEGER, resets INTEGER, sessions INTEGER, now INTEGER)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO bench_meta VALUES (?, ?, ?, ?)`, spec.Users, spec.Resets, spec.Sessions, spec.Now.UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// growthDataVersion names the layout of the growth databases' rows (see
// storebench.Spec); change it when that changes.
const growthDataVersion = 1

var growthDBs struct {
	sync.Mutex
	paths map[storebench.Spec]string
}

// growthDB returns the path of the database seeded as spec says, building
// it if need be.
func growthDB(b *testing.B, spec storebench.Spec) string {
	b.Helper()
	growthDBs.Lock()
	defer growthDBs.Unlock()
	if p, ok := growthDBs.paths[spec]; ok {
		return p
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("passreset-bench-schema%d-data%d-rows%d.db",
		sqlitestore.BenchSchemaVersion(), growthDataVersion, spec.Resets))
	if !seededAs(path, spec) {
		start := time.Now()
		tmp := path + ".building." + strconv.Itoa(os.Getpid())
		removeDB(b, tmp)
		seed(b, tmp, false, spec)
		removeDB(b, path) // and its -wal and -shm, which must not meet the new file
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %s in %v; later runs reuse it", path, time.Since(start).Round(time.Second))
	}
	if growthDBs.paths == nil {
		growthDBs.paths = map[storebench.Spec]string{}
	}
	growthDBs.paths[spec] = path
	return path
}

// seededAs reports whether the file at path holds a database seeded
// completely as spec says.
func seededAs(path string, spec storebench.Spec) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	if err != nil {
		return false
	}
	defer db.Close()
	var got storebench.Spec
	var now int64
	err = db.QueryRow(`SELECT users, resets, sessions, now FROM bench_meta`).Scan(&got.Users, &got.Resets, &got.Sessions, &now)
	return err == nil && got.Users == spec.Users && got.Resets == spec.Resets &&
		got.Sessions == spec.Sessions && now == spec.Now.UnixMilli()
}

// removeDB removes the database at path with its WAL and shared-memory
// files, if they exist.
func removeDB(tb testing.TB, path string) {
	tb.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			tb.Fatal(err)
		}
	}
}

// warm reads the file at path through, so that a benchmark measures
// lookups in a database the OS keeps in memory, as it does one in use,
// rather than reads from the disk of pages it dropped since the last run.
func warm(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		tb.Fatal(err)
	}
}

// hookDriver is "sqlite3" with hooks that record every row written and
// every commit, in order (takeWrites).
const hookDriver = "sqlite3_passreset_bench_hooks"

var (
	registerHooks sync.Once
	writes        struct {
		sync.Mutex
		log []string
	}
)

func record(event string) {
	writes.Lock()
	defer writes.Unlock()
	writes.log = append(writes.log, event)
}

// takeWrites returns what was recorded since the last call.
func takeWrites() []string {
	writes.Lock()
	defer writes.Unlock()
	log := writes.log
	writes.log = nil
	return log
}

// openHooked opens the file at path through hookDriver.
func openHooked(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	registerHooks.Do(func() {
		sql.Register(hookDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			ops := map[int]string{sqlite3.SQLITE_INSERT: "insert", sqlite3.SQLITE_UPDATE: "update", sqlite3.SQLITE_DELETE: "delete"}
			c.RegisterUpdateHook(func(op int, _, table string, _ int64) { record(ops[op] + " " + table) })
			c.RegisterCommitHook(func() int { record("commit"); return 0 })
			return nil
		}})
	})
	db, err := sql.Open(hookDriver, sqlitestore.DSN(path))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
