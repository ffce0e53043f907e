package sqlitestore_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/sqlitestore"
	"github.com/passreset/passreset/store/storetest"
)

// peopleDDL is a host table that a HostUsers reads: text keys, and the
// folded address kept beside the address under a UNIQUE index.
const peopleDDL = `CREATE TABLE people (
    id        TEXT    PRIMARY KEY,
    email     TEXT    NOT NULL,
    email_key TEXT    NOT NULL UNIQUE,
    hash      TEXT    NOT NULL DEFAULT '',
    verified  INTEGER NOT NULL DEFAULT 0,
    changed   INTEGER NOT NULL DEFAULT 0
)`

// people is the smallest HostUsers: one table, read and written through
// the handle or transaction the Store gives it.
type people struct {
	// failWrite, when set, makes SetPasswordHash fail after it wrote.
	failWrite error
}

const personCols = `id, email, verified`

func scanPerson(row *sql.Row) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Email, &u.EmailVerified)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrUserNotFound
	}
	return u, err
}

func (people) UserByEmail(ctx context.Context, q sqlitestore.Querier, email string) (store.User, error) {
	return scanPerson(q.QueryRowContext(ctx, `SELECT `+personCols+` FROM people WHERE email_key = ?`, emailaddr.Fold(email)))
}

func (people) UserByID(ctx context.Context, q sqlitestore.Querier, id string) (store.User, error) {
	return scanPerson(q.QueryRowContext(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`, id))
}

func (people) PasswordHash(ctx context.Context, q sqlitestore.Querier, id string) (string, error) {
	var h string
	err := q.QueryRowContext(ctx, `SELECT hash FROM people WHERE id = ?`, id).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrUserNotFound
	}
	return h, err
}

func (p people) SetPasswordHash(ctx context.Context, tx *sql.Tx, w sqlitestore.PasswordWrite) error {
	changed := `changed`
	if !w.Rehash {
		changed = `?3`
	}
	// No row: sql.ErrNoRows, which the Store takes for store.ErrUserNotFound.
	var id string
	err := tx.QueryRowContext(ctx, `UPDATE people SET hash = ?1, changed = `+changed+`,
		verified = verified OR ?4 WHERE id = ?2 RETURNING id`, w.Hash, w.UserID, w.Now.UnixMilli(), w.Email != "").Scan(&id)
	return cmp.Or(err, p.failWrite)
}

// peopleStore opens a Store over a fresh file holding the people table.
func peopleStore(t testing.TB, h sqlitestore.HostUsers) *sqlitestore.Store {
	t.Helper()
	return openStore(t, hostDB(t, peopleDDL), sqlitestore.WithHostUsers(h))
}

func addPerson(t testing.TB, st *sqlitestore.Store, id, email, hash string) {
	t.Helper()
	w, _ := sqlitestore.Pools(st)
	_, err := w.ExecContext(context.Background(), `INSERT INTO people (id, email, email_key, hash) VALUES (?, ?, ?, ?)`,
		id, email, emailaddr.Fold(email), hash)
	require.NoError(t, err)
}

func TestConformanceOverHostUsers(t *testing.T) {
	n := 0
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store { return peopleStore(t, people{}) },
		AddUser: func(t *testing.T, st store.Store, email, hash string) string {
			n++
			id := "p" + time.Now().Format("150405.000000000") + string(rune('a'+n%26))
			addPerson(t, st.(*sqlitestore.Store), id, email, hash)
			return id
		},
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `UPDATE people SET email = ?, email_key = ? WHERE id = ?`, email, emailaddr.Fold(email), userID)
			require.NoError(t, err)
		},
		DeleteUser: func(t *testing.T, st store.Store, userID string) {
			w, _ := sqlitestore.Pools(st.(*sqlitestore.Store))
			_, err := w.ExecContext(t.Context(), `DELETE FROM people WHERE id = ?`, userID)
			require.NoError(t, err)
		},
	})
}

// TestHostUsersWriteFails: when the host's write fails, RedeemReset and
// ChangePassword keep nothing: the token stays unspent, the hash and the
// flag as they were, no job queued; and the host's error is in theirs.
func TestHostUsersWriteFails(t *testing.T) {
	ctx := t.Context()
	boom := errors.New("the host's write failed")
	st := peopleStore(t, people{failWrite: boom})
	addPerson(t, st, "ana", "Ana@Example.com", "$2a$04$old")
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	r := store.Reset{ID: "password_reset_1", UserID: "ana", Email: "Ana@Example.com", TokenHash: [32]byte{1},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, st.CreateReset(ctx, r, nil))
	job := store.Job{ID: "job_1", Kind: store.JobEmail, UserID: "ana", RunAt: now, CreatedAt: now}

	_, err := st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: "ana", PasswordHash: "$2a$04$new",
		Now: now.Add(time.Minute), Jobs: []store.Job{job}})
	require.ErrorIs(t, err, boom)
	got, err := st.ResetByID(ctx, r.ID)
	require.NoError(t, err)
	require.True(t, got.UsedAt.IsZero(), "the token was spent")
	_, err = st.ChangePassword(ctx, store.PasswordChange{UserID: "ana", OldHash: "$2a$04$old", NewHash: "$2a$04$new",
		Now: now.Add(time.Minute), Jobs: []store.Job{job}})
	require.ErrorIs(t, err, boom)

	h, err := st.PasswordHash(ctx, "ana")
	require.NoError(t, err)
	require.Equal(t, "$2a$04$old", h)
	u, err := st.UserByID(ctx, "ana")
	require.NoError(t, err)
	require.False(t, u.EmailVerified)
	jobs, err := st.ClaimJobs(ctx, now.Add(time.Hour), time.Minute, 10)
	require.NoError(t, err)
	require.Empty(t, jobs)
}

// TestHostUsersOptions: WithHostUsers takes a HostUsers, and not beside
// WithUsers; over it, Migrate creates only passreset's tables, and
// CreateUser refuses.
func TestHostUsersOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	_, err := sqlitestore.Open(t.Context(), path, sqlitestore.WithHostUsers(nil))
	require.ErrorContains(t, err, "nil HostUsers")
	_, err = sqlitestore.Open(t.Context(), path, sqlitestore.WithHostUsers(people{}), sqlitestore.WithUsers(sqltest.Accounts()))
	require.ErrorContains(t, err, "WithUsers and WithHostUsers")
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	defer db.Close()
	_, err = sqlitestore.New(db, sqlitestore.WithUsers(sqltest.Accounts()), sqlitestore.WithHostUsers(people{}))
	require.ErrorContains(t, err, "WithUsers and WithHostUsers")

	st := peopleStore(t, people{})
	w, _ := sqlitestore.Pools(st)
	var tables string
	require.NoError(t, w.QueryRowContext(t.Context(), `SELECT group_concat(name, ' ') FROM
		(SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)`).Scan(&tables))
	require.Equal(t, strings.Join(append(slices.Clone(sqltest.OwnTables), "people"), " "), tables)
	sqltest.NoUserCreator(t, st)
}

// checked is a HostUsers whose check of the host's tables fails.
type checked struct{ people }

func (checked) CheckUsers(ctx context.Context, q sqlitestore.Querier) error {
	rows, err := q.QueryContext(ctx, `SELECT no_such_column FROM people`)
	if err != nil {
		return err
	}
	return rows.Close()
}

// TestHostUsersChecked: Migrate asks a UsersChecker first, and creates
// nothing when the check fails.
func TestHostUsersChecked(t *testing.T) {
	st, err := sqlitestore.Open(t.Context(), hostDB(t, peopleDDL), sqlitestore.WithHostUsers(checked{}))
	require.NoError(t, err)
	defer st.Close()
	err = st.Migrate(t.Context())
	require.ErrorContains(t, err, "no_such_column")
	w, _ := sqlitestore.Pools(st)
	var n int
	require.NoError(t, w.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema WHERE name LIKE 'passreset%'`).Scan(&n))
	require.Zero(t, n, "a failed check created tables")
}
