package pgstore

import "context"

// BenchSQL is the text of every statement a hot path of the Store issues,
// by name, with its tables left to the search_path (no WithSchema): what
// the raw side of the paired benchmarks issues, by hand.
var BenchSQL = func() map[string]string {
	q := resolveQueries("")
	return map[string]string{
		"RateLimitLock":      q[qRateLimitLock],
		"RateLimitCount":     q[qRateLimitCount],
		"CommitUnsynced":     q[qCommitUnsynced],
		"UserByEmail":        q[qUserByEmail],
		"UserByID":           q[qUserByID],
		"PasswordHash":       q[qPasswordHash],
		"CreateResetLock":    q[qCreateResetLock],
		"CreateReset":        q[qCreateReset],
		"FinishJob":          q[qFinishJob],
		"ResetByID":          q[qResetByID],
		"ResetByTokenHash":   q[qResetByTokenHash],
		"RedeemReset":        q[qRedeemReset],
		"SessionByTokenHash": q[qSessionByTokenHash],
		"TouchSession":       q[qTouchSession],
	}
}()

// HostBenchSQL is BenchSQL's statements over the users that st, a Store
// made WithUsers, rewrites for the host's table.
func HostBenchSQL(ctx context.Context, st *Store) (map[string]string, error) {
	hs, err := st.hostSQL(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"UserByEmail":  hs.byEmail,
		"UserByID":     hs.byID,
		"PasswordHash": hs.hash,
		"CreateReset":  hs.createReset,
		"RedeemReset":  hs.redeemReset,
	}, nil
}
