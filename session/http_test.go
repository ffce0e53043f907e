package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/session"
)

// sessionCookie returns the session cookie set on rec, or nil.
func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.DefaultCookieName {
			require.Nil(t, found, "one session cookie per response")
			found = c
		}
	}
	return found
}

// signIn signs userID in through SignIn, carrying cookie when it is not nil.
func (f *fixture) signIn(t *testing.T, userID string, cookie *http.Cookie) (session.Session, *http.Cookie) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (test)")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	s, err := f.m.SignIn(req.Context(), rec, req, userID, "")
	require.NoError(t, err)
	c := sessionCookie(t, rec)
	require.NotNil(t, c)
	return s, c
}

func TestSignIn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)

	s, c := f.signIn(t, "user_1", nil)
	require.Equal(t, "user_1", s.UserID)
	require.Equal(t, "Mozilla/5.0 (test)", s.UserAgent)
	require.Equal(t, "192.0.2.1", s.IPAddress, "httptest's RemoteAddr, without the port")

	require.True(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	require.Equal(t, "/", c.Path)
	require.Empty(t, c.Domain)
	require.True(t, c.Expires.Equal(s.ExpiresAt.Truncate(time.Second)), "expires with the session: %v", c.Expires)
	require.Len(t, c.Value, 43)

	got, err := f.m.Validate(ctx, c.Value)
	require.NoError(t, err)
	require.Equal(t, s.ID, got.ID)

	// Signing in again with that cookie: a new token and session, the old
	// one revoked.
	s2, c2 := f.signIn(t, "user_1", c)
	require.NotEqual(t, c.Value, c2.Value)
	require.NotEqual(t, s.ID, s2.ID)
	_, err = f.m.Validate(ctx, c.Value)
	require.ErrorIs(t, err, session.ErrRevoked)
	_, err = f.m.Validate(ctx, c2.Value)
	require.NoError(t, err)

	// Another user signing in on that browser ends the first user's session.
	_, c3 := f.signIn(t, "user_2", c2)
	_, err = f.m.Validate(ctx, c2.Value)
	require.ErrorIs(t, err, session.ErrRevoked)
	_, err = f.m.Validate(ctx, c3.Value)
	require.NoError(t, err)

	// A garbage or unknown cookie does not get in the way.
	f.signIn(t, "user_1", &http.Cookie{Name: session.DefaultCookieName, Value: "garbage"})
	f.signIn(t, "user_1", &http.Cookie{Name: session.DefaultCookieName, Value: strings.Repeat("A", 43)})
}

func TestSignInCookieConfig(t *testing.T) {
	f := newFixture(t, func(c *session.Config) {
		c.InsecureCookies = true
		c.CookieName = "sid"
		c.CookiePath = "/app"
		c.CookieDomain = "example.com"
	})
	req := httptest.NewRequest(http.MethodPost, "/app/login", nil)
	rec := httptest.NewRecorder()
	_, err := f.m.SignIn(req.Context(), rec, req, "user_1", "")
	require.NoError(t, err)
	cs := rec.Result().Cookies()
	require.Len(t, cs, 1)
	c := cs[0]
	require.Equal(t, "sid", c.Name)
	require.False(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, "/app", c.Path)
	require.Equal(t, "example.com", c.Domain)
}

func TestSignOut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	s, c := f.signIn(t, "user_1", nil)

	req := httptest.NewRequest(http.MethodPost, "/logout", nil)
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	require.NoError(t, f.m.SignOut(ctx, rec, req))

	cleared := sessionCookie(t, rec)
	require.NotNil(t, cleared)
	require.Empty(t, cleared.Value)
	require.Less(t, cleared.MaxAge, 0, "Max-Age=0: delete now")

	got, err := f.m.Get(ctx, s.ID)
	require.NoError(t, err)
	require.False(t, got.RevokedAt.IsZero())
	_, err = f.m.Validate(ctx, c.Value)
	require.ErrorIs(t, err, session.ErrRevoked)

	// Signed out already, or never signed in: not an error.
	for _, cookie := range []*http.Cookie{c, nil, {Name: session.DefaultCookieName, Value: "x"}} {
		req := httptest.NewRequest(http.MethodPost, "/logout", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		require.NoError(t, f.m.SignOut(ctx, rec, req))
		require.NotNil(t, sessionCookie(t, rec))
	}
}

// whoami answers with the user of the request's session, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s, ok := session.FromContext(r.Context())
	if !ok {
		_, _ = w.Write([]byte("anonymous"))
		return
	}
	_, _ = w.Write([]byte(s.UserID))
})

// serve sends a GET (or method) to h with cookie, when not nil.
func serve(h http.Handler, method string, cookie *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/account", nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t, nil)
	h := f.m.Middleware(whoami)
	_, c := f.signIn(t, "user_1", nil)

	rec := serve(h, http.MethodGet, c)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "user_1", rec.Body.String())
	require.Nil(t, sessionCookie(t, rec), "a valid cookie is left alone")
	require.Contains(t, rec.Header().Values("Vary"), "Cookie")

	rec = serve(h, http.MethodGet, nil)
	require.Equal(t, "anonymous", rec.Body.String())
	require.Nil(t, sessionCookie(t, rec), "no cookie, nothing to clear")

	bad := map[string]string{
		"malformed": "not-a-token",
		"unknown":   strings.Repeat("A", 43),
	}
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			rec := serve(h, http.MethodGet, &http.Cookie{Name: session.DefaultCookieName, Value: v})
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, "anonymous", rec.Body.String())
			cleared := sessionCookie(t, rec)
			require.NotNil(t, cleared, "a bad cookie is cleared")
			require.Less(t, cleared.MaxAge, 0)
		})
	}

	t.Run("expired", func(t *testing.T) {
		f.clock.Add(25 * time.Hour) // past the default idle timeout
		rec := serve(h, http.MethodGet, c)
		require.Equal(t, "anonymous", rec.Body.String())
		require.NotNil(t, sessionCookie(t, rec))
	})

	t.Run("store failure", func(t *testing.T) {
		f := newFixture(t, nil)
		_, c := f.signIn(t, "user_1", nil)
		f.store.Fail(errors.New("connection refused"))
		rec := serve(f.m.Middleware(whoami), http.MethodGet, c)
		require.Equal(t, http.StatusInternalServerError, rec.Code)
		require.Nil(t, sessionCookie(t, rec), "the cookie is kept: the session may be fine")
	})
}

func TestRequire(t *testing.T) {
	f := newFixture(t, nil)
	_, c := f.signIn(t, "user_1", nil)

	behind := f.m.Middleware(f.m.Require("/login")(whoami))
	alone := f.m.Require("/login")(whoami)

	for name, h := range map[string]http.Handler{"behind Middleware": behind, "alone": alone} {
		t.Run(name, func(t *testing.T) {
			rec := serve(h, http.MethodGet, nil)
			require.Equal(t, http.StatusSeeOther, rec.Code)
			require.Equal(t, "/login", rec.Header().Get("Location"))

			rec = serve(h, http.MethodHead, nil)
			require.Equal(t, http.StatusSeeOther, rec.Code)

			rec = serve(h, http.MethodPost, nil)
			require.Equal(t, http.StatusUnauthorized, rec.Code)

			rec = serve(h, http.MethodGet, &http.Cookie{Name: session.DefaultCookieName, Value: "bad"})
			require.Equal(t, http.StatusSeeOther, rec.Code)
			require.NotNil(t, sessionCookie(t, rec), "the bad cookie is cleared")

			before := f.store.Calls("SessionByTokenHash")
			rec = serve(h, http.MethodPost, c)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, "user_1", rec.Body.String())
			require.Equal(t, before+1, f.store.Calls("SessionByTokenHash"), "validated once")
		})
	}

	t.Run("no login URL", func(t *testing.T) {
		rec := serve(f.m.Require("")(whoami), http.MethodGet, nil)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	})
}

func TestNewContext(t *testing.T) {
	_, ok := session.FromContext(context.Background())
	require.False(t, ok)
	s := session.Session{ID: "session_1", UserID: "user_1"}
	got, ok := session.FromContext(session.NewContext(context.Background(), s))
	require.True(t, ok)
	require.Equal(t, s, got)
}

func TestTokenFromRequest(t *testing.T) {
	f := newFixture(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	require.Empty(t, f.m.TokenFromRequest(req))
	req.AddCookie(&http.Cookie{Name: "other", Value: "x"})
	req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: "tok"})
	require.Equal(t, "tok", f.m.TokenFromRequest(req))
}
