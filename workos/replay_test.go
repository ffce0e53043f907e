package workos_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/workos"
)

// sharedKey is the SecretKey of the instances of one app in these tests.
var sharedKey = []byte(strings.Repeat("s", 32))

// instances returns n Handlers over one store with one SecretKey and one
// clock, as the instances of an app behind a load balancer.
func instances(t *testing.T, st testStore, n int, mod ...func(*reset.Config, *workos.Config)) []*env {
	t.Helper()
	envs := make([]*env, n)
	for i := range envs {
		envs[i] = newEnvOn(t, st, append([]func(*reset.Config, *workos.Config){func(rc *reset.Config, _ *workos.Config) {
			rc.SecretKey = sharedKey
			if i > 0 {
				rc.Now = envs[0].clock.Now
			}
		}}, mod...)...)
	}
	return envs
}

func withIdemKey(path, key string, body any) req {
	return req{method: http.MethodPost, path: path, body: body, header: map[string]string{"Idempotency-Key": key}}
}

// TestIdempotencyAcrossInstances: a retry that reaches another instance is
// replayed from the Store, on every store: one reset, one email, the first
// answer byte for byte; a confirmation's retry on another instance gets its
// 200 again, not "token already used".
func TestIdempotencyAcrossInstances(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			envs := instances(t, newStore(t), 2)
			a, b := envs[0], envs[1]
			a.createUser(t, userEmail)

			create := withIdemKey("/user_management/password_reset", "reset-1", map[string]any{"email": userEmail})
			first := a.do(t, create)
			require.Equal(t, http.StatusCreated, first.status, string(first.raw))
			again := b.do(t, create)
			require.Equal(t, http.StatusCreated, again.status, string(again.raw))
			require.Equal(t, string(first.raw), string(again.raw), "the other instance's answer")
			require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
			require.Empty(t, first.header.Get("Idempotent-Replayed"))
			require.Equal(t, 1, a.mail.Len()+b.mail.Len(), "one reset email")

			// The token of the first answer still works: no second reset
			// ended it.
			token := first.body["password_reset_token"].(string)
			confirm := withIdemKey("/user_management/password_reset/confirm", "confirm-1", map[string]any{"token": token, "new_password": newPassword})
			first = b.do(t, confirm)
			require.Equal(t, http.StatusOK, first.status, string(first.raw))
			again = a.do(t, confirm)
			require.Equal(t, http.StatusOK, again.status, string(again.raw))
			require.Equal(t, string(first.raw), string(again.raw))

			// The same key with another body, on either instance, is refused.
			other := withIdemKey("/user_management/password_reset", "reset-1", map[string]any{"email": "other@example.com"})
			requireError(t, b.do(t, other), http.StatusUnprocessableEntity, "invalid_request_parameters")
		})
	}
}

// TestAuthenticateIsNeverReplayed: its answer holds a live refresh token,
// which a replay would hand out again; a retry with the same key signs in
// anew, and nothing of it is kept.
func TestAuthenticateIsNeverReplayed(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	body := map[string]any{"client_id": "client_123", "client_secret": apiKey, "grant_type": "password", "email": userEmail, "password": oldPassword}
	var tokens []string
	for range 2 {
		r := e.do(t, withIdemKey("/user_management/authenticate", "auth-1", body))
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Empty(t, r.header.Get("Idempotent-Replayed"))
		tokens = append(tokens, r.body["refresh_token"].(string))
	}
	require.NotEqual(t, tokens[0], tokens[1], "a replayed refresh token")
	list := e.get(t, "/user_management/users/"+uid+"/sessions")
	require.Len(t, list.body["data"], 2, "two sign-ins, two sessions")
	n, err := e.store.PurgeReplays(t.Context(), e.clock.Now().Add(365*24*time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "a replay record was kept for /authenticate")
}

// blockingMailer holds every Send until release is closed, and says when
// one has begun.
type blockingMailer struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (m *blockingMailer) Send(ctx context.Context, _ mail.Message) error {
	m.once.Do(func() { close(m.started) })
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inflightStore says when a ClaimReplay found the key held by a request
// still running.
type inflightStore struct {
	*memstore.Store
	inflight chan struct{}
}

func (s inflightStore) ClaimReplay(ctx context.Context, r store.Replay, now time.Time) (store.Replay, bool, error) {
	got, ok, err := s.Store.ClaimReplay(ctx, r, now)
	if err == nil && !ok && got.Answer == nil {
		select {
		case s.inflight <- struct{}{}:
		default:
		}
	}
	return got, ok, err
}

// TestIdempotencyWhileInFlight: a retry sent while the first request runs
// on another instance waits for its answer and replays it; one that may not
// wait is answered 409 with Retry-After, and neither runs the request.
func TestIdempotencyWhileInFlight(t *testing.T) {
	st := inflightStore{Store: memstore.New(), inflight: make(chan struct{}, 1)}
	mailer := &blockingMailer{started: make(chan struct{}), release: make(chan struct{})}
	a := newEnvOn(t, st, func(rc *reset.Config, _ *workos.Config) { rc.SecretKey = sharedKey; rc.Mailer = mailer })
	a.createUser(t, userEmail)
	b := newEnvOn(t, st, func(rc *reset.Config, _ *workos.Config) { rc.SecretKey = sharedKey; rc.Now = a.clock.Now })
	impatient := newEnvOn(t, st, func(rc *reset.Config, ac *workos.Config) {
		rc.SecretKey = sharedKey
		rc.Now = a.clock.Now
		ac.IdempotencyWait = -1
	})

	create := withIdemKey("/user_management/password_reset", "slow", map[string]any{"email": userEmail})
	firstDone := make(chan resp, 1)
	go func() { firstDone <- a.do(t, create) }()
	<-mailer.started // the first request holds the key, sending its email

	r := impatient.do(t, create)
	requireError(t, r, http.StatusConflict, "idempotency_key_in_use")
	require.Equal(t, "1", r.header.Get("Retry-After"))
	<-st.inflight

	retryDone := make(chan resp, 1)
	go func() { retryDone <- b.do(t, create) }()
	<-st.inflight // the retry found the key held, and waits
	close(mailer.release)

	first, retry := <-firstDone, <-retryDone
	require.Equal(t, http.StatusCreated, first.status, string(first.raw))
	require.Equal(t, http.StatusCreated, retry.status, string(retry.raw))
	require.Equal(t, string(first.raw), string(retry.raw))
	require.Equal(t, "true", retry.header.Get("Idempotent-Replayed"))
	require.Zero(t, b.mail.Len()+impatient.mail.Len(), "the request ran again")
}

// TestIdempotencyKeptWhenTheClientLeaves: a request whose client went away
// after the work was done still keeps its answer, so that the retry the
// client then sends is replayed.
func TestIdempotencyKeptWhenTheClientLeaves(t *testing.T) {
	envs := instances(t, stores["memstore"](t), 2)
	a, b := envs[0], envs[1]
	a.createUser(t, userEmail)
	_, token := a.createReset(t, userEmail)
	body := map[string]any{"token": token, "new_password": newPassword}

	// The client's context ends as soon as the work is done: the answer
	// goes to nobody.
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := newEnvOn(t, a.store, func(rc *reset.Config, _ *workos.Config) {
		rc.SecretKey = sharedKey
		rc.Now = a.clock.Now
		rc.OnEvent = func(context.Context, reset.Event) { cancel() }
	})
	leaving := withIdemKey("/user_management/password_reset/confirm", "leaver", body)
	leaving.ctx = ctx
	first := cancelled.do(t, leaving)
	require.Equal(t, http.StatusOK, first.status, "the work was done: %s", first.raw)
	require.Error(t, ctx.Err(), "the client had left before the answer")

	retry := b.do(t, withIdemKey("/user_management/password_reset/confirm", "leaver", body))
	require.Equal(t, http.StatusOK, retry.status, "the retry of a confirmation whose client left: %s", retry.raw)
	require.Equal(t, "true", retry.header.Get("Idempotent-Replayed"))
}

// TestRefreshGrantIsNeverReplayed: the refresh grant's answer holds the
// session's new refresh token. A retry under the same Idempotency-Key is
// not given it again: it runs anew, presents the token the first request
// rotated away, and so ends the session; nothing of either is kept.
func TestRefreshGrantIsNeverReplayed(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	first := e.signIn(t, userEmail, oldPassword)
	body := map[string]any{"client_id": "client_123", "client_secret": apiKey, "grant_type": "refresh_token",
		"refresh_token": first["refresh_token"].(string)}

	r := e.do(t, withIdemKey("/user_management/authenticate", "refresh-1", body))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	second := r.body["refresh_token"].(string)
	again := e.do(t, withIdemKey("/user_management/authenticate", "refresh-1", body))
	require.Empty(t, again.header.Get("Idempotent-Replayed"))
	require.Equal(t, http.StatusBadRequest, again.status, string(again.raw))
	require.Equal(t, "invalid_grant", again.body["error"])
	require.NotContains(t, string(again.raw), second, "a retry was handed the live refresh token")

	n, err := e.store.PurgeReplays(t.Context(), e.clock.Now().Add(365*24*time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "a replay record was kept for the refresh grant")
}

// TestRefreshTokenReuseEndsTheSession: a refresh token presented again
// after a refresh rotated it away is refused, and ends the session: the
// refresh token and the access token the first refresh handed out stop
// working too.
func TestRefreshTokenReuseEndsTheSession(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	first := e.signIn(t, userEmail, oldPassword)
	other := e.signIn(t, userEmail, oldPassword)
	r := e.refresh(t, first["refresh_token"].(string))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	access := r.body["access_token"].(string)
	_, err := e.h.ValidateAccessToken(t.Context(), access)
	require.NoError(t, err)

	reused := e.refresh(t, first["refresh_token"].(string))
	require.Equal(t, http.StatusBadRequest, reused.status, string(reused.raw))
	require.Equal(t, "invalid_grant", reused.body["error"])
	current := e.refresh(t, r.body["refresh_token"].(string))
	require.Equal(t, http.StatusBadRequest, current.status, "the refresh token handed out before the reuse still works")
	require.Equal(t, "invalid_grant", current.body["error"])
	_, err = e.h.ValidateAccessToken(t.Context(), access)
	require.Error(t, err, "the access token of a session ended by reuse still works")

	require.Equal(t, http.StatusOK, e.refresh(t, other["refresh_token"].(string)).status, "another session of the user was ended")
}
