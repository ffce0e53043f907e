package session_test

import (
	"testing"

	"github.com/passreset/passreset/session"
)

// TestPageSize: the limit asked for, or 10 when none is.
func TestPageSize(t *testing.T) {
	for limit, want := range map[int]int{0: 10, -3: 10, 1: 1, 25: 25} {
		if got := (session.ListParams{Limit: limit}).PageSize(); got != want {
			t.Errorf("PageSize with Limit %d = %d, want %d", limit, got, want)
		}
	}
}
