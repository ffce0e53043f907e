// Package store is what a storage adapter implements for passreset, as
// database/sql/driver is for database/sql: the [Store] port a reset.Service
// runs on, every type that crosses it, and the sentinel errors an adapter
// returns. Callers of the reset flow never need it; authors of an adapter
// find everything here.
//
// The bundled adapters live below it: store/memstore (tests, prototypes),
// store/sqlitestore (the embedded default) and store/pgstore (several
// machines on one database). The SQL adapters keep passreset's own tables
// beside a host's users table, which they are given a description of, so a
// host with its users in SQL writes no adapter at all.
//
// A host whose users are in SQLite but spread over tables, so that no
// description reaches them, implements sqlitestore.HostUsers (four
// methods) instead. A host whose users are not in SQL implements Store in
// full; each method's
// doc comment is its contract, and store/storetest.Run checks an adapter
// against every clause. The part of Store that reads the host's users is
// small ([Users]: three lookups); the rest is passreset's own state:
// resets, rate-limit records, the outbox of emails and revocations, and the
// sealed answers kept for idempotent retries ([Replays]).
//
// One transaction is the unit of atomicity, and the adapter owns it: the
// methods that must be atomic say so, and never hand a transaction across
// the interface.
package store
