package scsreset_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/scsreset"
)

const (
	oldPassword = "correct horse battery"
	newPassword = "a brand new passphrase"
)

func TestSignInRenewsTokenAndStoresStamp(t *testing.T) {
	a := newApp(t, appOptions{})
	id := a.createUser("ada@example.com", oldPassword)
	c := a.client()

	status, _ := c.do(http.MethodPost, "/cart", nil)
	require.Equal(t, http.StatusOK, status)
	anonymous := c.token()
	require.NotEmpty(t, anonymous)
	require.Equal(t, 1, a.sessionsOf(""))

	c.mustLogin("ada@example.com", oldPassword, id)
	require.NotEmpty(t, c.token())
	require.NotEqual(t, anonymous, c.token(), "SignIn renews the token")
	require.Equal(t, 0, a.sessionsOf(""), "the anonymous session's row is gone")
	require.Equal(t, 1, a.sessionsOf(id))

	// The stamp stored is the one of the hash the sign-in checked.
	all, err := a.scs.(scs.IterableStore).All()
	require.NoError(t, err)
	require.Len(t, all, 1)
	for _, b := range all {
		_, values, err := a.sm.Codec.Decode(b)
		require.NoError(t, err)
		want, err := a.svc.CurrentStamp(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, want, values[scsreset.DefaultStampKey])
		require.Equal(t, "2 apples", values["cart"], "SignIn keeps the session's other values")
	}

	status, _ = c.login("ada@example.com", "wrong password!")
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestResetSignsOutEveryDeviceAndOnlyTheUser(t *testing.T) {
	a := newApp(t, appOptions{})
	ada := a.createUser("ada@example.com", oldPassword)
	bob := a.createUser("bob@example.com", oldPassword)
	phone, laptop, bobs := a.client(), a.client(), a.client()
	phone.mustLogin("ada@example.com", oldPassword, ada)
	laptop.mustLogin("ada@example.com", oldPassword, ada)
	bobs.mustLogin("bob@example.com", oldPassword, bob)
	require.Equal(t, 2, a.sessionsOf(ada))

	require.NoError(t, a.resetPassword("ada@example.com", newPassword))
	require.Equal(t, 0, a.sessionsOf(ada), "the revoker deleted both of Ada's sessions")
	require.Equal(t, 1, a.sessionsOf(bob), "and none of Bob's")
	require.Contains(t, a.logs.String(), "deleted=2")

	for _, c := range []*client{phone, laptop} {
		c.requireSignedOut()
	}
	status, body := bobs.do(http.MethodGet, "/me", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, bob, body)

	// The old password is refused, the new one signs in.
	status, _ = phone.login("ada@example.com", oldPassword)
	require.Equal(t, http.StatusUnauthorized, status)
	phone.mustLogin("ada@example.com", newPassword, ada)

	// Revoking again is harmless (the dispatcher may retry).
	require.NoError(t, a.sess.RevokeUserSessions(t.Context(), ada))
	require.Equal(t, 0, a.sessionsOf(ada))
}

// A request from a signed-in device is in flight while the reset commits:
// it passed the stamp check before the commit, and writes its session back
// after the revoker deleted it. The device must not stay signed in.
func TestInFlightRequestCannotResaveASignedInSession(t *testing.T) {
	a := newApp(t, appOptions{})
	ada := a.createUser("ada@example.com", oldPassword)
	phone := a.signedIn("ada@example.com", ada)
	tokenBefore := phone.token()

	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		status, body := phone.do(http.MethodGet, "/slow", nil)
		done <- result{status, body}
	}()
	<-a.slowEntered // past the Middleware, signed in

	require.NoError(t, a.resetPassword("ada@example.com", newPassword))
	require.Equal(t, 0, a.sessionsOf(ada), "the revoker deleted the session")

	a.releaseSlow()
	r := <-done
	require.Equal(t, http.StatusOK, r.status, "the request in flight was served: it began before the reset")
	require.Equal(t, ada, r.body)
	require.Equal(t, 1, a.sessionsOf(ada), "and it wrote the deleted session back: the race happened")
	require.Equal(t, tokenBefore, phone.token())

	phone.requireSignedOut("the re-saved session is refused on its next request")
	require.Equal(t, 0, a.sessionsOf(ada), "and destroyed")
	require.Empty(t, phone.token(), "its cookie is cleared")
	require.Contains(t, a.logs.String(), "session ended")
}

// A sign-in that compared the old password just before the reset committed
// creates its session just after the revoker ran. Its first request must be
// refused.
func TestSignInRacingTheResetEndsSignedOut(t *testing.T) {
	a := newApp(t, appOptions{})
	ada := a.createUser("ada@example.com", oldPassword)
	checked, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	letProceed := func() { once.Do(func() { close(proceed) }) }
	t.Cleanup(letProceed)
	a.afterPasswordCheck = func() {
		close(checked)
		<-proceed
	}
	phone := a.client()
	done := make(chan int, 1)
	go func() {
		status, _ := phone.login("ada@example.com", oldPassword)
		done <- status
	}()
	<-checked // the old password matched
	require.NoError(t, a.resetPassword("ada@example.com", newPassword))
	letProceed()
	require.Equal(t, http.StatusOK, <-done, "the sign-in itself completed")
	require.Equal(t, 1, a.sessionsOf(ada), "with a session made after the revoker ran")

	phone.requireSignedOut()
	require.Equal(t, 0, a.sessionsOf(ada))
}

func TestHashTokenInStore(t *testing.T) {
	a := newApp(t, appOptions{hashTokenInStore: true})
	ada := a.createUser("ada@example.com", oldPassword)
	phone, laptop := a.signedIn("ada@example.com", ada), a.signedIn("ada@example.com", ada)
	require.Equal(t, 2, a.sessionsOf(ada))

	require.NoError(t, a.resetPassword("ada@example.com", newPassword))
	require.Equal(t, 0, a.sessionsOf(ada), "deleted by the store's key, not hashed twice")
	for _, c := range []*client{phone, laptop} {
		c.requireSignedOut()
	}
}

func TestStoreThatCannotIterate(t *testing.T) {
	a := newApp(t, appOptions{hideIteration: true})
	require.Contains(t, a.logs.String(), "cannot list its sessions", "New warns")
	ada := a.createUser("ada@example.com", oldPassword)
	phone := a.signedIn("ada@example.com", ada)

	require.NoError(t, a.resetPassword("ada@example.com", newPassword), "nothing to retry")
	require.Equal(t, 1, a.sessionsOf(ada), "nothing deleted")

	phone.requireSignedOut("the stamp check alone signs the device out")
	require.Equal(t, 0, a.sessionsOf(ada))
}

func TestRevokeSkipsUndecodableSessions(t *testing.T) {
	a := newApp(t, appOptions{})
	ada := a.createUser("ada@example.com", oldPassword)
	a.signedIn("ada@example.com", ada)
	// Two rows no codec can read, one of which holds Ada's id in its bytes
	// and so is decoded.
	for token, data := range map[string][]byte{
		"garbage":     {0, 0xff, 0, 0xff},
		"garbage-ada": append(append([]byte{0, 0xff}, ada...), 0xff),
	} {
		_, err := a.db.ExecContext(t.Context(), `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, julianday('now', '+1 day'))`, token, data)
		require.NoError(t, err)
	}

	require.NoError(t, a.resetPassword("ada@example.com", newPassword))
	require.Equal(t, 0, a.sessionsOf(ada))
	var n int
	require.NoError(t, a.db.QueryRowContext(t.Context(), `SELECT count(*) FROM sessions WHERE token LIKE 'garbage%'`).Scan(&n))
	require.Equal(t, 2, n, "an undecodable session is skipped, not deleted")
	require.Contains(t, a.logs.String(), "undecodable=1")
}

// base64Codec is a codec whose bytes do not show the strings it holds, as
// a compressing or encrypting codec's would not.
type base64Codec struct{ scs.GobCodec }

func (c base64Codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	b, err := c.GobCodec.Encode(deadline, values)
	return []byte(base64.StdEncoding.EncodeToString(b)), err
}

func (c base64Codec) Decode(b []byte) (time.Time, map[string]any, error) {
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return time.Time{}, nil, err
	}
	return c.GobCodec.Decode(raw)
}

func TestRevokeWithAnotherCodec(t *testing.T) {
	a := newApp(t, appOptions{})
	a.sm.Codec = base64Codec{}
	ada := a.createUser("ada@example.com", oldPassword)
	a.signedIn("ada@example.com", ada) // on a phone
	a.signedIn("ada@example.com", ada) // and on a laptop
	require.Equal(t, 2, a.sessionsOf(ada))

	require.NoError(t, a.resetPassword("ada@example.com", newPassword))
	require.Equal(t, 0, a.sessionsOf(ada), "every session is decoded when the codec may hide the id")
}

func TestRevokeEmptyUserIDDeletesNothing(t *testing.T) {
	a := newApp(t, appOptions{})
	c := a.client()
	status, _ := c.do(http.MethodPost, "/cart", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 1, a.sessionsOf(""))
	require.NoError(t, a.sess.RevokeUserSessions(t.Context(), ""))
	require.Equal(t, 1, a.sessionsOf(""), "anonymous sessions have no user id, and stay")
}

func TestRevokeStopsWithContext(t *testing.T) {
	a := newApp(t, appOptions{})
	ada := a.createUser("ada@example.com", oldPassword)
	a.signedIn("ada@example.com", ada)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := a.sess.RevokeUserSessions(ctx, ada)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, a.sessionsOf(ada))
}

// stampFunc is a StampChecker made of a function, for the cases a real
// Service cannot produce on demand.
type stampFunc func(ctx context.Context, userID, stamp string) (bool, error)

func (f stampFunc) StampMatches(ctx context.Context, userID, stamp string) (bool, error) {
	return f(ctx, userID, stamp)
}

func TestAnonymousRequestsCostNoLookup(t *testing.T) {
	var lookups atomic.Int32
	a := newApp(t, appOptions{stamps: func(svc *reset.Service) scsreset.StampChecker {
		return stampFunc(func(ctx context.Context, userID, stamp string) (bool, error) {
			lookups.Add(1)
			return svc.StampMatches(ctx, userID, stamp)
		})
	}})
	ada := a.createUser("ada@example.com", oldPassword)
	c := a.client()
	for range 3 {
		c.requireSignedOut()
	}
	status, _ := c.do(http.MethodPost, "/cart", nil)
	require.Equal(t, http.StatusOK, status)
	require.Zero(t, lookups.Load())

	c.mustLogin("ada@example.com", oldPassword, ada) // the login request itself carried no user id
	require.Equal(t, int32(1), lookups.Load(), "one lookup per signed-in request")
}

func TestStampCheckFailureFailsClosed(t *testing.T) {
	a := newApp(t, appOptions{})
	ada := a.createUser("ada@example.com", oldPassword)
	phone := a.signedIn("ada@example.com", ada)

	require.NoError(t, a.st.Close()) // the passreset store is gone: StampMatches fails
	status, body := phone.do(http.MethodGet, "/me", nil)
	require.Equal(t, http.StatusInternalServerError, status)
	require.NotContains(t, body, ada, "the handler did not run")
	require.Contains(t, a.logs.String(), "cannot check the session's credential stamp")
	require.Equal(t, 1, a.sessionsOf(ada), "the session is kept: the stamp may well match")

	// Anonymous requests need no lookup and are still served.
	a.client().requireSignedOut()
}

func TestSessionWithUserIDButNoStampIsRefused(t *testing.T) {
	a := newApp(t, appOptions{})
	ada := a.createUser("ada@example.com", oldPassword)
	// A handler of the app's that wrote the user id itself, without a stamp.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bad-login", func(w http.ResponseWriter, r *http.Request) {
		a.sm.Put(r.Context(), scsreset.DefaultUserIDKey, ada)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if a.sess.UserID(r.Context()) == "" {
			http.Error(w, "signed out", http.StatusUnauthorized)
		}
	})
	srv := httptest.NewServer(a.sm.LoadAndSave(a.sess.Middleware(a.svc, mux)))
	defer srv.Close()
	c := a.client()
	c.a.srv = srv
	status, _ := c.do(http.MethodPost, "/bad-login", nil)
	require.Equal(t, http.StatusOK, status)
	c.requireSignedOut()
}

func TestMisuseFailsWithoutPanic(t *testing.T) {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	sess, err := scsreset.New(scsreset.Config{Manager: sm, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	// SignIn outside LoadAndSave, and with empty values.
	require.ErrorContains(t, sess.SignIn(t.Context(), "user_1", "stamp"), "LoadAndSave")
	require.Empty(t, sess.UserID(t.Context()))
	var signInErrs []error
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		signInErrs = append(signInErrs,
			sess.SignIn(r.Context(), "", "stamp"),
			sess.SignIn(r.Context(), "user_1", ""))
		require.Empty(t, sess.UserID(r.Context()), "nothing recorded")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	require.Len(t, signInErrs, 2)
	for _, err := range signInErrs {
		require.Error(t, err)
	}

	// The Middleware outside LoadAndSave answers 500, and next never runs.
	ran := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })
	rec := httptest.NewRecorder()
	sess.Middleware(stampFunc(func(context.Context, string, string) (bool, error) { return true, nil }), next).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.False(t, ran)

	// Without a StampChecker, a signed-in session is refused with 500; an
	// anonymous one passes.
	signIn := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, sess.SignIn(r.Context(), "user_1", "stamp"))
	}))
	rec = httptest.NewRecorder()
	signIn.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	cookie := rec.Result().Cookies()[0]
	guarded := sm.LoadAndSave(sess.Middleware(nil, next))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	guarded.ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.False(t, ran)
	rec = httptest.NewRecorder()
	guarded.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.True(t, ran)
}

func TestNewChecksConfig(t *testing.T) {
	_, err := scsreset.New(scsreset.Config{})
	require.ErrorContains(t, err, "Manager is required")

	_, err = scsreset.New(scsreset.Config{Manager: &scs.SessionManager{}})
	require.ErrorContains(t, err, "scs.New")

	sm := scs.New()
	_, err = scsreset.New(scsreset.Config{Manager: sm, UserIDKey: "k", StampKey: "k"})
	require.ErrorContains(t, err, `both "k"`)

	// Custom keys are used.
	sm.Store = memstore.NewWithCleanupInterval(0)
	sess, err := scsreset.New(scsreset.Config{Manager: sm, UserIDKey: "uid", StampKey: "st", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, sess.SignIn(r.Context(), "user_7", "S"))
		require.Equal(t, "user_7", sm.GetString(r.Context(), "uid"))
		require.Equal(t, "S", sm.GetString(r.Context(), "st"))
		require.False(t, sm.Exists(r.Context(), scsreset.DefaultUserIDKey))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
}

// failingStore is an scs store whose listing fails, as a database that is
// down does.
type failingStore struct{ scs.Store }

func (failingStore) All() (map[string][]byte, error) { return nil, errors.New("database is down") }

func TestRevokeReportsStoreFailure(t *testing.T) {
	sm := scs.New()
	sm.Store = failingStore{memstore.NewWithCleanupInterval(0)}
	sess, err := scsreset.New(scsreset.Config{Manager: sm, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	err = sess.RevokeUserSessions(t.Context(), "user_1")
	require.ErrorContains(t, err, "database is down")
}

// BenchmarkRevokeUserSessions measures a revocation among n live sessions
// of other users in sqlite3store: the read and decoding of every session.
func BenchmarkRevokeUserSessions(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(strconv.Itoa(n)+"_sessions", func(b *testing.B) {
			a := newApp(b, appOptions{})
			tx, err := a.db.BeginTx(b.Context(), nil)
			require.NoError(b, err)
			for i := range n {
				data, err := a.sm.Codec.Encode(time.Now().Add(time.Hour), map[string]any{
					scsreset.DefaultUserIDKey: "user_" + strconv.Itoa(i),
					scsreset.DefaultStampKey:  "0123456789abcdefghijkl",
					"flash":                   "Welcome back",
				})
				require.NoError(b, err)
				_, err = tx.ExecContext(b.Context(), `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, julianday('now', '+1 day'))`,
					"token-"+strconv.Itoa(i), data)
				require.NoError(b, err)
			}
			require.NoError(b, tx.Commit())
			for b.Loop() {
				if err := a.sess.RevokeUserSessions(b.Context(), "user_target"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
