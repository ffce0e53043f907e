package pgstore

// BenchSQL is the text of every statement a hot path of the Store issues,
// by name, with its tables left to the search_path (no WithSchema). The
// paired benchmarks write the same statements by hand for their raw side;
// TestBenchRawSQLIsTheStores checks that they are these.
var BenchSQL = func() map[string]string {
	q := resolveQueries("")
	return map[string]string{
		"RateLimitLock":      q[qRateLimitLock],
		"RateLimitCount":     q[qRateLimitCount],
		"CommitUnsynced":     q[qCommitUnsynced],
		"UserByEmail":        q[qUserByEmail],
		"CreateReset":        q[qCreateReset],
		"FinishJob":          q[qFinishJob],
		"ResetByID":          q[qResetByID],
		"ResetByTokenHash":   q[qResetByTokenHash],
		"RedeemReset":        q[qRedeemReset],
		"SessionByTokenHash": q[qSessionByTokenHash],
		"TouchSession":       q[qTouchSession],
	}
}()
