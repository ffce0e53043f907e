package testfix_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// TestFreshSchema: the schema exists and the URL's connections work in
// it, and it is gone after the test.
func TestFreshSchema(t *testing.T) {
	var schema string
	t.Run("fresh", func(t *testing.T) {
		var u string
		schema, u = testfix.FreshSchema(t, "testfix_")
		conn, err := pgx.Connect(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var current string
		if err := conn.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&current); err != nil {
			t.Fatal(err)
		}
		if current != schema {
			t.Fatalf("current_schema() = %q, want %q", current, schema)
		}
	})
	if schema == "" {
		return // skipped: no server
	}
	conn, err := pgx.Connect(t.Context(), testfix.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("schema %s left behind", schema)
	}
}
