package scsreset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/alexedwards/scs/v2"

	"github.com/passreset/passreset/reset"
)

// The session keys of Config left empty.
const (
	DefaultUserIDKey = "passreset.user_id" // Config.UserIDKey
	DefaultStampKey  = "passreset.stamp"   // Config.StampKey
)

// StampChecker tells whether a session's credential stamp still matches
// its user's: true when it does, false when the password changed since or
// the user is gone, and an error only when it cannot tell. *reset.Service
// satisfies it.
type StampChecker interface {
	StampMatches(ctx context.Context, userID, stamp string) (bool, error)
}

// Config configures Sessions. Manager is required; every other zero field
// means the default its comment states.
type Config struct {
	// Manager is the app's scs session manager, made by scs.New. Required.
	Manager *scs.SessionManager

	// UserIDKey is the session key under which SignIn stores the user's id
	// (a string: the id passreset shows for the user). Default
	// "passreset.user_id" (DefaultUserIDKey).
	UserIDKey string

	// StampKey is the session key under which SignIn stores the credential
	// stamp (a string). Default "passreset.stamp" (DefaultStampKey).
	StampKey string

	// Logger receives a line when the Middleware ends a session or fails,
	// and when RevokeUserSessions runs; never a session token or a stamp.
	// Default slog.Default().
	Logger *slog.Logger
}

// Sessions records users' credential stamps in scs sessions, checks them on
// every request, and deletes a user's sessions when a reset commits. Create
// one with New. It is safe for concurrent use.
type Sessions struct {
	sm       *scs.SessionManager
	userKey  string
	stampKey string
	log      *slog.Logger
}

var _ reset.SessionRevoker = (*Sessions)(nil)

// New checks cfg, fills in its defaults and returns a Sessions. A missing
// Manager, a Manager without a Store or Codec, and equal keys are errors.
// When the Manager's store cannot iterate, New logs a warning: see the
// package documentation for what RevokeUserSessions then does.
func New(cfg Config) (*Sessions, error) {
	if cfg.Manager == nil {
		return nil, errors.New("scsreset: Config.Manager is required")
	}
	if cfg.Manager.Store == nil || cfg.Manager.Codec == nil {
		return nil, errors.New("scsreset: Config.Manager has no Store or no Codec: make it with scs.New")
	}
	s := &Sessions{sm: cfg.Manager, userKey: cfg.UserIDKey, stampKey: cfg.StampKey, log: cfg.Logger}
	if s.userKey == "" {
		s.userKey = DefaultUserIDKey
	}
	if s.stampKey == "" {
		s.stampKey = DefaultStampKey
	}
	if s.userKey == s.stampKey {
		return nil, fmt.Errorf("scsreset: Config.UserIDKey and StampKey are both %q", s.userKey)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if !s.iterable() {
		s.log.Warn("scsreset: the scs store cannot list its sessions: RevokeUserSessions will delete none, and the stamp check alone will end a user's sessions, each at its next request",
			"store", fmt.Sprintf("%T", s.sm.Store))
	}
	return s, nil
}

// loaded reports whether ctx carries the session of the Manager, that is
// whether the caller runs inside its LoadAndSave. (Load returns ctx itself
// when it does; scs panics on a session read outside it.)
func (s *Sessions) loaded(ctx context.Context) bool {
	if ctx == nil || !reflect.TypeOf(ctx).Comparable() {
		return false // never the case of a context made by package context
	}
	got, err := s.sm.Load(ctx, "")
	return err == nil && got == ctx
}

// SignIn records a sign-in in the request's scs session: it renews the
// session token (deleting the old token's row from the store, against
// session fixation) and stores userID and stamp, the credential stamp of
// the password the sign-in checked (from reset.Service.CheckPassword or
// Authenticate). Call it from a handler inside LoadAndSave, before writing
// the response; scs writes the session and its cookie with the response.
// Other values of the session are kept.
//
// It returns an error, and records nothing, when userID or stamp is empty,
// when ctx is not inside the Manager's LoadAndSave, or when the store fails
// to delete the old token.
func (s *Sessions) SignIn(ctx context.Context, userID, stamp string) error {
	switch {
	case userID == "":
		return errors.New("scsreset: sign in: empty user id")
	case stamp == "":
		return errors.New("scsreset: sign in: empty credential stamp")
	case !s.loaded(ctx):
		return errors.New("scsreset: sign in: no scs session in the context: call SignIn inside the SessionManager's LoadAndSave")
	}
	if err := s.sm.RenewToken(ctx); err != nil {
		return fmt.Errorf("scsreset: sign in: renew token: %w", err)
	}
	s.sm.Put(ctx, s.userKey, userID)
	s.sm.Put(ctx, s.stampKey, stamp)
	return nil
}

// UserID returns the id of the user the request's session was signed in
// for with SignIn, or "" when it carries none, or ctx is not inside the
// Manager's LoadAndSave. Behind the Middleware, a non-empty id has passed
// the stamp check on this request.
func (s *Sessions) UserID(ctx context.Context) string {
	if !s.loaded(ctx) {
		return ""
	}
	return s.sm.GetString(ctx, s.userKey)
}

// Middleware checks the credential stamp of every request whose session
// carries a user id (under Config.UserIDKey) before next runs. Wrap it in
// the Manager's LoadAndSave:
//
//	handler := sm.LoadAndSave(sess.Middleware(svc, mux))
//
// When the stamp matches, next runs as usual. When it does not (the
// password changed since the sign-in, the user is gone, or the session has
// a user id but no stamp), the Middleware destroys the session (deleting
// it from the store; LoadAndSave then clears the cookie) and runs next
// with the session empty, so the request is served as signed out: a page
// that needs a user redirects to the login as it would for anyone.
//
// It fails closed: when stamps returns an error, or the session cannot be
// destroyed, or stamps is nil, or the Middleware is not inside
// LoadAndSave, it answers 500 Internal Server Error, logs the cause, and
// next does not run. A request whose session carries no user id costs
// nothing and is passed on.
func (s *Sessions) Middleware(stamps StampChecker, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.loaded(ctx) {
			s.log.ErrorContext(ctx, "scsreset: Middleware runs outside the SessionManager's LoadAndSave; wrap it: sm.LoadAndSave(sess.Middleware(svc, mux))")
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		if !s.sm.Exists(ctx, s.userKey) {
			next.ServeHTTP(w, r)
			return
		}
		userID := s.sm.GetString(ctx, s.userKey)
		if stamps == nil {
			s.log.ErrorContext(ctx, "scsreset: Middleware has no StampChecker; pass the reset.Service")
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		ok, err := stamps.StampMatches(ctx, userID, s.sm.GetString(ctx, s.stampKey))
		if err != nil {
			s.log.ErrorContext(ctx, "scsreset: cannot check the session's credential stamp", "user_id", userID, "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		if !ok {
			if err := s.sm.Destroy(ctx); err != nil {
				s.log.ErrorContext(ctx, "scsreset: cannot destroy a session whose credential stamp is stale", "user_id", userID, "err", err)
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				return
			}
			s.log.InfoContext(ctx, "scsreset: session ended: the password changed since it signed in", "user_id", userID)
		}
		next.ServeHTTP(w, r)
	})
}

// RevokeUserSessions deletes every scs session of userID from the store:
// each session whose value under Config.UserIDKey equals userID. It
// satisfies reset.SessionRevoker; pass the Sessions as
// reset.Config.Sessions. It is idempotent, and an empty userID deletes
// nothing.
//
// It reads every session in the store and decodes those that may be the
// user's (see the package documentation for the cost), skipping those it
// cannot decode. With a
// store that cannot iterate it deletes nothing and returns nil: the stamp
// check ends those sessions. It returns an error, wrapping the store's,
// when the store fails to list or delete, or when ctx is done.
func (s *Sessions) RevokeUserSessions(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	all, err := s.all(ctx)
	if err != nil {
		return fmt.Errorf("scsreset: revoke sessions: list: %w", err)
	}
	if all == nil {
		s.log.InfoContext(ctx, "scsreset: the scs store cannot list its sessions; the stamp check will end them", "user_id", userID)
		return nil
	}
	// scs's default codec, gob, writes a string's bytes as they are: a
	// session whose bytes do not contain the id cannot hold it, and need
	// not be decoded. Other codecs may not (JSON escapes, compression,
	// encryption): every session is decoded then.
	var needle []byte
	switch s.sm.Codec.(type) {
	case scs.GobCodec, *scs.GobCodec:
		needle = []byte(userID)
	}
	var deleted, undecodable int
	for key, b := range all {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scsreset: revoke sessions: %w", err)
		}
		if needle != nil && !bytes.Contains(b, needle) {
			continue
		}
		_, values, err := s.sm.Codec.Decode(b)
		if err != nil {
			undecodable++
			continue
		}
		if id, _ := values[s.userKey].(string); id != userID {
			continue
		}
		if err := s.delete(ctx, key); err != nil {
			return fmt.Errorf("scsreset: revoke sessions: delete: %w", err)
		}
		deleted++
	}
	attrs := []any{"user_id", userID, "deleted", deleted, "scanned", len(all)}
	if undecodable > 0 {
		attrs = append(attrs, "undecodable", undecodable)
	}
	s.log.InfoContext(ctx, "scsreset: user's sessions deleted", attrs...)
	return nil
}

// iterable reports whether the store can list its sessions.
func (s *Sessions) iterable() bool {
	switch s.sm.Store.(type) {
	case scs.IterableCtxStore, scs.IterableStore:
		return true
	}
	return false
}

// all returns every live session in the store by its key in the store
// (the token, or its hash with HashTokenInStore), or nil when the store
// cannot iterate.
func (s *Sessions) all(ctx context.Context) (map[string][]byte, error) {
	var (
		all map[string][]byte
		err error
	)
	switch st := s.sm.Store.(type) {
	case scs.IterableCtxStore:
		all, err = st.AllCtx(ctx)
	case scs.IterableStore:
		all, err = st.All()
	default:
		return nil, nil
	}
	if all == nil && err == nil {
		all = map[string][]byte{}
	}
	return all, err
}

// delete deletes the session stored under key, a key of the store as all
// returned it: not hashed again, as SessionManager would with
// HashTokenInStore.
func (s *Sessions) delete(ctx context.Context, key string) error {
	if st, ok := s.sm.Store.(scs.CtxStore); ok {
		return st.DeleteCtx(ctx, key)
	}
	return s.sm.Store.Delete(key)
}
