// Package testhash holds a password.Hasher for the tests that need a
// password comparison to last as long as they say: the fault that real
// bcrypt cannot produce on demand, and that fills the reset.Service's
// hashing slots so that a test can see what a busy Service answers.
// Only tests import it.
package testhash

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passreset/passreset/password"
)

// Gate is a password.Hasher that hashes with bcrypt at its lowest cost and
// holds every Compare until Release. Make one with NewGate.
type Gate struct {
	password.Bcrypt
	held atomic.Int64
	open chan struct{}
	once sync.Once
}

var _ password.Hasher = (*Gate)(nil)

// NewGate returns a Gate that holds comparisons until Release.
func NewGate() *Gate {
	return &Gate{Bcrypt: password.Bcrypt{Cost: 4}, open: make(chan struct{})}
}

// Compare counts the comparison as held, waits for Release, then compares.
func (g *Gate) Compare(hash, pw string) error {
	g.held.Add(1)
	<-g.open
	return g.Bcrypt.Compare(hash, pw)
}

// Release lets every held comparison, and every later one, go on. It may
// be called more than once.
func (g *Gate) Release() { g.once.Do(func() { close(g.open) }) }

// WaitHeld waits until n comparisons have reached the gate, and fails t
// if that takes more than five seconds or more than n reached it. The gate
// is released when t ends, so that a failing test leaves no comparison
// held.
func (g *Gate) WaitHeld(t testing.TB, n int64) {
	t.Helper()
	t.Cleanup(g.Release)
	deadline := time.Now().Add(5 * time.Second)
	for g.held.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("testhash: %d comparisons held after 5s, want %d", g.held.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	if held := g.held.Load(); held != n {
		t.Fatalf("testhash: %d comparisons held, want %d", held, n)
	}
}
