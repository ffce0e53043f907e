package memstore_test

import (
	"testing"

	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return memstore.New() })
}
