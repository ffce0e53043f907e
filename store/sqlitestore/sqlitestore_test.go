package sqlitestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/sqlitestore"
	"github.com/passreset/passreset/store/storetest"
	"github.com/passreset/passreset/token"
)

var base = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// openStore opens and migrates the file at path, closing it at cleanup.
func openStore(t testing.TB, path string, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.Migrate(context.Background()))
	return st
}

// newStore opens a fresh file in a temporary directory.
func newStore(t testing.TB, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "passreset.db"), opts...)
}

func TestConformance(t *testing.T) {
	// A second instance: the same file opened again.
	newStore, another := sqltest.Instances(func(t *testing.T) string { return filepath.Join(t.TempDir(), "passreset.db") },
		func(t *testing.T, path string) store.Store { return openStore(t, path) })
	storetest.Run(t, storetest.Harness{
		NewStore: newStore,
		Another:  another,
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `UPDATE passreset_users SET email = ?, email_key = ? WHERE id = ?`,
				email, strings.ToLower(email), userID)
			require.NoError(t, err)
		},
	})
}

// TestConformanceNew runs the suite on a Store made by New over a handle
// the test opened with DSN: one pool for reads and writes.
func TestConformanceNew(t *testing.T) {
	storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) store.Store {
		db, err := sql.Open("sqlite3", sqlitestore.DSN(filepath.Join(t.TempDir(), "passreset.db")))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		st, err := sqlitestore.New(db)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		require.NoError(t, st.Migrate(t.Context()))
		return st
	}})
}

func newID(prefix string) string { return prefix + ulid.Make().String() }

func seedUser(t testing.TB, st *sqlitestore.Store) reset.User {
	t.Helper()
	u := reset.User{
		ID:        newID("user_"),
		Email:     "marcelina." + strings.ToLower(ulid.Make().String()) + "@example.com",
		FirstName: "Marcelina",
		LastName:  "Davis",
		CreatedAt: base.Add(-48 * time.Hour),
		UpdatedAt: base.Add(-48 * time.Hour),
	}
	require.NoError(t, st.CreateUser(context.Background(), u, "$2a$10$old"))
	return u
}

func seedReset(t testing.TB, st *sqlitestore.Store, u reset.User, tok string) store.Reset {
	t.Helper()
	r := store.Reset{
		ID:        newID("password_reset_"),
		UserID:    u.ID,
		Email:     u.Email,
		TokenHash: token.Sum(tok),
		CreatedAt: base,
		ExpiresAt: base.Add(time.Hour),
	}
	require.NoError(t, st.CreateReset(context.Background(), r, nil))
	return r
}

func seedSession(t testing.TB, st *sqlitestore.Store, userID, tok string) session.Session {
	t.Helper()
	s := session.Session{
		ID: newID("session_"), UserID: userID,
		CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(24 * time.Hour),
		UserAgent: "Mozilla/5.0", IPAddress: "203.0.113.7",
	}
	require.NoError(t, st.CreateSession(context.Background(), s, sha256.Sum256([]byte(tok))))
	return s
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "passreset.db")
	st := openStore(t, path)
	u := seedUser(t, st)

	type applied struct {
		Name      string
		AppliedAt int64
	}
	list := func() []applied {
		w, _ := sqlitestore.Pools(st)
		rows, err := w.QueryContext(ctx, `SELECT name, applied_at FROM passreset_migrations ORDER BY name`)
		require.NoError(t, err)
		defer rows.Close()
		var out []applied
		for rows.Next() {
			var a applied
			require.NoError(t, rows.Scan(&a.Name, &a.AppliedAt))
			out = append(out, a)
		}
		require.NoError(t, rows.Err())
		return out
	}
	first := list()
	require.Len(t, first, 6)
	require.Equal(t, "migrations/0001_state.sql", first[0].Name)
	require.Equal(t, "migrations/0002_codes.sql", first[1].Name)
	require.Equal(t, "migrations/0003_replays.sql", first[2].Name)
	require.Equal(t, "migrations/0004_retired_session_tokens.sql", first[3].Name)
	require.Equal(t, "migrations/users/0001_users.sql", first[4].Name)
	require.Equal(t, "migrations/users/0002_email_fold.sql", first[5].Name)
	require.Positive(t, first[0].AppliedAt)

	require.NoError(t, st.Migrate(ctx))
	require.NoError(t, openStore(t, path).Migrate(ctx)) // another handle, later
	require.Equal(t, first, list(), "a second Migrate applied something")

	got, err := st.UserByID(ctx, u.ID)
	require.NoError(t, err, "a second Migrate lost data")
	require.Equal(t, u.Email, got.Email)

	w, _ := sqlitestore.Pools(st)
	var tables []string
	rows, err := w.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"passreset_jobs", "passreset_migrations", "passreset_rate_limits", "passreset_replays", "passreset_resets", "passreset_retired_session_tokens", "passreset_sessions", "passreset_users"}, tables)
}

// TestMigrateConcurrently: two processes starting at once on a new file
// both succeed and apply each file once.
func TestMigrateConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passreset.db")
	stores := make([]*sqlitestore.Store, 4)
	for i := range stores {
		st, err := sqlitestore.Open(t.Context(), path)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		stores[i] = st
	}
	sqltest.MigrateAtOnce(t, stores...)
	w, _ := sqlitestore.Pools(stores[0])
	var n int
	require.NoError(t, w.QueryRowContext(t.Context(), `SELECT count(*) FROM passreset_migrations`).Scan(&n))
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	users, err := filepath.Glob("migrations/users/*.sql")
	require.NoError(t, err)
	require.Equal(t, len(files)+len(users), n, "each migration recorded once")
}

func TestUseBeforeMigrate(t *testing.T) {
	ctx := t.Context()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "passreset.db"))
	require.NoError(t, err)
	defer st.Close()

	_, err = st.UserByID(ctx, "user_x")
	require.Error(t, err)
	require.NotErrorIs(t, err, reset.ErrUserNotFound)
	require.Contains(t, err.Error(), "Migrate")

	require.NoError(t, st.Migrate(ctx))
	_, err = st.UserByID(ctx, "user_x")
	require.ErrorIs(t, err, reset.ErrUserNotFound)
}

// pragmas reads the settings of one connection.
type pragmas struct {
	JournalMode string
	Synchronous int
	ForeignKeys int
	BusyTimeout int
}

func readPragmas(t *testing.T, c *sql.Conn) pragmas {
	t.Helper()
	ctx := t.Context()
	var p pragmas
	require.NoError(t, c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&p.JournalMode))
	require.NoError(t, c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&p.Synchronous))
	require.NoError(t, c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&p.ForeignKeys))
	require.NoError(t, c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&p.BusyTimeout))
	return p
}

// TestPragmas checks the settings on the write connection and on several
// read connections held at once (so that they are distinct connections).
func TestPragmas(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []sqlitestore.Option
		want pragmas
	}{
		{"Default", nil, pragmas{"wal", 2, 1, 5000}},
		{"SynchronousNormal", []sqlitestore.Option{sqlitestore.WithSynchronousNormal()}, pragmas{"wal", 1, 1, 5000}},
		{"BusyTimeout", []sqlitestore.Option{sqlitestore.WithBusyTimeout(1500 * time.Millisecond)}, pragmas{"wal", 2, 1, 1500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t, tc.opts...)
			w, r := sqlitestore.Pools(st)
			var conns []*sql.Conn
			for _, db := range []*sql.DB{w, r, r, r} {
				c, err := db.Conn(t.Context())
				require.NoError(t, err)
				defer c.Close()
				conns = append(conns, c)
			}
			for i, c := range conns {
				require.Equal(t, tc.want, readPragmas(t, c), "connection %d", i)
			}
		})
	}
}

// TestTransactionsBeginImmediate: a transaction holds the write lock from
// BEGIN, before it writes anything, so another handle cannot begin one.
func TestTransactionsBeginImmediate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passreset.db")
	a := openStore(t, path)
	b := openStore(t, path, sqlitestore.WithBusyTimeout(50*time.Millisecond))
	wa, _ := sqlitestore.Pools(a)
	wb, _ := sqlitestore.Pools(b)

	tx, err := wa.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = wb.BeginTx(t.Context(), nil)
	var se sqlite3.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, sqlite3.ErrBusy, se.Code)
}

// TestConcurrentRedemptionsTwoHandles redeems 100 resets at once through
// two Stores on one file, as two processes would: every one succeeds, none
// sees SQLITE_BUSY, and each revokes its user's session.
func TestConcurrentRedemptionsTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passreset.db")
	a, b := openStore(t, path), openStore(t, path)
	const n = 100
	resets := make([]store.Reset, n)
	for i := range resets {
		u := seedUser(t, a)
		resets[i] = seedReset(t, a, u, rand.Text())
		seedSession(t, b, u.ID, rand.Text())
	}

	errs := make([]error, n)
	revoked := make([]int, n)
	testfix.Concurrently(n, func(i int) {
		st := a
		if i%2 == 1 {
			st = b
		}
		r := resets[i]
		out, err := st.RedeemReset(context.Background(), store.Redemption{
			ResetID: r.ID, UserID: r.UserID, PasswordHash: "$2a$10$new", Now: base.Add(time.Minute),
			Jobs: []store.Job{{ID: newID("job_"), Kind: store.JobEmail, UserID: r.UserID, Payload: []byte("sealed"), RunAt: base, CreatedAt: base}},
		})
		errs[i], revoked[i] = err, out.SessionsRevoked
	})
	for i, err := range errs {
		require.NoError(t, err, "redemption %d", i)
		require.Equal(t, 1, revoked[i], "redemption %d", i)
	}
}

func TestConcurrentMixedWorkload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passreset.db")
	a, b := openStore(t, path), openStore(t, path)
	users := make([]reset.User, 8)
	for i := range users {
		users[i] = seedUser(t, a)
	}
	var mu sync.Mutex
	var errs []error
	record := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	const workers = 16
	testfix.Concurrently(workers, func(w int) {
		ctx := context.Background()
		st := a
		if w%2 == 1 {
			st = b
		}
		u := users[w%len(users)]
		for i := range 25 {
			now := base.Add(time.Duration(i) * time.Second)
			tok := rand.Text()
			r := store.Reset{ID: newID("password_reset_"), UserID: u.ID, Email: u.Email, TokenHash: token.Sum(tok), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			record(st.CreateReset(ctx, r, []store.Job{{ID: newID("job_"), Kind: store.JobEmail, UserID: u.ID, RunAt: now, CreatedAt: now}}))
			_, err := st.ResetByTokenHash(ctx, r.TokenHash)
			record(err)
			_, _, err = st.AllowRequest(ctx, "key", now, time.Minute, 1000)
			record(err)
			s := session.Session{ID: newID("session_"), UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
			record(st.CreateSession(ctx, s, sha256.Sum256([]byte(rand.Text()))))
			record(st.TouchSession(ctx, s.ID, now))
			_, err = st.SessionByID(ctx, s.ID)
			record(err)
			jobs, err := st.ClaimJobs(ctx, now, time.Minute, 2)
			record(err)
			for _, j := range jobs {
				record(st.FinishJob(ctx, j.ID, now))
			}
			_, err = st.Purge(ctx, base.Add(-time.Hour))
			record(err)
		}
	})
	require.Empty(t, errs)
}

// TestNoPlaintextInFile: the database and its WAL hold a token's hash,
// never the token.
func TestNoPlaintextInFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "passreset.db")
	st := openStore(t, path)

	resetToken, sessionToken := "reset-token-"+rand.Text(), "session-token-"+rand.Text()
	u := seedUser(t, st)
	r := seedReset(t, st, u, resetToken)
	seedSession(t, st, u.ID, sessionToken)
	_, err := st.ResetByTokenHash(ctx, token.Sum(resetToken))
	require.NoError(t, err)
	sessionHash := sha256.Sum256([]byte(sessionToken))

	check := func(when string) {
		all := readFiles(t, path)
		for _, tok := range []string{resetToken, sessionToken} {
			require.False(t, bytes.Contains(all, []byte(tok)), "%s: a token is in the files", when)
			require.False(t, bytes.Contains(all, []byte(hex.EncodeToString([]byte(tok)))), "%s: a token's hex is in the files", when)
		}
		// The bytes read are the right ones: the hashes are there.
		require.True(t, bytes.Contains(all, r.TokenHash[:]), "%s: reset hash not found: wrong files?", when)
		require.True(t, bytes.Contains(all, sessionHash[:]), "%s: session hash not found: wrong files?", when)
	}
	check("open")
	require.NoError(t, st.Close()) // checkpoints the WAL into the file
	check("closed")
}

// TestErrorsHoldNoSecrets: a unique-constraint failure on a token hash
// names the column, never the value.
func TestErrorsHoldNoSecrets(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := seedUser(t, st)
	tok := rand.Text()
	r := seedReset(t, st, u, tok)
	dup := r
	dup.ID = newID("password_reset_")
	err := st.CreateReset(ctx, dup, nil)
	require.Error(t, err)
	h := r.TokenHash
	for _, secret := range []string{tok, hex.EncodeToString(h[:]), strings.ToUpper(hex.EncodeToString(h[:])), string(h[:])} {
		require.NotContains(t, err.Error(), secret)
	}
	require.Contains(t, err.Error(), "sqlitestore: create reset")
}

// TestEmailIgnoresUnicodeCase: SQLite's NOCASE folds ASCII only; the store
// folds the whole address.
func TestEmailIgnoresUnicodeCase(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := reset.User{ID: newID("user_"), Email: "Élodie.Ünal@Example.com", CreatedAt: base, UpdatedAt: base}
	require.NoError(t, st.CreateUser(ctx, u, ""))

	got, err := st.UserByEmail(ctx, "élodie.ünal@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	require.Equal(t, "Élodie.Ünal@Example.com", got.Email, "the email's case is kept")

	err = st.CreateUser(ctx, reset.User{ID: newID("user_"), Email: "ÉLODIE.ÜNAL@EXAMPLE.COM", CreatedAt: base, UpdatedAt: base}, "")
	require.ErrorIs(t, err, store.ErrEmailTaken)
}

// TestNew: a Store over the caller's handle leaves it open on Close, and New
// refuses what it cannot work with.
func TestNew(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite3", sqlitestore.DSN(filepath.Join(t.TempDir(), "passreset.db")))
	require.NoError(t, err)
	defer db.Close()
	st, err := sqlitestore.New(db)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	u := seedUser(t, st)
	require.NoError(t, st.Close())

	require.NoError(t, db.PingContext(ctx), "Close closed the caller's handle")
	var email string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT email FROM passreset_users WHERE id = ?`, u.ID).Scan(&email))
	require.Equal(t, u.Email, email)

	_, err = sqlitestore.New(nil)
	require.Error(t, err)
	other := sql.OpenDB(otherDriver{})
	defer other.Close()
	_, err = sqlitestore.New(other)
	require.Error(t, err)
}

// otherDriver is a driver that is not go-sqlite3 (and a connector for it,
// so that no test registers a driver globally).
type otherDriver struct{}

func (otherDriver) Open(string) (driver.Conn, error) { return nil, errors.New("not a database") }
func (otherDriver) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("not a database")
}
func (d otherDriver) Driver() driver.Driver { return d }

// TestPathNeedsEscaping: characters that mean something in a URI stay part
// of the file name.
func TestPathNeedsEscaping(t *testing.T) {
	dir := t.TempDir()
	name := "pass reset?mode=memory#x%41.db"
	st := openStore(t, filepath.Join(dir, name))
	seedUser(t, st)
	_, err := os.Stat(filepath.Join(dir, name))
	require.NoError(t, err)
}

func TestOpenNeedsAFile(t *testing.T) {
	for _, path := range []string{"", ":memory:"} {
		_, err := sqlitestore.Open(t.Context(), path)
		require.Error(t, err, "path %q", path)
	}
}

func TestClosedStore(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	_, err := st.UserByID(ctx, "user_x") // prepares the statements
	require.ErrorIs(t, err, reset.ErrUserNotFound)
	require.NoError(t, st.Close())

	_, err = st.UserByID(ctx, "user_x")
	require.Error(t, err)
	require.NotErrorIs(t, err, reset.ErrUserNotFound)
	_, err = st.RedeemReset(ctx, store.Redemption{ResetID: "password_reset_x", Now: base})
	require.Error(t, err)
	require.NoError(t, st.Close(), "closing twice")
}

// TestHotPathsUseIndexes: no hot statement scans a table.
func TestHotPathsUseIndexes(t *testing.T) {
	st := newStore(t)
	w, _ := sqlitestore.Pools(st)
	for name, q := range sqlitestore.HotQueries {
		t.Run(name, func(t *testing.T) {
			rows, err := w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q.Query, q.Args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notUsed int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &notUsed, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			require.NotEmpty(t, plan)
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") && step != "SCAN CONSTANT ROW" {
					t.Errorf("plan scans a table: %q (whole plan %q)", step, plan)
				}
			}
		})
	}
}

// TestDocShowsTheSchema: the DDL in the package doc is the migrations'.
func TestDocShowsTheSchema(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	// The doc's code blocks, comment markers removed.
	var shown strings.Builder
	for line := range strings.Lines(string(doc)) {
		switch {
		case strings.HasPrefix(line, "//\t"):
			shown.WriteString(strings.TrimPrefix(line, "//\t"))
		case line == "//\n":
			shown.WriteString("\n")
		}
	}
	var names []string
	for _, pattern := range []string{"migrations/*.sql", "migrations/users/*.sql"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		require.NotEmpty(t, m, pattern)
		names = append(names, m...)
	}
	for _, name := range names {
		migration, err := os.ReadFile(name)
		require.NoError(t, err)
		// The migration without its leading comment block.
		var want []string
		started := false
		for line := range strings.Lines(string(migration)) {
			if !started && (strings.HasPrefix(line, "--") || line == "\n") {
				continue
			}
			started = true
			want = append(want, line)
		}
		require.Contains(t, shown.String(), strings.TrimSpace(strings.Join(want, "")), name)
	}
}

// TestRedeemWithoutUser: a redemption that names no user spends the
// reset's (the contract leaves it to each store; this one accepts it).
func TestRedeemWithoutUser(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := seedUser(t, st)
	r := seedReset(t, st, u, rand.Text())
	out, err := st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, PasswordHash: "$2a$10$y", Now: base.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, u.ID, out.User.ID)
	require.True(t, out.User.EmailVerified)
}

// TestClaimJobsOrder: claimed jobs come back in the order they fell due.
func TestClaimJobsOrder(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := seedUser(t, st)
	var jobs []store.Job
	for _, d := range []time.Duration{3, 1, 2, 1, 0} {
		at := base.Add(-d * time.Minute)
		jobs = append(jobs, store.Job{ID: newID("job_"), Kind: store.JobEmail, UserID: u.ID, RunAt: at, CreatedAt: at})
	}
	r := seedReset(t, st, u, rand.Text())
	r.ID, r.TokenHash = newID("password_reset_"), token.Sum(rand.Text())
	require.NoError(t, st.CreateReset(ctx, r, jobs))

	claimed, err := st.ClaimJobs(ctx, base, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, len(jobs))
	for i := 1; i < len(claimed); i++ {
		a, b := claimed[i-1], claimed[i]
		require.True(t, a.RunAt.Before(b.RunAt) || a.RunAt.Equal(b.RunAt) && a.ID < b.ID, "out of order at %d", i)
	}
}
