// Package testfix holds the fixtures that the module's tests share, so
// that each is written once: a log buffer safe for concurrent writes, a
// clock a test moves, goroutines released at once, and a Postgres schema
// of a test's own. Only tests import it.
package testfix

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// PostgresEnv names the variable that points tests at a Postgres server.
const PostgresEnv = "PASSRESET_POSTGRES_URL"

// PostgresURL returns the server's URL, or skips tb, saying how to run it,
// when PostgresEnv is not set.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(PostgresEnv)
	if u == "" {
		tb.Skip(PostgresEnv + " is not set: set it to a Postgres URL, such as " +
			"postgres://postgres@127.0.0.1:5432/test?sslmode=disable, to run this test on Postgres")
	}
	return u
}

// SchemaName returns a new random schema name that starts with prefix.
func SchemaName(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:16])
}

// DropSchemaOnCleanup drops the schema, whoever creates it, when tb ends,
// so that runs never see each other's rows. Register it before the pools
// that use the schema, so that they are closed first.
func DropSchemaOnCleanup(tb testing.TB, schema string) {
	tb.Helper()
	base := PostgresURL(tb)
	tb.Cleanup(func() {
		// tb.Context is already cancelled when cleanups run.
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
}

// FreshSchema creates an empty schema of the test's own, named with
// prefix, dropped when tb ends. It returns the schema and the server's URL
// with search_path set to it, whose connections find their tables there.
// It skips tb without a server (PostgresURL).
func FreshSchema(tb testing.TB, prefix string) (schema, schemaURL string) {
	tb.Helper()
	base := PostgresURL(tb)
	schema = SchemaName(prefix)
	DropSchemaOnCleanup(tb, schema)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return schema, u.String()
}
