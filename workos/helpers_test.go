package workos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testpg"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/store/pgstore"
	"github.com/passreset/passreset/store/sqlitestore"
	"github.com/passreset/passreset/workos"
)

const (
	apiKey      = "sk_test_primary_key_0123456789abcdef"
	otherKey    = "sk_test_rotated_key_0123456789abcdef"
	userEmail   = "marcelina.davis@example.com"
	oldPassword = "correct horse battery"
	newPassword = "a much better passphrase"
)

// store keeps users, resets and sessions, as memstore and sqlitestore do.
type testStore interface {
	store.Store
	session.Store
}

// stores are the adapters the store-sensitive tests run on: Postgres too
// when PASSRESET_POSTGRES_URL names a server (each test in a schema of its
// own, dropped afterwards).
var stores = map[string]func(testing.TB) testStore{
	"pgstore": func(t testing.TB) testStore {
		schema := testpg.SchemaName("workos_test_")
		testpg.DropSchemaOnCleanup(t, schema)
		st, err := pgstore.Open(t.Context(), testpg.PostgresURL(t), pgstore.WithSchema(schema))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		require.NoError(t, st.Migrate(t.Context()))
		return st
	},
	"memstore": func(testing.TB) testStore { return memstore.New() },
	"sqlitestore": func(t testing.TB) testStore {
		st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "api.db"))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		require.NoError(t, st.Migrate(t.Context()))
		return st
	},
}

// env is a Handler over a store with everything a test looks at.
type env struct {
	h     *workos.Handler
	svc   *reset.Service
	acct  *account.Service
	sm    *session.Manager
	store testStore
	mail  *mailtest.Recorder
	clock *testfix.Clock
	logs  *testfix.Buffer
}

// newEnv builds an env over a memstore; mod may change the configurations
// before use.
func newEnv(t testing.TB, mod ...func(*reset.Config, *workos.Config)) *env {
	t.Helper()
	return newEnvOn(t, memstore.New(), mod...)
}

// newEnvOn builds an env over st.
func newEnvOn(t testing.TB, st testStore, mod ...func(*reset.Config, *workos.Config)) *env {
	t.Helper()
	return newEnvAccounts(t, st, account.Config{}, mod...)
}

// newEnvAccounts builds an env over st whose Handler signs in through an
// account.Service configured by acfg.
func newEnvAccounts(t testing.TB, st testStore, acfg account.Config, mod ...func(*reset.Config, *workos.Config)) *env {
	t.Helper()
	e := &env{
		store: st,
		mail:  new(mailtest.Recorder),
		clock: testfix.NewClock(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)),
		logs:  new(testfix.Buffer),
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	rc := reset.Config{
		Store:    e.store,
		Mailer:   e.mail,
		ResetURL: "https://app.example/reset-password",
		Hasher:   password.Bcrypt{Cost: 4},
		Now:      e.clock.Now,
		Logger:   logger,
	}
	ac := workos.Config{APIKeys: []string{apiKey, otherKey}, Logger: logger, Now: e.clock.Now}
	for _, m := range mod {
		m(&rc, &ac)
	}
	e.svc, err = reset.NewService(rc)
	require.NoError(t, err)
	e.sm, err = session.New(session.Config{Store: e.store, Stamps: e.svc, Now: e.clock.Now, Logger: logger})
	require.NoError(t, err)
	e.acct, err = account.New(e.svc, acfg)
	require.NoError(t, err)
	ac.Service, ac.Accounts, ac.Sessions = e.svc, e.acct, e.sm
	e.h, err = workos.New(ac)
	require.NoError(t, err)
	return e
}

// resp is an answer, with its body decoded.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// req describes a request; the zero value of each field is the common
// case.
type req struct {
	method, path string
	body         any               // marshalled to JSON unless a string or []byte
	key          *string           // the bearer key; nil means apiKey, "" none
	header       map[string]string // extra headers
	remote       string            // the client's address; "" means httptest's 192.0.2.1
	ctx          context.Context   // the request's context; nil means the test's
}

func (e *env) do(t testing.TB, r req) resp {
	t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		body = bytes.NewReader(j)
	}
	ctx := r.ctx
	if ctx == nil {
		ctx = t.Context()
	}
	hr := httptest.NewRequestWithContext(ctx, r.method, r.path, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	key := apiKey
	if r.key != nil {
		key = *r.key
	}
	if key != "" {
		hr.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	out := resp{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	require.Equal(t, "application/json", w.Header().Get("Content-Type"), "every answer is JSON: %s %s -> %d %s", r.method, r.path, w.Code, w.Body)
	if r.method != http.MethodHead {
		require.NoError(t, json.Unmarshal(out.raw, &out.body), "%s %s -> %d %s", r.method, r.path, w.Code, w.Body)
	}
	return out
}

func (e *env) get(t testing.TB, path string) resp {
	t.Helper()
	return e.do(t, req{method: http.MethodGet, path: path})
}

func (e *env) post(t testing.TB, path string, body any) resp {
	t.Helper()
	return e.do(t, req{method: http.MethodPost, path: path, body: body})
}

func ptr[T any](v T) *T { return &v }

// discardMailer sends nothing.
type discardMailer struct{}

func (discardMailer) Send(context.Context, mail.Message) error { return nil }

// createUser creates a user through the API and returns its id.
func (e *env) createUser(t testing.TB, email string) string {
	t.Helper()
	r := e.post(t, "/user_management/users", map[string]any{"email": email, "password": oldPassword, "first_name": "Marcelina", "last_name": "Davis"})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	return r.body["id"].(string)
}

// createReset asks for a reset through the API and returns its id and
// token.
func (e *env) createReset(t testing.TB, email string) (id, token string) {
	t.Helper()
	r := e.post(t, "/user_management/password_reset", map[string]any{"email": email})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	return r.body["id"].(string), r.body["password_reset_token"].(string)
}

// signIn authenticates with a password through the API and returns the
// answer's body.
func (e *env) signIn(t testing.TB, email, password string) map[string]any {
	t.Helper()
	r := e.post(t, "/user_management/authenticate", map[string]any{
		"client_id": "client_123", "client_secret": apiKey, "grant_type": "password",
		"email": email, "password": password, "ip_address": "203.0.113.42", "user_agent": "Mozilla/5.0",
	})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	return r.body
}

// refresh runs the refresh_token grant and returns the answer.
func (e *env) refresh(t testing.TB, token string) resp {
	t.Helper()
	return e.post(t, "/user_management/authenticate", map[string]any{
		"client_id": "client_123", "client_secret": apiKey, "grant_type": "refresh_token", "refresh_token": token,
	})
}

// requireError checks an error answer: its status and its code (or, for
// a {"message"} body, that message is all there is).
func requireError(t testing.TB, r resp, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.raw))
	if code == "" {
		require.Len(t, r.body, 1, string(r.raw))
		require.NotEmpty(t, r.body["message"], string(r.raw))
		return
	}
	require.Equal(t, code, r.body["code"], string(r.raw))
	require.NotEmpty(t, r.body["message"], string(r.raw))
}

// requireResetError checks a 400 password_reset_error and returns its
// inner codes.
func requireResetError(t testing.TB, r resp) []string {
	t.Helper()
	requireError(t, r, http.StatusBadRequest, "password_reset_error")
	errs, ok := r.body["errors"].([]any)
	require.True(t, ok, string(r.raw))
	var codes []string
	for _, e := range errs {
		m := e.(map[string]any)
		require.NotEmpty(t, m["message"], string(r.raw))
		codes = append(codes, m["code"].(string))
	}
	return codes
}
