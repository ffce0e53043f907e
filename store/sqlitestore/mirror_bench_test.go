package sqlitestore_test

// Checks on the paired benchmarks themselves: that the raw side writes what
// the Store writes, commit for commit, and that the Store's unsynced
// bookkeeping leaves every connection at the level it was opened with.

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/sqlitestore"
)

// hookDriver is "sqlite3" with hooks that record every row written and
// every commit, in order, into writes.
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

func openHooked(t *testing.T, path string) *sql.DB {
	t.Helper()
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
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBenchRawWritesAsTheStore runs each hot path once through the module
// and once raw, on equal databases, and compares the rows each writes and
// its commits, in order.
func TestBenchRawWritesAsTheStore(t *testing.T) {
	ctx := context.Background()
	spec := seedSpec{users: 10, resets: 10, sessions: 10, now: time.Now().UTC()}

	mod, raw := filepath.Join(t.TempDir(), "module.db"), filepath.Join(t.TempDir(), "raw.db")
	seed(t, mod, spec)
	seed(t, raw, spec)

	st, err := sqlitestore.New(openHooked(t, mod))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := newBenchService(t, st, noWorkHasher{}, nil)
	m := newBenchManager(t, st, nil)

	hooked := openHooked(t, raw)
	db := openRawOn(t, hooked, hooked)
	email, notice := benchPayloads(t)

	for _, c := range []struct {
		name      string
		passreset func() error
		raw       func() error
	}{
		{"CreatePasswordReset", func() error {
			_, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: benchEmail(3)})
			return err
		}, func() error {
			_, err := db.create(ctx, benchEmail(3), rateKey(benchEmail(3)), email)
			return err
		}},
		{"GetPasswordReset", func() error {
			_, err := svc.GetPasswordReset(ctx, benchResetID(2))
			return err
		}, func() error {
			_, err := db.get(ctx, benchResetID(2))
			return err
		}},
		{"RejectInvalidToken", func() error {
			_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: benchToken(unknownToken, 1), NewPassword: benchPassword})
			if !errors.Is(err, reset.ErrInvalidToken) {
				return errors.Join(errors.New("want ErrInvalidToken"), err)
			}
			return nil
		}, func() error {
			if _, err := db.lookup(ctx, benchToken(unknownToken, 1)); err != errRawInvalid {
				return errors.Join(errors.New("want errRawInvalid"), err)
			}
			return nil
		}},
		{"RedeemWithoutBcrypt", func() error {
			_, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: benchToken(resetToken, 7), NewPassword: benchPassword})
			return err
		}, func() error {
			_, err := db.redeem(ctx, benchToken(resetToken, 7), benchPasswordHash, notice)
			return err
		}},
		{"ValidateSession", func() error {
			_, err := m.Validate(ctx, benchToken(sessionToken, 4))
			return err
		}, func() error {
			_, err := db.validate(ctx, benchToken(sessionToken, 4))
			return err
		}},
	} {
		takeWrites()
		if err := c.passreset(); err != nil {
			t.Fatalf("%s, passreset: %v", c.name, err)
		}
		want := takeWrites()
		if err := c.raw(); err != nil {
			t.Fatalf("%s, raw: %v", c.name, err)
		}
		if got := takeWrites(); !slices.Equal(got, want) {
			t.Errorf("%s writes:\nraw       %s\npassreset %s", c.name, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
}

// TestUnsyncedWritesKeepTheLevel: after the two writes the Store commits
// without a sync (AllowRequest, FinishJob), every connection is back at
// the synchronous level it was opened with.
func TestUnsyncedWritesKeepTheLevel(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []sqlitestore.Option
		new  bool // New over a pool the test opened, rather than Open
		want int
	}{
		{"Full", nil, false, 2},
		{"Normal", []sqlitestore.Option{sqlitestore.WithSynchronousNormal()}, false, 1},
		{"NewFull", nil, true, 2},
		{"NewNormal", []sqlitestore.Option{sqlitestore.WithSynchronousNormal()}, true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bench.db")
			seed(t, path, seedSpec{users: 1, resets: 1, sessions: 1, now: time.Now().UTC()})
			var st *sqlitestore.Store
			var err error
			if c.new {
				var db *sql.DB
				if db, err = sql.Open("sqlite3", sqlitestore.DSN(path, c.opts...)); err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				st, err = sqlitestore.New(db)
			} else {
				st, err = sqlitestore.Open(t.Context(), path, c.opts...)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := newBenchService(t, st, noWorkHasher{}, nil)
			pr, err := svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: benchEmail(0)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.ResetPassword(t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: benchPassword}); err != nil {
				t.Fatal(err)
			}
			// Every connection of both pools, held at once so that they
			// are distinct.
			w, r := sqlitestore.Pools(st)
			for _, db := range []*sql.DB{w, r, r, r} {
				conn, err := db.Conn(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				var level int
				if err := conn.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&level); err != nil {
					t.Fatal(err)
				}
				if level != c.want {
					t.Errorf("synchronous = %d, want %d", level, c.want)
				}
			}
			var unfinished int
			if err := r.QueryRowContext(t.Context(), `SELECT count(*) FROM passreset_jobs WHERE finished_at IS NULL`).Scan(&unfinished); err != nil {
				t.Fatal(err)
			}
			if unfinished != 0 {
				t.Errorf("%d jobs left unfinished", unfinished)
			}
		})
	}
}
