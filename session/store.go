package session

import (
	"context"
	"errors"
	"time"

	"github.com/passreset/passreset/token"
)

// ErrNotFound: no session matches (unknown id or token, or a token that was
// rotated away).
var ErrNotFound = errors.New("session: not found")

// Store keeps sessions. Implementations are in store/memstore,
// store/sqlitestore and store/pgstore; store/storetest checks them.
//
// All methods are safe for concurrent use. Times come from the caller's
// clock and are kept to at least millisecond precision. A missing session is
// ErrNotFound; other failures are the backend's errors wrapped with %w.
type Store interface {
	// CreateSession inserts s, findable by h.
	CreateSession(ctx context.Context, s Session, h token.Hash) error

	// SessionByTokenHash returns the session whose current token hashes to
	// h, revoked or expired alike (the Manager judges), or ErrNotFound. It
	// is the hot path of every signed-in request: one indexed lookup.
	SessionByTokenHash(ctx context.Context, h token.Hash) (Session, error)

	// SessionByID returns the session with this id, or ErrNotFound.
	SessionByID(ctx context.Context, id string) (Session, error)

	// TouchSession sets the session's LastSeenAt to at, or returns
	// ErrNotFound.
	TouchSession(ctx context.Context, id string, at time.Time) error

	// RotateSessionToken replaces the session's token hash oldHash with newHash and
	// sets LastSeenAt to at, only if oldHash is still its current hash and it is
	// not revoked: of concurrent rotations of one token exactly one wins,
	// the others get ErrNotFound. In the same atomic step it keeps oldHash
	// as a retired hash of the session, for RevokeRetiredToken (the hash,
	// never the token).
	RotateSessionToken(ctx context.Context, id string, oldHash, newHash token.Hash, at time.Time) error

	// RevokeRetiredToken is what a Manager does when a token that no
	// session holds any more is presented: when h is a retired hash of a
	// session (one RotateSessionToken replaced), it revokes that session
	// at at, unless it is already revoked (the first time is kept), and
	// returns it as it now is. Revoking the session ends every token it
	// ever had: the current one and the retired ones. It returns
	// ErrNotFound when h is no retired hash of a session the Store keeps.
	// Retired hashes are deleted with their session (PurgeSessions), and
	// never before: the rows a session keeps are bounded by how often it
	// is refreshed within its absolute timeout.
	RevokeRetiredToken(ctx context.Context, h token.Hash, at time.Time) (Session, error)

	// ListSessions returns a page of the user's sessions, revoked and
	// expired ones included, ordered by id (ids sort by creation time).
	ListSessions(ctx context.Context, userID string, p ListParams) ([]Session, error)

	// RevokeSession sets RevokedAt to at for one session unless it is
	// already revoked (revoking twice is not an error), or returns
	// ErrNotFound.
	RevokeSession(ctx context.Context, id string, at time.Time) error

	// RevokeUserSessions revokes every active session of the user at at
	// (active as Session.Active(at) says) and returns how many it revoked.
	RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error)

	// PurgeSessions deletes sessions that expired or were revoked before
	// before, with their retired hashes, and returns how many sessions.
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)
}

// ListParams selects a page of sessions, as WorkOS's list endpoints do.
type ListParams struct {
	Limit  int    // at most this many; the Store treats <= 0 as 10 (PageSize)
	Before string // when set, only ids that sort before this one (id < Before)
	After  string // when set, only ids that sort after this one (id > After)
	Desc   bool   // newest first; the page is then the highest matching ids
	// Before and After bound ids whatever Desc says: ascending with Before
	// returns the lowest ids below it, so "the page before X, oldest first"
	// is Desc with Before, reversed.
}

// PageSize is how many sessions the page holds at most: Limit, or 10 when
// Limit is not positive.
func (p ListParams) PageSize() int {
	if p.Limit <= 0 {
		return 10
	}
	return p.Limit
}

// Session is one signed-in device.
type Session struct {
	ID         string // "session_" + ULID
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time // for the idle timeout
	ExpiresAt  time.Time // the absolute timeout
	RevokedAt  time.Time // zero while not revoked
	UserAgent  string
	IPAddress  string
	Stamp      string // the credential stamp the session was created with; "" for none
}

// Active reports whether s is neither revoked nor expired at now. The idle
// timeout is the Manager's to judge.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}
