// Package hosttest holds the checks that every SQL store's tests run over a
// host's users table (store.UsersTable) beyond storetest's clauses, written
// once: a store's test makes the host's table in its own dialect, opens its
// Store over it, and hands both to these checks, which see the Store only
// through its interfaces. Only tests import it.
package hosttest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"

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

// OwnTables are the tables that Migrate makes beside a host's users table:
// passreset's own, and never a users table.
var OwnTables = []string{"passreset_jobs", "passreset_migrations", "passreset_rate_limits", "passreset_replays",
	"passreset_resets", "passreset_retired_session_tokens", "passreset_sessions"}

// NewReset is an unused reset of u made at Base, for the token tok.
func NewReset(u store.User, tok string) store.Reset {
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

	r := NewReset(u, "token of "+t.Name())
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
