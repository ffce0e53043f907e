package mysqlstore_test

import (
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/mysqlstore"
	"github.com/passreset/passreset/store/storetest"
)

// TestConformance runs the suite every adapter runs, over a fresh database
// per subtest.
func TestConformance(t *testing.T) {
	testURL(t)
	dbs := map[store.Store]*mysql.Config{} // the database of each store, for a second instance
	storetest.Run(t, storetest.Harness{
		NewStore: func(t *testing.T) store.Store {
			cfg := freshDB(t)
			st := newStoreIn(t, cfg)
			dbs[st] = cfg
			return st
		},
		// A second instance: a Store with a pool of its own.
		Another: func(t *testing.T, st store.Store) store.Store { return newStoreIn(t, dbs[st]) },
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			_, err := st.(*mysqlstore.Store).DB().ExecContext(t.Context(),
				`UPDATE passreset_users SET email = ?, email_key = ? WHERE id = ?`, email, hostusers.Fold(email), userID)
			require.NoError(t, err)
		},
	})
}
