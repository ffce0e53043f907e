// Package dbtest gives the examples' tests a database server of their own
// to run on, when the environment names one.
package dbtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/passreset/passreset/store/mysqlstore"
)

// MySQLEnv names the variable that points the tests at a MySQL or MariaDB
// server: the driver's DSN or a mysql:// URL, whose user may create and
// drop databases.
const MySQLEnv = "PASSRESET_MYSQL_URL"

// MySQL creates a fresh database on the server MySQLEnv names, dropped when
// the test ends, and returns its mysql:// URL (the form the examples' -db
// flag takes). It skips the test when MySQLEnv is unset.
func MySQL(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(MySQLEnv)
	if dsn == "" {
		t.Skip(MySQLEnv + " is not set: set it to a MySQL or MariaDB server whose user may create databases, such as " +
			"root@tcp(127.0.0.1:3306)/test, to run this test on MySQL")
	}
	cfg, err := mysqlstore.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := mysqlstore.OpenDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := "passreset_example_" + strings.ToLower(rand.Text()[:16])
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
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + name}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String()
}
