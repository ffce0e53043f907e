package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/token"
)

// CreateSession implements session.Store.
func (st *Store) CreateSession(ctx context.Context, s session.Session, h token.Hash) error {
	if err := st.lock(ctx, "create session"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	if _, ok := st.sessions[s.ID]; ok || s.ID == "" {
		return fmt.Errorf("memstore: create session: id %q empty or taken", s.ID)
	}
	if _, ok := st.sessionHashes[h]; ok {
		return errors.New("memstore: create session: token hash taken")
	}
	st.sessions[s.ID] = &sessionRow{s: s, h: h}
	st.sessionHashes[h] = s.ID
	ids := st.userSessions[s.UserID]
	if ids == nil {
		ids = make(map[string]struct{})
		st.userSessions[s.UserID] = ids
	}
	ids[s.ID] = struct{}{}
	return nil
}

// SessionByTokenHash implements session.Store.
func (st *Store) SessionByTokenHash(ctx context.Context, h token.Hash) (session.Session, error) {
	if err := st.lock(ctx, "session by token hash"); err != nil {
		return session.Session{}, err
	}
	defer st.mu.Unlock()
	id, ok := st.sessionHashes[h]
	if !ok {
		return session.Session{}, session.ErrNotFound
	}
	return st.sessions[id].s, nil
}

// SessionByID implements session.Store.
func (st *Store) SessionByID(ctx context.Context, id string) (session.Session, error) {
	if err := st.lock(ctx, "session by id"); err != nil {
		return session.Session{}, err
	}
	defer st.mu.Unlock()
	row, err := st.session(id)
	if err != nil {
		return session.Session{}, err
	}
	return row.s, nil
}

// TouchSession implements session.Store.
func (st *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	if err := st.lock(ctx, "touch session"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	row, err := st.session(id)
	if err != nil {
		return err
	}
	row.s.LastSeenAt = at
	return nil
}

// RotateSessionToken implements session.Store.
func (st *Store) RotateSessionToken(ctx context.Context, id string, old, new token.Hash, at time.Time) error {
	if err := st.lock(ctx, "rotate session token"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	row, ok := st.sessions[id]
	if !ok || row.h != old || !row.s.RevokedAt.IsZero() {
		return session.ErrNotFound
	}
	if _, taken := st.sessionHashes[new]; taken {
		return errors.New("memstore: rotate session token: token hash taken")
	}
	delete(st.sessionHashes, old)
	st.sessionHashes[new] = id
	st.retiredHashes[old] = id
	row.retired = append(row.retired, old)
	row.h = new
	row.s.LastSeenAt = at
	return nil
}

// RevokeRetiredToken implements session.Store.
func (st *Store) RevokeRetiredToken(ctx context.Context, h token.Hash, at time.Time) (session.Session, error) {
	if err := st.lock(ctx, "revoke retired token"); err != nil {
		return session.Session{}, err
	}
	defer st.mu.Unlock()
	id, ok := st.retiredHashes[h]
	if !ok {
		return session.Session{}, session.ErrNotFound
	}
	row := st.sessions[id]
	if row.s.RevokedAt.IsZero() {
		row.s.RevokedAt = at
	}
	return row.s, nil
}

// ListSessions implements session.Store.
func (st *Store) ListSessions(ctx context.Context, userID string, p session.ListParams) ([]session.Session, error) {
	if err := st.lock(ctx, "list sessions"); err != nil {
		return nil, err
	}
	defer st.mu.Unlock()
	var page []session.Session
	for id := range st.userSessions[userID] {
		if (p.Before == "" || id < p.Before) && (p.After == "" || id > p.After) {
			page = append(page, st.sessions[id].s)
		}
	}
	slices.SortFunc(page, func(a, b session.Session) int { return strings.Compare(a.ID, b.ID) })
	if p.Desc {
		slices.Reverse(page)
	}
	return page[:min(len(page), p.PageSize())], nil
}

// RevokeSession implements session.Store.
func (st *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	if err := st.lock(ctx, "revoke session"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	row, err := st.session(id)
	if err != nil {
		return err
	}
	if row.s.RevokedAt.IsZero() {
		row.s.RevokedAt = at
	}
	return nil
}

// session returns the row of the session with this id, or
// session.ErrNotFound. The caller holds st.mu.
func (st *Store) session(id string) (*sessionRow, error) {
	row, ok := st.sessions[id]
	if !ok {
		return nil, session.ErrNotFound
	}
	return row, nil
}

// RevokeUserSessions implements session.Store. A session is active as
// session.Session.Active says: neither revoked nor expired at at.
func (st *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	if err := st.lock(ctx, "revoke user sessions"); err != nil {
		return 0, err
	}
	defer st.mu.Unlock()
	return st.revokeUserSessions(userID, at), nil
}

// revokeUserSessions revokes the user's active sessions at at and returns
// how many. The caller holds st.mu.
func (st *Store) revokeUserSessions(userID string, at time.Time) int {
	var n int
	for id := range st.userSessions[userID] {
		if row := st.sessions[id]; row.s.Active(at) {
			row.s.RevokedAt = at
			n++
		}
	}
	return n
}

// PurgeSessions implements session.Store.
func (st *Store) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	if err := st.lock(ctx, "purge sessions"); err != nil {
		return 0, err
	}
	defer st.mu.Unlock()
	var n int64
	for id, row := range st.sessions {
		if row.s.ExpiresAt.Before(before) || beforeNonZero(row.s.RevokedAt, before) {
			delete(st.sessions, id)
			delete(st.sessionHashes, row.h)
			for _, h := range row.retired {
				delete(st.retiredHashes, h)
			}
			ids := st.userSessions[row.s.UserID]
			delete(ids, id)
			if len(ids) == 0 {
				delete(st.userSessions, row.s.UserID)
			}
			n++
		}
	}
	return n, nil
}
