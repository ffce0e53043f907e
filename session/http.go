package session

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/passreset/passreset/token"
)

// SetCookie sets the session cookie to token on w: HttpOnly, Secure (unless
// Config.InsecureCookies), SameSite=Lax, with the configured Path and
// Domain, expiring at s.ExpiresAt. It also marks the response as not to be
// cached with its Set-Cookie header. Call it before the response's
// WriteHeader or first Write.
func (m *Manager) SetCookie(w http.ResponseWriter, tok string, s Session) {
	c := m.cookie
	c.Value = tok
	c.Expires = s.ExpiresAt
	setCookie(w, &c)
}

// ClearCookie tells the browser to delete the session cookie.
func (m *Manager) ClearCookie(w http.ResponseWriter) {
	c := m.cookie
	c.MaxAge = -1 // "Max-Age=0"
	c.Expires = time.Unix(0, 0)
	setCookie(w, &c)
}

func setCookie(w http.ResponseWriter, c *http.Cookie) {
	h := w.Header()
	addOnce(h, "Vary", "Cookie")
	addOnce(h, "Cache-Control", `no-cache="Set-Cookie"`)
	http.SetCookie(w, c)
}

// addOnce adds the header k: v unless h already has it.
func addOnce(h http.Header, k, v string) {
	for _, x := range h.Values(k) {
		if x == v {
			return
		}
	}
	h.Add(k, v)
}

// TokenFromRequest returns the token in r's session cookie, or "" when r
// has none.
func (m *Manager) TokenFromRequest(r *http.Request) string {
	c, err := r.Cookie(m.cookie.Name)
	if err != nil {
		return ""
	}
	return c.Value
}

// SignIn starts a session for userID once the host has checked the user's
// credentials: it creates a new session (a new token at every sign-in, so
// that a token planted in the browser before sign-in never becomes a
// signed-in one), recording r's User-Agent and remote IP address, and sets
// the cookie on w. The session of the cookie r carried, if any, is revoked
// first.
//
// The IP address is the host of r.RemoteAddr. Behind a reverse proxy, have
// a trusted middleware rewrite RemoteAddr, or call Create with your own
// Metadata followed by SetCookie and Revoke.
//
// stamp is the credential stamp of the password the sign-in checked
// (account.SignIn.Stamp): with Config.Stamps, the session ends once it no
// longer matches. "" makes a session that no stamp check ends.
//
// On error no cookie is set. Call SignIn before writing the response, and
// typically answer with a redirect. Serve the login post behind
// http.CrossOriginProtection (login CSRF, see the package doc) and read
// its credentials with r.PostFormValue.
func (m *Manager) SignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, userID, stamp string) (Session, error) {
	if err := m.revokeToken(ctx, m.TokenFromRequest(r)); err != nil {
		return Session{}, err
	}
	s, tok, err := m.Create(ctx, userID, Metadata{UserAgent: r.UserAgent(), IPAddress: remoteIP(r), Stamp: stamp})
	if err != nil {
		return Session{}, err
	}
	m.SetCookie(w, tok, s)
	return s, nil
}

// SignOut revokes the session of r's cookie, if any, and clears the cookie
// on w. A request without a valid session is not an error. The cookie is
// cleared even when the Store fails, whose error SignOut returns.
func (m *Manager) SignOut(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	m.ClearCookie(w)
	return m.revokeToken(ctx, m.TokenFromRequest(r))
}

// revokeToken revokes the session of token unless there is none or it is
// already revoked.
func (m *Manager) revokeToken(ctx context.Context, tok string) error {
	if !token.WellFormed(tok) {
		return nil
	}
	s, err := m.store.SessionByTokenHash(ctx, token.Sum(tok))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return storeErr("revoke", err)
	case !s.RevokedAt.IsZero():
		return nil
	}
	if err := m.store.RevokeSession(ctx, s.ID, m.now()); err != nil && !errors.Is(err, ErrNotFound) {
		return storeErr("revoke", err)
	}
	return nil
}

// remoteIP returns the host part of r.RemoteAddr.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ctxKey is the context key of a ctxEntry.
type ctxKey struct{}

// ctxEntry is what Middleware puts in a request's context: the session,
// or ok false when the request has none (which tells Require that the
// cookie was already checked).
type ctxEntry struct {
	s  Session
	ok bool
}

// NewContext returns a copy of ctx that carries s, as Middleware makes
// for a signed-in request. Tests of handlers use it.
func NewContext(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, ctxEntry{s: s, ok: true})
}

// FromContext returns the session that Middleware (or NewContext) put in
// ctx, and whether there is one.
func FromContext(ctx context.Context) (Session, bool) {
	e, _ := ctx.Value(ctxKey{}).(ctxEntry)
	return e.s, e.ok
}

// Middleware validates the session cookie of each request and, when the
// session is valid, passes the request on with the Session in its context
// (see FromContext). A request without a cookie goes on without a session;
// so does one whose cookie is malformed, unknown, revoked or expired, and
// the cookie is then cleared. A Store failure is logged and answered with
// 500 Internal Server Error, since neither "signed in" nor "signed out"
// would be true.
//
// Middleware adds "Vary: Cookie" to every response.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addOnce(w.Header(), "Vary", "Cookie")
		ctx := r.Context()
		var e ctxEntry
		if tok := m.TokenFromRequest(r); tok != "" {
			s, err := m.Validate(ctx, tok)
			switch {
			case err == nil:
				e = ctxEntry{s: s, ok: true}
			case errors.Is(err, ErrNotFound), errors.Is(err, ErrRevoked), errors.Is(err, ErrExpired):
				m.ClearCookie(w)
			default:
				if ctx.Err() == nil {
					m.log.ErrorContext(ctx, "session: cannot validate session cookie", "err", err)
				}
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxKey{}, e)))
	})
}

// Require returns middleware that lets only requests with a valid session
// through to the handler it wraps. Others are redirected (303 See Other)
// to loginURL when they are GET or HEAD requests, and answered with 401
// Unauthorized otherwise (or always, when loginURL is "").
//
// Behind Middleware, Require uses the session Middleware found; used
// alone, it validates the cookie itself, as Middleware would.
func (m *Manager) Require(loginURL string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := FromContext(r.Context()); ok {
				next.ServeHTTP(w, r)
				return
			}
			if loginURL != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				http.Redirect(w, r, loginURL, http.StatusSeeOther)
				return
			}
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		})
		validated := m.Middleware(check)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, checked := r.Context().Value(ctxKey{}).(ctxEntry); checked {
				check.ServeHTTP(w, r)
				return
			}
			validated.ServeHTTP(w, r)
		})
	}
}
