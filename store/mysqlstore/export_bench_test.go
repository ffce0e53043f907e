package mysqlstore

import "context"

// BenchSQL is the text of every statement a hot path of the Store issues
// over passreset_users, by name: what the raw side of the paired
// benchmarks issues, by hand.
var BenchSQL = map[string]string{
	"RateLock":           qRateLock,
	"RateCount":          qRateCount,
	"RateRecord":         qRateRecord,
	"RateUnlock":         qRateUnlock,
	"UserByEmail":        ownUsers.byEmail,
	"UserByID":           ownUsers.byID,
	"LockUser":           ownUsers.lock,
	"EndResets":          qEndResets,
	"InsertReset":        qInsertReset,
	"InsertJob":          qInsertJobs + placeholders(1, 9),
	"FinishJob":          qFinishJob,
	"ResetByID":          qResetByID,
	"ResetByTokenHash":   qResetByTokenHash,
	"SpendReset":         qSpendReset,
	"ResetEmail":         qResetEmail,
	"SetPassword":        ownUsers.setPassword,
	"RevokeUserSessions": qRevokeUserSessions,
	"SessionByTokenHash": qSessionByTokenHash,
	"TouchSession":       qTouchSession,
	"PasswordHash":       ownUsers.hash,
}

// HostBenchSQL is BenchSQL's statements over the users that st, a Store
// made WithUsers, writes for the host's table.
func HostBenchSQL(ctx context.Context, st *Store) (map[string]string, error) {
	us, err := st.hostSQL(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"UserByEmail":  us.byEmail,
		"UserByID":     us.byID,
		"LockUser":     us.lock,
		"SetPassword":  us.setPassword,
		"PasswordHash": us.hash,
	}, nil
}
