// Package fleet tests the examples as a fleet: three instances of
// examples/apiserver, and three of examples/webapp, each a process of its
// own built from the command's source, on one Postgres database with one
// secret key, behind a round-robin proxy (examples/internal/roundrobin), so
// that every request lands on another instance than the one before.
//
// It holds tests and benchmarks only. They need a Postgres server: set
// PASSRESET_POSTGRES_URL (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable); without it they
// skip. Each test works in a schema of its own, dropped when it ends. CI
// (.ci/run) runs them with Postgres required.
//
//	PASSRESET_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./examples/fleet/
//
// BenchmarkFleet measures how creating a reset, confirming one and
// validating a session scale from one instance to three, against pgbench's
// figure for a one-row insert on the same server; see its doc.
package fleet
