package memstore_test

import (
	"testing"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) store.Store { return memstore.New() }})
}

// resetOnly hides memstore's sessions, as an adapter over a host's tables
// whose sessions live elsewhere would: the suite skips the session clauses
// and checks the rest.
type resetOnly struct {
	store.Store
	store.UserCreator
}

func TestConformanceWithoutSessions(t *testing.T) {
	storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) store.Store {
		st := memstore.New()
		return resetOnly{Store: st, UserCreator: st}
	}})
}
