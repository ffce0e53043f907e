package pgstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/pgstore"
)

// TestMigrateRekeysEmails: the email-fold migration keys the users an
// older passreset wrote by emailaddr.Fold (sqltest.RekeysEmails).
func TestMigrateRekeysEmails(t *testing.T) {
	ctx := t.Context()
	pool := newPool(t, freshSchema(t))
	st, err := pgstore.New(ctx, pool)
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	_, err = pool.Exec(ctx, `DELETE FROM passreset_migrations WHERE name = 'migrations/users/0002_email_fold.sql'`)
	require.NoError(t, err)
	sqltest.RekeysEmails(t, st, func(i int, id, email, key string) {
		_, err := pool.Exec(ctx, `INSERT INTO passreset_users (id, email, email_key, created_at, updated_at)
			VALUES ($1, $2, $3, to_timestamp($4), to_timestamp($4))`, id, email, key, i+1)
		require.NoError(t, err)
	}, func(id string) (key string) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT email_key FROM passreset_users WHERE id = $1`, id).Scan(&key))
		return key
	})
}
