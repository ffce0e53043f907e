package mysqlstore

import (
	"context"
	"database/sql"
)

// SetsLevelPerTx reports whether st begins each transaction with SET
// TRANSACTION ISOLATION LEVEL READ COMMITTED (a pool not made by OpenDB).
func SetsLevelPerTx(st *Store) bool { return st.txOpts != nil }

// HostEmailSQL returns the equality by email of a Store made WithUsers.
func HostEmailSQL(ctx context.Context, st *Store) (string, error) {
	us, err := st.hostSQL(ctx)
	if err != nil {
		return "", err
	}
	return us.byEmail, nil
}

// DB returns the pool the Store uses, for the tests to look at the
// database beside it.
func (s *Store) DB() *sql.DB { return s.db }
