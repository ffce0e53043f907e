package pgstore_test

import (
	"strings"
	"testing"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/sqltest"
	"github.com/passreset/passreset/store/storetest"
)

// TestConformance runs the suite every adapter runs, over a fresh schema per
// subtest found through the pool's search_path.
func TestConformance(t *testing.T) {
	testURL(t)
	// A second instance: a Store with a pool of its own.
	newStore, another := sqltest.Instances(func(t *testing.T) string { return freshSchema(t) },
		func(t *testing.T, schema string) store.Store { return newStoreIn(t, schema) })
	storetest.Run(t, storetest.Harness{
		NewStore: newStore,
		Another:  another,
		SetEmail: func(t *testing.T, st store.Store, userID, email string) {
			exec(t, st, `UPDATE passreset_users SET email = $1, email_key = $2 WHERE id = $3`, email, strings.ToLower(email), userID)
		},
	})
}

// TestConformanceWithSchema runs it again with every table name qualified
// by WithSchema, over a pool that leaves the search_path alone.
func TestConformanceWithSchema(t *testing.T) {
	testURL(t)
	storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) store.Store { return newQualifiedStore(t) }})
}
