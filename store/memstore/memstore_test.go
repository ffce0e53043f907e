package memstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{NewStore: func(t *testing.T) store.Store { return memstore.New() }, SetEmail: setEmail})
}

// setEmail changes a user's email as a host of memstore does.
func setEmail(t *testing.T, st store.Store, userID, email string) {
	ms, ok := st.(*memstore.Store)
	if !ok {
		ms = st.(resetOnly).UserCreator.(*memstore.Store)
	}
	require.NoError(t, ms.SetEmail(t.Context(), userID, email))
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
	}, SetEmail: setEmail})
}
