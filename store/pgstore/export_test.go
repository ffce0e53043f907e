package pgstore

import "context"

// HostEmailSQL returns the two statements UserByEmail runs over the host's
// table of a Store made with WithUsers: the equality, then the fallback.
func HostEmailSQL(ctx context.Context, st *Store) (equality, fallback string, err error) {
	hs, err := st.hostSQL(ctx)
	if err != nil {
		return "", "", err
	}
	return hs.byEmail, hs.byEmailLike, nil
}
