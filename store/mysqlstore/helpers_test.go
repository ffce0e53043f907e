package mysqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/passreset/passreset/store/mysqlstore"
)

// envURL names the variable that points the tests at a MySQL or MariaDB
// server.
const envURL = "PASSRESET_MYSQL_URL"

// testURL returns the server's DSN, or skips the test when there is none.
// The user it names must be able to create and drop databases: each test
// runs in a fresh one.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		t.Skip("the mysqlstore tests need a MySQL or MariaDB server and a user that may create databases; run them with " +
			envURL + "='root@tcp(127.0.0.1:3306)/test' go test ./store/mysqlstore")
	}
	return url
}

// dbName returns a new random database name, unique to the caller.
func dbName() string {
	return "passreset_test_" + strings.ToLower(rand.Text()[:16])
}

// freshDB creates an empty database of its own for the test, dropped when
// the test ends, and returns the configuration of a connection to it.
// Register it before the pools that use it, so that they are closed first.
func freshDB(t testing.TB) *mysql.Config {
	t.Helper()
	cfg, err := mysqlstore.ParseDSN(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	name := dbName()
	admin, err := mysqlstore.OpenDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// t.Context is already cancelled when cleanups run.
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.Clone()
	cfg.DBName = name
	return cfg
}

// newDB returns a pool of its own over cfg, closed when the test ends.
func newDB(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	db, err := mysqlstore.OpenDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(16)
	t.Cleanup(func() { db.Close() })
	return db
}

// newStore returns a migrated, empty Store over a fresh database of its
// own.
func newStore(t testing.TB) *mysqlstore.Store {
	t.Helper()
	return newStoreIn(t, freshDB(t))
}

// newStoreIn returns a migrated Store with its own pool over the database
// of cfg: a second instance of an app.
func newStoreIn(t testing.TB, cfg *mysql.Config, opts ...mysqlstore.Option) *mysqlstore.Store {
	t.Helper()
	st, err := mysqlstore.New(t.Context(), newDB(t, cfg), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}
