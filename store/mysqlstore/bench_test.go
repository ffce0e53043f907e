package mysqlstore_test

// The benchmarks of store/internal/storebench on MySQL or MariaDB: each hot
// path through the module and as the Store's statements written by hand
// (raw_bench_test.go), in the same run. Each side has a fresh database of
// its own, seeded alike with multi-row INSERTs and dropped when the
// benchmark ends. They need a server, and skip without one:
//
//	PASSRESET_MYSQL_URL='root@tcp(127.0.0.1:3306)/test' \
//		go test -run '^$' -bench 'Pairs|HostPairs' -benchmem -count=6 ./store/mysqlstore/

import (
	"context"
	"database/sql"
	"strconv"
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

// TestBenchRawSQLIsTheStores: the raw side issues the Store's own
// statements, as text.
func TestBenchRawSQLIsTheStores(t *testing.T) {
	storebench.SameSQL(t, rawSQL, mysqlstore.BenchSQL)
	db := benchDialect(true).Seeded(t, storebench.Spec{Users: 1, Resets: 1, Sessions: 1, Now: time.Now()})
	host, err := mysqlstore.HostBenchSQL(t.Context(), db.Store(t).(*mysqlstore.Store))
	if err != nil {
		t.Fatal(err)
	}
	storebench.SameSQL(t, rawHostSQL, host)
}

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
		d.UserID = hostUserID
	}
	return d
}

// hostUserID is the id the Store shows for seeded user i over the
// accounts table, whose account_id is i+1.
func hostUserID(i int) string { return "user_" + strconv.Itoa(i+1) }

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
	return openRaw(benchPool(tb, db.cfg), db.host, now)
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
	now := spec.Now.Truncate(time.Millisecond)
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	created := ms(now.Add(-48 * time.Hour))
	insert := func(table string, cols []string, n int, row func(i int) []any) {
		const chunk = 500
		for lo := 0; lo < n; lo += chunk {
			hi := min(lo+chunk, n)
			group := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
			q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
				strings.TrimSuffix(strings.Repeat(group+", ", hi-lo), ", ")
			args := make([]any, 0, (hi-lo)*len(cols))
			for i := lo; i < hi; i++ {
				args = append(args, row(i)...)
			}
			if _, err := pool.ExecContext(ctx, q, args...); err != nil {
				tb.Fatalf("seed %s: %v", table, err)
			}
		}
	}
	userID, users := storebench.UserID, "passreset_users"
	if db.host {
		userID, users = hostUserID, "accounts"
		insert(users, []string{"account_id", "email_address", "pw_digest"}, spec.Users, func(i int) []any {
			return []any{int64(i + 1), storebench.Email(i), storebench.PasswordHash}
		})
	} else {
		insert(users, []string{"id", "email", "email_key", "first_name", "last_name", "profile_picture_url",
			"external_id", "locale", "metadata", "password_hash", "created_at", "updated_at"},
			spec.Users, func(i int) []any {
				e := storebench.Email(i)
				return []any{storebench.UserID(i), e, e, storebench.FirstName, storebench.LastName, "", "", "", "{}",
					storebench.PasswordHash, created, created}
			})
	}
	insert("passreset_resets", []string{"id", "user_id", "email", "token_hash", "created_at", "expires_at", "ended_at"},
		spec.Resets, func(i int) []any {
			var ended sql.NullInt64
			if spec.Ended(i) {
				ended = sql.NullInt64{Int64: ms(now.Add(-time.Second)), Valid: true}
			}
			u := spec.ResetUser(i)
			return []any{storebench.ResetID(i), userID(u), storebench.Email(u),
				storebench.TokenHash(storebench.Token(storebench.ResetToken, i)), ms(now.Add(-time.Minute)), ms(now.Add(time.Hour)), ended}
		})
	insert("passreset_sessions", []string{"id", "user_id", "token_hash", "created_at", "last_seen_at", "expires_at", "user_agent", "ip_address", "stamp"},
		spec.Sessions, func(i int) []any {
			return []any{storebench.SessionID(i), userID(spec.SessionUser(i)), storebench.TokenHash(storebench.Token(storebench.SessionToken, i)),
				ms(now.Add(-time.Minute)), ms(now), ms(now.Add(30 * 24 * time.Hour)), storebench.UserAgent, storebench.IP, ""}
		})
	if _, err := pool.ExecContext(ctx, "ANALYZE TABLE "+users+", passreset_resets, passreset_sessions"); err != nil {
		tb.Fatal(err)
	}
}
