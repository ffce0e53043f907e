package testfix_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passreset/passreset/internal/testfix"
)

// TestBuffer: writes from many goroutines all land (run with -race).
func TestBuffer(t *testing.T) {
	var b testfix.Buffer
	testfix.Concurrently(50, func(i int) { fmt.Fprintf(&b, "%02d\n", i) })
	if got := len(b.String()); got != 50*3 {
		t.Fatalf("%d bytes written, want %d", got, 50*3)
	}
}

// TestClock: the clock stands still until moved or set.
func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	c := testfix.NewClock(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", c.Now(), t0)
	}
	c.Add(time.Hour)
	if !c.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("after Add: %v", c.Now())
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("after Set: %v", c.Now())
	}
}

// TestConcurrently: every goroutine runs, and none before all exist: the
// n functions are all waiting at once.
func TestConcurrently(t *testing.T) {
	const n = 8
	var (
		waiting atomic.Int32
		all     = make(chan struct{})
		once    sync.Once
	)
	testfix.Concurrently(n, func(int) {
		if waiting.Add(1) == n {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Error("the goroutines did not all run at once")
		}
	})
}

// TestServer: the variable's value when it is set; a skip, before the
// test goes on, when it is not.
func TestServer(t *testing.T) {
	const env = "PASSRESET_TESTFIX_SERVER"
	t.Setenv(env, "db://here")
	if got := testfix.Server(t, env, "a server", "db://example"); got != "db://here" {
		t.Fatalf("Server = %q, want the variable's value", got)
	}
	t.Setenv(env, "")
	var sub *testing.T
	reached := false
	t.Run("unset", func(t *testing.T) {
		sub = t
		testfix.Server(t, env, "a server", "db://example")
		reached = true
	})
	if !sub.Skipped() || reached {
		t.Fatalf("without the variable: skipped %v, went on %v; want skipped, not gone on", sub.Skipped(), reached)
	}
}

// TestName: the prefix, then a random lower-case suffix.
func TestName(t *testing.T) {
	a, b := testfix.Name("p_"), testfix.Name("p_")
	if a == b || len(a) != len("p_")+16 || a[:2] != "p_" || strings.ToLower(a) != a {
		t.Fatalf("Name gave %q and %q", a, b)
	}
}
