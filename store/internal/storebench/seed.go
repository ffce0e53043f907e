package storebench

import (
	"time"
)

// HostUserID is the id a Store shows for seeded user i over the host's
// accounts table of the stores' host tests, whose account_id is i+1
// (Dialect.Host).
func HostUserID(i int) string { return HostID(int64(i + 1)) }

// Table is what a store's seed writes into one table, with its own bulk
// insert: Rows rows, row i being the values of Cols that Row(i) returns.
type Table struct {
	Name string
	Cols []string
	Rows int
	Row  func(i int) []any
}

// Tables returns the tables of a database seeded as Spec says, in the
// order they are filled: the users (passreset's own, or, with host, the
// host's accounts), the resets and the sessions. at is how the store
// writes a time (a time.Time, or unix milliseconds), nil standing for
// NULL; noMetadata is what it writes for a user without metadata.
func Tables(spec Spec, host bool, at func(time.Time) any, noMetadata any) []Table {
	now := spec.Now.Truncate(time.Millisecond)
	created := at(now.Add(-48 * time.Hour))
	users := Table{Name: "passreset_users", Cols: []string{"id", "email", "email_key", "first_name", "last_name",
		"profile_picture_url", "external_id", "locale", "metadata", "password_hash", "created_at", "updated_at"},
		Rows: spec.Users, Row: func(i int) []any {
			e := Email(i)
			return []any{UserID(i), e, e, FirstName, LastName, "", "", "", noMetadata, PasswordHash, created, created}
		}}
	userID := UserID
	if host {
		userID = HostUserID
		users = Table{Name: "accounts", Cols: []string{"account_id", "email_address", "pw_digest"},
			Rows: spec.Users, Row: func(i int) []any { return []any{int64(i + 1), Email(i), PasswordHash} }}
	}
	resets := Table{Name: "passreset_resets", Cols: []string{"id", "user_id", "email", "token_hash", "created_at", "expires_at", "ended_at"},
		Rows: spec.Resets, Row: func(i int) []any {
			var ended any
			if spec.Ended(i) {
				ended = at(now.Add(-time.Second))
			}
			u := spec.ResetUser(i)
			return []any{ResetID(i), userID(u), Email(u), TokenHash(Token(ResetToken, i)),
				at(now.Add(-time.Minute)), at(now.Add(time.Hour)), ended}
		}}
	sessions := Table{Name: "passreset_sessions", Cols: []string{"id", "user_id", "token_hash", "created_at", "last_seen_at", "expires_at",
		"user_agent", "ip_address", "stamp"},
		Rows: spec.Sessions, Row: func(i int) []any {
			return []any{SessionID(i), userID(spec.SessionUser(i)), TokenHash(Token(SessionToken, i)),
				at(now.Add(-time.Minute)), at(now), at(now.Add(30 * 24 * time.Hour)), UserAgent, IP, ""}
		}}
	return []Table{users, resets, sessions}
}
