package sqlitestore

import "database/sql"

// Pools returns the Store's write and read pools, for tests that inspect
// connection settings.
func Pools(s *Store) (w, r *sql.DB) { return s.w, s.r }

// HotQueries are the statements whose query plans must use an index, with
// arguments of the right types.
var HotQueries = map[string]struct {
	Query string
	Args  []any
}{
	"UserByID":               {qUserByID, []any{"user_x"}},
	"UserByEmail":            {qUserByEmail, []any{"a@example.com"}},
	"PasswordHash":           {qPasswordHash, []any{"user_x"}},
	"ResetByID":              {qResetByID, []any{"password_reset_x"}},
	"ResetByTokenHash":       {qResetByTokenHash, []any{make([]byte, 32)}},
	"SpendReset":             {qSpendReset, []any{int64(1), "password_reset_x"}},
	"EndResets":              {qEndResets, []any{int64(1), "user_x"}},
	"SetPassword":            {qSetPassword, []any{"h", int64(1), "user_x"}},
	"RevokeUserSessions":     {qRevokeUserSessions, []any{int64(1), "user_x"}},
	"SessionByID":            {qSessionByID, []any{"session_x"}},
	"SessionByTokenHash":     {qSessionByTokenHash, []any{make([]byte, 32)}},
	"TouchSession":           {qTouchSession, []any{int64(1), "session_x"}},
	"RotateSession":          {qRotateSession, []any{make([]byte, 32), int64(1), "session_x", make([]byte, 32)}},
	"ListSessionsDescBefore": {qListSessions[listDesc|listBefore], []any{"user_x", "session_x", 10}},
	"AllowRequest":           {qAllowRequest, []any{"k", int64(2), int64(1), 5, int64(3)}},
	"ClaimJobs":              {qClaimJobs, []any{int64(1), int64(2), 10}},
	"FindResetCode":          {qFindResetCode, []any{"k", int64(1)}},
	"TakeTry":                {qTakeTry, []any{"password_reset_x", int64(1), 5}},
	"RevokeOtherSessions":    {qRevokeOtherSessions, []any{int64(1), "user_x", "session_x"}},
	"ChangePassword":         {qChangePassword, []any{"h", int64(1), "user_x", "old"}},
}
