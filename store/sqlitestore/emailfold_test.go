package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/sqlitestore"
)

// TestMigrateRekeysEmails: the email-fold migration keys the users an
// older passreset wrote by emailaddr.Fold (sqltest.RekeysEmails).
func TestMigrateRekeysEmails(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, filepath.Join(t.TempDir(), "passreset.db"))
	w, _ := sqlitestore.Pools(st)
	_, err := w.ExecContext(ctx, `DELETE FROM passreset_migrations WHERE name = 'migrations/users/0002_email_fold.sql'`)
	require.NoError(t, err)
	sqltest.RekeysEmails(t, st, func(i int, id, email, key string) {
		_, err := w.ExecContext(ctx, `INSERT INTO passreset_users (id, email, email_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			id, email, key, i+1, i+1)
		require.NoError(t, err)
	}, func(id string) (key string) {
		require.NoError(t, w.QueryRowContext(ctx, `SELECT email_key FROM passreset_users WHERE id = ?`, id).Scan(&key))
		return key
	})
}
