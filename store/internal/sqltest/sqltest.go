// Package sqltest holds the checks that every SQL store's tests run beyond
// storetest's clauses, written once: over a host's users table
// (store.UsersTable), and of the migration that keys passreset's own users
// by emailaddr.Fold. A store's test makes the tables in its own dialect,
// opens its Store over them, and hands both to these checks, which see the
// Store only through its interfaces and the few functions the test passes.
// Only tests import it.
package sqltest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// Base is the time the checks' resets are made at.
var Base = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// Store is a SQL store: a store.Store that migrates its schema.
type Store interface {
	store.Store
	Migrate(ctx context.Context) error
}

// Accounts describes the host's accounts table that every SQL store's host
// tests create in their dialect (their accountsDDL), and that storebench
// seeds over a host's users: integer keys, the host's own column names.
func Accounts() store.UsersTable {
	return store.UsersTable{
		Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest",
		Verified: "is_verified", UpdatedAt: "modified_at",
	}
}

// OwnTables are the tables that Migrate makes beside a host's users table:
// passreset's own, and never a users table.
var OwnTables = []string{"passreset_jobs", "passreset_migrations", "passreset_rate_limits", "passreset_replays",
	"passreset_resets", "passreset_retired_session_tokens", "passreset_sessions"}

// MigrateAtOnce runs Migrate on each of stores, instances of an app over
// one database, in goroutines released together, as instances started at
// once run it, and fails t unless each succeeds.
func MigrateAtOnce[S interface{ Migrate(context.Context) error }](t *testing.T, stores ...S) {
	t.Helper()
	errs := make([]error, len(stores))
	testfix.Concurrently(len(stores), func(i int) { errs[i] = stores[i].Migrate(t.Context()) })
	for i, err := range errs {
		require.NoError(t, err, "instance %d", i)
	}
}

// newReset is an unused reset of u made at Base, for the token tok.
func newReset(u store.User, tok string) store.Reset {
	return store.Reset{ID: "password_reset_" + ulid.Make().String(), UserID: u.ID, Email: u.Email, TokenHash: token.Sum(tok),
		CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)}
}

// ReadsAndRedeems checks a Store over a host's table of one row, whose
// address is ana@example.com, whose verified flag is NULL and whose id is
// id: it migrates, reads the row by address and by id, finds nothing by
// any of notIDs, and redeems a reset of the row at the time at, which
// marks it verified. The caller then reads the row back in its own SQL,
// to check that it was written as the column types want.
func ReadsAndRedeems(t *testing.T, st Store, id string, notIDs []string, at time.Time) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, st.Migrate(ctx))
	u, err := st.UserByEmail(ctx, "ana@example.com")
	require.NoError(t, err)
	require.Equal(t, id, u.ID)
	require.False(t, u.EmailVerified, "a NULL flag reads as unverified")
	u, err = st.UserByID(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "ana@example.com", u.Email)
	for _, bad := range notIDs {
		_, err = st.UserByID(ctx, bad)
		require.ErrorIs(t, err, store.ErrUserNotFound, bad)
	}

	r := newReset(u, "token of "+t.Name())
	require.NoError(t, st.CreateReset(ctx, r, nil))
	got, err := st.RedeemReset(ctx, store.Redemption{ResetID: r.ID, UserID: id, PasswordHash: "$2a$04$new", Now: at})
	require.NoError(t, err)
	require.Equal(t, id, got.User.ID)
	require.True(t, got.User.EmailVerified)
}

// Mismatch is a description that does not fit the host's table: the
// table's own description, changed by Change, and what the error says.
// (An alias of a struct, so that a table of cases may leave the field
// names out.)
type Mismatch = struct {
	Change func(*store.UsersTable)
	Want   string
}

// RefusesMismatches checks, for each case, a Store that open makes over
// desc changed as the case says: any use before Migrate fails with the
// case's Want in the error (and not as a user not found), and so does
// Migrate, whose error starts with the store's prefix ("pgstore: WithUsers:
// ", ...).
func RefusesMismatches(t *testing.T, desc store.UsersTable, prefix string, open func(store.UsersTable) (Store, error), cases map[string]Mismatch) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := desc
			c.Change(&d)
			st, err := open(d)
			require.NoError(t, err)
			_, err = st.UserByID(t.Context(), "user_1")
			require.ErrorContains(t, err, c.Want, "a use before Migrate")
			require.NotErrorIs(t, err, store.ErrUserNotFound)
			err = st.Migrate(t.Context())
			require.ErrorContains(t, err, prefix)
			require.ErrorContains(t, err, c.Want)
		})
	}
}

// RefusesBadDescriptions checks that open refuses, with an error that
// starts with the store's prefix, a description without a key column and
// a table named with more than one qualifier or an empty one (a
// "<qualifier>.table", qualifier being "schema" or "database").
func RefusesBadDescriptions(t *testing.T, prefix, qualifier string, open func(store.UsersTable) (Store, error)) {
	t.Helper()
	for desc, want := range map[*store.UsersTable]string{
		{Table: "accounts"}: "UsersTable.ID is required",
		{Table: "a.b.c", ID: "id", Email: "e", PasswordHash: "h"}:     `UsersTable.Table "a.b.c" is not a table or ` + qualifier + `.table`,
		{Table: ".accounts", ID: "id", Email: "e", PasswordHash: "h"}: `UsersTable.Table ".accounts" is not a table or ` + qualifier + `.table`,
	} {
		_, err := open(*desc)
		require.ErrorContains(t, err, prefix+want)
	}
}

// NoUserCreator checks that a Store over a host's table creates no user:
// the users are the host's.
func NoUserCreator(t *testing.T, st store.UserCreator) {
	t.Helper()
	err := st.CreateUser(t.Context(), store.User{ID: "user_9", Email: "x@example.com", CreatedAt: Base, UpdatedAt: Base}, "")
	require.ErrorIs(t, err, store.ErrNoUserCreator)
}

// FindsAddresses checks that a Store over a host's table finds addresses
// without regard to case in full Unicode, Unicode form or the domain's
// spelling, and only those, whatever the email column's collation (which
// may fold nothing, or fold more: "ö" as "o", "ß" as "ss", a Kelvin sign
// as "k"). add adds a row with this address and returns its id.
func FindsAddresses(t *testing.T, st store.Store, add func(email string) (id string)) {
	t.Helper()
	ctx := t.Context()
	ids := map[string]string{}
	for _, e := range []string{"Ünal.ÇELIK@Bücher.Example", "JOSE\u0301@BU\u0308CHER.example", "őrs@example.com", "ors@example.com",
		"ANA@EXAMPLE.COM", "Kelvin@Example.com", "a_b%c@example.com", "strasse@example.com"} {
		ids[e] = add(e)
	}
	for email, want := range map[string]string{
		strings.ToLower("Ünal.ÇELIK@Bücher.Example"): "Ünal.ÇELIK@Bücher.Example",
		"ÜNAL.ÇELIK@BÜCHER.EXAMPLE":                  "Ünal.ÇELIK@Bücher.Example",
		"ünal.çelik@xn--bcher-kva.example":           "Ünal.ÇELIK@Bücher.Example",
		"jos\u00e9@xn--bcher-kva.example":            "JOSE\u0301@BU\u0308CHER.example", // NFC and punycode find NFD and Unicode
		"őrs@example.com":                            "őrs@example.com",
		"ŐRS@example.com":                            "őrs@example.com",
		"ors@example.com":                            "ors@example.com",
		"ana@example.com":                            "ANA@EXAMPLE.COM",
		"A_B%C@example.com":                          "a_b%c@example.com",
		"kelvin@example.com":                         "Kelvin@Example.com",
	} {
		u, err := st.UserByEmail(ctx, email)
		require.NoError(t, err, email)
		require.Equal(t, ids[want], u.ID, email)
	}
	for _, email := range []string{"örs@example.com", "axb%c@example.com", "a_bxc@example.com", "ünal@bücher.example", "%@example.com",
		"\u212Aelvin@example.com", // a Kelvin sign is not k
		"straße@example.com", "ors@éxample.com"} {
		_, err := st.UserByEmail(ctx, email)
		require.ErrorIs(t, err, store.ErrUserNotFound, email)
	}
}

// RekeysEmails checks the email-fold migration (migrations/users/
// 0002_email_fold.sql) of a Store that keeps its own users. Users written
// before addresses were normalised carry email_key =
// strings.ToLower(email); the migration computes each key again with
// emailaddr.Fold, so that an address stored with a Unicode domain or in
// NFD is found by its normal form, and a Kelvin sign no longer holds the
// key of "k"; where two accounts name one mailbox, the older keeps the key
// and the other its old key. The caller has removed the migration's record,
// so that st.Migrate applies it again; insert writes user row i (created
// i+1 units after the epoch, oldest first) as an older passreset did, and
// emailKey reads a user's email_key back.
func RekeysEmails(t *testing.T, st interface {
	Store
	store.UserCreator
}, insert func(i int, id, email, key string), emailKey func(id string) string) {
	t.Helper()
	ctx := t.Context()
	for i, r := range []struct{ id, email string }{
		{"user_ada", "Ada@B\u00fccher.Example"},
		{"user_jose_nfd", "Jose\u0301@example.com"},
		{"user_jose_nfc", "JOS\u00c9@example.com"},
		{"user_kelvin", "\u212aate@example.com"},
	} {
		insert(i, r.id, r.email, strings.ToLower(r.email))
	}

	require.NoError(t, st.Migrate(ctx))

	for email, want := range map[string]string{
		"ada@xn--bcher-kva.example": "user_ada",
		"jos\u00e9@example.com":     "user_jose_nfc",
	} {
		u, err := st.UserByEmail(ctx, emailaddr.Fold(email))
		require.NoError(t, err, email)
		require.Equal(t, want, u.ID, email)
	}
	_, err := st.UserByEmail(ctx, emailaddr.Fold("kate@example.com"))
	require.ErrorIs(t, err, store.ErrUserNotFound, "the Kelvin sign's row still holds k")
	require.Equal(t, "jose\u0301@example.com", emailKey("user_jose_nfd"), "the second account of one mailbox keeps its old key")
	// "kate@example.com" is free now.
	require.NoError(t, st.CreateUser(ctx, store.User{ID: "user_kate", Email: "kate@example.com", CreatedAt: Base, UpdatedAt: Base}, ""))
}

// Instances returns a storetest.Harness's NewStore and Another for a
// store whose instances share a database, as an app's processes do: fresh
// makes a database of a subtest's own (a file, a schema, a database on a
// server) and open opens an instance of the store on one. Another opens a
// second instance on the database of the first.
func Instances[DB any](fresh func(t *testing.T) DB, open func(t *testing.T, db DB) store.Store) (
	newStore func(t *testing.T) store.Store, another func(t *testing.T, st store.Store) store.Store) {
	var mu sync.Mutex
	dbs := map[store.Store]DB{}
	newStore = func(t *testing.T) store.Store {
		db := fresh(t)
		st := open(t, db)
		mu.Lock()
		defer mu.Unlock()
		dbs[st] = db
		return st
	}
	another = func(t *testing.T, st store.Store) store.Store {
		mu.Lock()
		db, ok := dbs[st]
		mu.Unlock()
		require.True(t, ok, "a store NewStore did not make")
		return open(t, db)
	}
	return newStore, another
}
