package storebench

import (
	"database/sql"
	"time"
)

// The rows that the raw sides on database/sql (MySQL, SQLite) read alike:
// every column the Store reads, in its order, times in unix milliseconds.

// sqlUser is a users row: passreset's, or the host's (id, email,
// verified).
type sqlUser struct {
	id, email, first, last, picture, external, locale string
	key                                               int64 // the host's
	verified                                          bool
	metadata                                          sql.NullString
	signIn                                            sql.NullInt64
	created, updated                                  int64
}

// ScanSQLUser reads a user's row: every column of passreset's own, or the
// id, email and verified of the host's account (host).
func ScanSQLUser(row *sql.Row, host bool) (RawUser, error) {
	var u sqlUser
	if host {
		if err := row.Scan(&u.key, &u.email, &u.verified); err != nil {
			return RawUser{}, err
		}
		return RawUser{ID: HostID(u.key), Email: u.email}, nil
	}
	err := row.Scan(&u.id, &u.email, &u.verified, &u.first, &u.last, &u.picture,
		&u.external, &u.locale, &u.metadata, &u.signIn, &u.created, &u.updated)
	return RawUser{ID: u.id, Email: u.email}, err
}

// sqlSession is a passreset_sessions row.
type sqlSession struct {
	id, userID, userAgent, ip, stamp string
	created, seen, expires           int64
	revoked                          sql.NullInt64
}

// ScanSQLSession reads a session's row.
func ScanSQLSession(row *sql.Row) (RawSession, error) {
	var s sqlSession
	err := row.Scan(&s.id, &s.userID, &s.created, &s.seen, &s.expires, &s.revoked, &s.userAgent, &s.ip, &s.stamp)
	return RawSession{ID: s.id, Revoked: s.revoked.Valid, Seen: time.UnixMilli(s.seen), Expires: time.UnixMilli(s.expires)}, err
}
