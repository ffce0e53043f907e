// Package testfix holds the fixtures that the module's tests share, so
// that each is written once: a log buffer safe for concurrent writes, a
// clock a test moves, goroutines released at once, a column of strings
// read from a database. It needs nothing but
// the standard library, so that store/storetest may use it; the fixtures
// that need a server are in testpg (a Postgres schema of a test's own),
// testmysql (a MySQL or MariaDB database of a test's own) and testsmtp (a
// real SMTP server on loopback). Only tests import them.
package testfix

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent use: a logger's
// destination that a test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Clock is a clock that a test sets and moves, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Concurrently runs fn(i) for i in [0, n) in n goroutines released at
// once, and returns when all are done.
func Concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// Server returns the value of the environment variable env, which points
// tests at a database server, or skips tb, saying how to set it: to what
// (a server of which kind), such as example.
func Server(tb testing.TB, env, what, example string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		tb.Skip(env + " is not set: set it to " + what + ", such as " + example + ", to run this test")
	}
	return v
}

// Strings returns the one column of strings that query selects from db,
// row by row, failing tb on any error.
func Strings(tb testing.TB, db *sql.DB, query string, args ...any) []string {
	tb.Helper()
	rows, err := db.QueryContext(tb.Context(), query, args...)
	if err != nil {
		tb.Fatalf("query: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatalf("scan: %v", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("rows: %v", err)
	}
	return out
}

// Name returns a new random name that starts with prefix: a database or a
// schema of a test's own.
func Name(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:16])
}

// DropOnCleanup runs drop when tb ends, with a context still live
// (tb.Context is already cancelled when cleanups run), and reports its
// error as a failure to drop what: a database or a schema of a test's
// own. Register it before the pools that use what, so that they are
// closed first.
func DropOnCleanup(tb testing.TB, what string, drop func(ctx context.Context) error) {
	tb.Helper()
	tb.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			tb.Errorf("drop %s: %v", what, err)
		}
	})
}
