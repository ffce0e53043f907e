package pgstore_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/pgstore"
)

// TestMigrateRekeysEmails: users written before addresses were normalised
// carry email_key = strings.ToLower(email). The email-fold migration
// computes each key again with emailaddr.Fold, so that an address stored
// with a Unicode domain or in NFD is found by its normal form, and a
// Kelvin sign no longer holds the key of "k"; where two accounts name one
// mailbox, the one holding the key keeps it and the other its old key.
func TestMigrateRekeysEmails(t *testing.T) {
	ctx := t.Context()
	schema := freshSchema(t)
	pool := newPool(t, schema)
	st, err := pgstore.New(ctx, pool)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	_, err = pool.Exec(ctx, `DELETE FROM passreset_migrations WHERE name = 'migrations/users/0002_email_fold.sql'`)
	require.NoError(t, err)
	rows := []struct{ id, email string }{
		{"user_ada", "Ada@B\u00fccher.Example"},
		{"user_jose_nfd", "Jose\u0301@example.com"},
		{"user_jose_nfc", "JOS\u00c9@example.com"},
		{"user_kelvin", "\u212aate@example.com"},
	}
	for i, r := range rows {
		_, err := pool.Exec(ctx, `INSERT INTO passreset_users (id, email, email_key, created_at, updated_at)
			VALUES ($1, $2, $3, to_timestamp($4), to_timestamp($4))`, r.id, r.email, strings.ToLower(r.email), i+1)
		require.NoError(t, err)
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
	_, err = st.UserByEmail(ctx, emailaddr.Fold("kate@example.com"))
	require.ErrorIs(t, err, store.ErrUserNotFound, "the Kelvin sign's row still holds k")
	var key string
	require.NoError(t, pool.QueryRow(ctx, `SELECT email_key FROM passreset_users WHERE id = 'user_jose_nfd'`).Scan(&key))
	require.Equal(t, "jose\u0301@example.com", key, "the second account of one mailbox keeps its old key")
	require.NoError(t, st.CreateUser(ctx, store.User{ID: "user_kate", Email: "kate@example.com", CreatedAt: base, UpdatedAt: base}, ""))
}
