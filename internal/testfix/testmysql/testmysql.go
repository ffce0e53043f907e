// Package testmysql gives a test a MySQL or MariaDB database of its own on
// the server that MySQLEnv names, and skips the test without one.
package testmysql

import (
	"context"
	"net/url"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/store/mysqlstore"
)

// MySQLEnv names the variable that points tests at a MySQL or MariaDB
// server: the driver's DSN or a mysql:// URL, whose user may create and
// drop databases.
const MySQLEnv = "PASSRESET_MYSQL_URL"

// DSN returns the server's DSN, or skips tb, saying how to run it, when
// MySQLEnv is not set.
func DSN(tb testing.TB) string {
	tb.Helper()
	return testfix.Server(tb, MySQLEnv, "a MySQL or MariaDB server whose user may create databases", "root@tcp(127.0.0.1:3306)/test")
}

// Name returns a new random database name that starts with prefix.
func Name(prefix string) string { return testfix.Name(prefix) }

// FreshDB creates an empty database of the test's own, named with prefix,
// dropped when tb ends, and returns the configuration of a connection to
// it (as mysqlstore.ParseDSN makes one). Register it before the pools that
// use the database, so that they are closed first. It skips tb without a
// server (DSN).
func FreshDB(tb testing.TB, prefix string) *mysql.Config {
	tb.Helper()
	cfg, err := mysqlstore.ParseDSN(DSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := mysqlstore.OpenDB(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	name := Name(prefix)
	testfix.DropOnCleanup(tb, "database "+name, func(ctx context.Context) error {
		defer admin.Close()
		_, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name)
		return err
	})
	if _, err := admin.ExecContext(tb.Context(), "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		tb.Fatal(err)
	}
	cfg = cfg.Clone()
	cfg.DBName = name
	return cfg
}

// URL returns the mysql:// URL of cfg's database, the form the examples'
// -db flag takes.
func URL(cfg *mysql.Config) string {
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String()
}
