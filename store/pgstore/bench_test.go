package pgstore_test

// The benchmarks of store/internal/storebench on Postgres: each hot path
// through the module and as the Store's statements written by hand
// (raw_bench_test.go), in the same run. Each side has a fresh schema of its
// own, seeded alike with COPY and dropped when the benchmark ends (the
// growth benchmarks: one schema per size, which both sides read). They
// need a server, and skip without one:
//
//	PASSRESET_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//		go test -run '^$' -bench 'Pairs|HostPairs' -benchmem -count=6 ./store/pgstore/

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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
		d.UserID = hostUserID
	}
	return d
}

// hostUserID is the id the Store shows for seeded user i over the
// accounts table, whose account_id is i+1.
func hostUserID(i int) string { return "user_" + strconv.Itoa(i+1) }

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
	return openRaw(newPool(tb, db.schema), db.host, now)
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
	now := spec.Now.Truncate(time.Millisecond)
	created := now.Add(-48 * time.Hour)
	copyRows := func(table string, cols []string, n int, row func(i int) []any) {
		_, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			return row(i), nil
		}))
		if err != nil {
			tb.Fatalf("seed %s: %v", table, err)
		}
	}
	userID, users := storebench.UserID, "passreset_users"
	if db.host {
		userID, users = hostUserID, "accounts"
		copyRows(users, []string{"account_id", "email_address", "pw_digest"}, spec.Users, func(i int) []any {
			return []any{int64(i + 1), storebench.Email(i), storebench.PasswordHash}
		})
	} else {
		copyRows(users, []string{"id", "email", "email_key", "first_name", "last_name", "password_hash", "created_at", "updated_at"},
			spec.Users, func(i int) []any {
				e := storebench.Email(i)
				return []any{storebench.UserID(i), e, e, storebench.FirstName, storebench.LastName, storebench.PasswordHash, created, created}
			})
	}
	copyRows("passreset_resets", []string{"id", "user_id", "email", "token_hash", "created_at", "expires_at", "ended_at"},
		spec.Resets, func(i int) []any {
			var ended pgtype.Timestamptz
			if spec.Ended(i) {
				ended = pgtype.Timestamptz{Time: now.Add(-time.Second), Valid: true}
			}
			u := spec.ResetUser(i)
			return []any{storebench.ResetID(i), userID(u), storebench.Email(u),
				storebench.TokenHash(storebench.Token(storebench.ResetToken, i)), now.Add(-time.Minute), now.Add(time.Hour), ended}
		})
	copyRows("passreset_sessions", []string{"id", "user_id", "token_hash", "created_at", "last_seen_at", "expires_at", "user_agent", "ip_address"},
		spec.Sessions, func(i int) []any {
			return []any{storebench.SessionID(i), userID(spec.SessionUser(i)), storebench.TokenHash(storebench.Token(storebench.SessionToken, i)),
				now.Add(-time.Minute), now, now.Add(30 * 24 * time.Hour), storebench.UserAgent, storebench.IP}
		})
	if _, err := pool.Exec(ctx, "ANALYZE "+users+", passreset_resets, passreset_sessions"); err != nil {
		tb.Fatal(err)
	}
}
