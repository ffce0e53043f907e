package sqlitestore

import (
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/internal/migrate"
)

// BenchSQL is the text of every statement a hot path of the Store issues,
// by name: what the raw side of the paired benchmarks issues, by hand.
var BenchSQL = map[string]string{
	"AllowRequest":       qAllowRequest,
	"UserByEmail":        qUserByEmail,
	"UserByID":           qUserByID,
	"UserExists":         qUserExists,
	"PasswordHash":       qPasswordHash,
	"EndResets":          qEndResets,
	"InsertReset":        qInsertReset,
	"InsertJob":          qInsertJob,
	"FinishJob":          qFinishJob,
	"ResetByID":          qResetByID,
	"ResetByTokenHash":   qResetByTokenHash,
	"SpendReset":         qSpendReset,
	"SetPassword":        qSetPassword,
	"RevokeUserSessions": qRevokeUserSessions,
	"SessionByTokenHash": qSessionByTokenHash,
	"TouchSession":       qTouchSession,
}

// HostBenchSQL is BenchSQL's statements over the users that a Store made
// WithUsers(t) rewrites.
func HostBenchSQL(t store.UsersTable) map[string]string {
	h := newHostTable(t)
	return map[string]string{
		"UserByEmail":  h.byEmail,
		"UserByID":     h.byID,
		"UserExists":   h.exists,
		"PasswordHash": h.hash,
		"SetPassword":  h.setPassword,
	}
}

// BenchSchemaVersion is the version of the newest embedded migration: it
// names the growth benchmarks' cached databases, so that a schema change
// builds new ones.
func BenchSchemaVersion() int {
	ms, err := migrate.List(migrationFiles, "migrations")
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}
