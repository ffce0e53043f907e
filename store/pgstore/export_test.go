package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// HostEmailSQL returns the two statements UserByEmail runs over the host's
// table of a Store made with WithUsers: the equality, then the fallback.
func HostEmailSQL(ctx context.Context, st *Store) (equality, fallback string, err error) {
	hs, err := st.hostSQL(ctx)
	if err != nil {
		return "", "", err
	}
	return hs.byEmail, hs.byEmailLike, nil
}

// Pool returns the pool the Store uses, for the tests to look at the
// database beside it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
