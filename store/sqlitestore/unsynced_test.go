package sqlitestore_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/internal/storebench"
	"github.com/passreset/passreset/store/sqlitestore"
)

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
			seed(t, path, false, storebench.Spec{Users: 1, Resets: 1, Sessions: 1, Now: base})
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
			svc := storebench.NewService(t, st, storebench.NoWorkHasher{}, nil)
			pr, err := svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: storebench.Email(0)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.ResetPassword(t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: storebench.Password}); err != nil {
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
