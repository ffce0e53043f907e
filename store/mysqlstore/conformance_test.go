package mysqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/hostusers"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/mysqlstore"
	"github.com/passreset/passreset/store/storetest"
)

// TestConformance runs the suite every adapter runs, over a fresh database
// per subtest.
func TestConformance(t *testing.T) {
	testURL(t)
	// A second instance: a Store with a pool of its own.
	newStore, another := sqltest.Instances(func(t *testing.T) *mysql.Config { return freshDB(t) },
		func(t *testing.T, cfg *mysql.Config) store.Store { return newStoreIn(t, cfg) })
	storetest.Run(t, storetest.Harness{
		NewStore: newStore,
		Another:  another,
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			exec(t, st, `UPDATE passreset_users SET email = ?, email_key = ? WHERE id = ?`, email, hostusers.Fold(email), userID)
		},
	})
}

// TestConformanceOverPlainPool runs the suite over pools the app opened
// with the driver alone: REPEATABLE READ by default and placeholders
// prepared on the server, so that the Store sets READ COMMITTED on each of
// its transactions.
func TestConformanceOverPlainPool(t *testing.T) {
	testURL(t)
	open := func(t *testing.T, cfg *mysql.Config) store.Store {
		plain := cfg.Clone()
		plain.InterpolateParams = false
		db, err := sql.Open("mysql", plain.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(16)
		t.Cleanup(func() { db.Close() })
		st, err := mysqlstore.New(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		if !mysqlstore.SetsLevelPerTx(st) {
			t.Fatal("a plain pool's transactions would run at the server's level")
		}
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return st
	}
	newStore, another := sqltest.Instances(func(t *testing.T) *mysql.Config { return freshDB(t) }, open)
	storetest.Run(t, storetest.Harness{NewStore: newStore, Another: another})
}
