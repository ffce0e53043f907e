package fleet_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// apiFleet is three apiserver processes on one database behind a proxy.
type apiFleet struct {
	*proxy
	apiKey string
	procs  []*process
}

var apiReady = regexp.MustCompile(`"msg":"apiserver: listening","addr":"([^"]+)"`)

// startAPIFleet starts n apiservers on db, sharing an API key and a secret
// key, behind a new proxy.
func startAPIFleet(tb testing.TB, n int, db string) *apiFleet {
	tb.Helper()
	return startAPIFleetKeeping(tb, n, db, false)
}

// startAPIFleetKeeping is startAPIFleet with a proxy that keeps the
// clients' X-Forwarded-For when keep is set.
func startAPIFleetKeeping(tb testing.TB, n int, db string, keep bool) *apiFleet {
	tb.Helper()
	bin := build(tb, "apiserver")
	f := &apiFleet{proxy: newProxy(tb), apiKey: "sk_fleet_" + randomHex(32)}
	env := []string{"RESET_API_KEY=" + f.apiKey, "PASSRESET_SECRET_KEY=" + randomHex(32)}
	var addrs []string
	for i := range n {
		p, addr := start(tb, fmt.Sprintf("apiserver %d", i+1), bin, env, apiReady,
			"-addr", "127.0.0.1:0", "-db", db, "-bcrypt-cost", "4", "-trusted-proxies", "127.0.0.1/32", "-client-header", "X-Forwarded-For")
		f.procs = append(f.procs, p)
		addrs = append(addrs, addr)
	}
	f.setBackendsKeeping(tb, addrs, keep)
	return f
}

// answer is an API answer, decoded.
type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// call sends one request through the proxy, with the API key.
func (f *apiFleet) call(tb testing.TB, method, path string, body any, header ...string) answer {
	tb.Helper()
	var r io.Reader
	if body != nil {
		r = jsonBody(tb, body)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, f.URL+path, r)
	require.NoError(tb, err)
	req.Header.Set("Authorization", "Bearer "+f.apiKey)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(tb, err)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(b)}
	require.NoError(tb, json.Unmarshal(b, &a.body), "%s %s: %d %s", method, path, res.StatusCode, b)
	return a
}

// authenticate signs in through the proxy, as the SDKs do (client_secret).
func (f *apiFleet) authenticate(tb testing.TB, grant map[string]any) answer {
	tb.Helper()
	body := map[string]any{"client_id": "client_fleet", "client_secret": f.apiKey}
	for k, v := range grant {
		body[k] = v
	}
	return f.call(tb, http.MethodPost, "/user_management/authenticate", body)
}

func (f *apiFleet) createUser(tb testing.TB, email, password string) string {
	tb.Helper()
	a := f.call(tb, http.MethodPost, "/user_management/users", map[string]any{"email": email, "password": password, "first_name": "Marcelina"})
	require.Equal(tb, http.StatusCreated, a.status, a.raw)
	return a.body["id"].(string)
}

func requireCode(t *testing.T, a answer, status int, code string) {
	t.Helper()
	require.Equal(t, status, a.status, a.raw)
	require.Equal(t, code, a.body["code"], a.raw)
}

// TestAPIServerFleet runs the API's whole flow through three apiservers on
// one Postgres, every request on another instance than the one before.
func TestAPIServerFleet(t *testing.T) {
	f := startAPIFleet(t, 3, freshDatabase(t))

	t.Run("Flow", func(t *testing.T) {
		const email, oldPassword, newPassword = "marcelina.davis@example.com", "correct horse battery", "a much better passphrase"
		mark := f.mark()
		uid := f.createUser(t, email, oldPassword)
		signedIn := f.authenticate(t, map[string]any{"grant_type": "password", "email": email, "password": oldPassword})
		require.Equal(t, http.StatusOK, signedIn.status, signedIn.raw)

		created := f.call(t, http.MethodPost, "/user_management/password_reset", map[string]any{"email": email})
		require.Equal(t, http.StatusCreated, created.status, created.raw)
		id, token := created.body["id"].(string), created.body["password_reset_token"].(string)
		got := f.call(t, http.MethodGet, "/user_management/password_reset/"+id, nil)
		require.Equal(t, http.StatusOK, got.status, got.raw)
		require.Equal(t, uid, got.body["user_id"])
		require.NotContains(t, got.body, "password_reset_token")
		confirmed := f.call(t, http.MethodPost, "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": newPassword})
		require.Equal(t, http.StatusOK, confirmed.status, confirmed.raw)
		steps := f.since(mark)
		require.Len(t, map[int]bool{steps[2]: true, steps[3]: true, steps[4]: true}, 3, "create, get and confirm on three instances: %v", steps)

		// The session signed in before the reset is revoked on every
		// instance; the new password signs in.
		dead := f.authenticate(t, map[string]any{"grant_type": "refresh_token", "refresh_token": signedIn.body["refresh_token"]})
		require.Equal(t, http.StatusBadRequest, dead.status, dead.raw)
		require.Equal(t, "invalid_grant", dead.body["error"])
		old := f.authenticate(t, map[string]any{"grant_type": "password", "email": email, "password": oldPassword})
		requireCode(t, old, http.StatusBadRequest, "invalid_credentials")
		after := f.authenticate(t, map[string]any{"grant_type": "password", "email": email, "password": newPassword})
		require.Equal(t, http.StatusOK, after.status, after.raw)
		refreshed := f.authenticate(t, map[string]any{"grant_type": "refresh_token", "refresh_token": after.body["refresh_token"]})
		require.Equal(t, http.StatusOK, refreshed.status, "a refresh token made on one instance, rotated on another: %s", refreshed.raw)

		list := f.call(t, http.MethodGet, "/user_management/users/"+uid+"/sessions", nil)
		require.Equal(t, http.StatusOK, list.status, list.raw)
		data := list.body["data"].([]any)
		require.Len(t, data, 2)
		newest, oldest := data[0].(map[string]any), data[1].(map[string]any)
		require.Equal(t, "active", newest["status"])
		require.Equal(t, "revoked", oldest["status"])
		revoked := f.call(t, http.MethodPost, "/user_management/sessions/revoke", map[string]any{"session_id": newest["id"]})
		require.Equal(t, http.StatusOK, revoked.status, revoked.raw)
		list = f.call(t, http.MethodGet, "/user_management/users/"+uid+"/sessions", nil)
		require.Equal(t, "revoked", list.body["data"].([]any)[0].(map[string]any)["status"])
		gone := f.authenticate(t, map[string]any{"grant_type": "refresh_token", "refresh_token": refreshed.body["refresh_token"]})
		require.Equal(t, "invalid_grant", gone.body["error"], gone.raw)

		requireHopping(t, f.since(mark), 3)
	})

	t.Run("ConcurrentConfirmations", func(t *testing.T) {
		const email = "ana@example.com"
		f.createUser(t, email, "correct horse battery")
		created := f.call(t, http.MethodPost, "/user_management/password_reset", map[string]any{"email": email})
		require.Equal(t, http.StatusCreated, created.status, created.raw)
		token := created.body["password_reset_token"].(string)

		const n = 30
		mark := f.mark()
		answers := make([]answer, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				answers[i] = f.call(t, http.MethodPost, "/user_management/password_reset/confirm",
					map[string]any{"token": token, "new_password": fmt.Sprintf("new passphrase number %d", i)})
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, a := range answers {
			switch a.status {
			case http.StatusOK:
				won++
			case http.StatusBadRequest:
				require.Equal(t, "password_reset_error", a.body["code"], a.raw)
				require.Contains(t, a.raw, "password_reset_token_invalid")
			default:
				t.Fatalf("a confirmation answered %d: %s", a.status, a.raw)
			}
		}
		require.Equal(t, 1, won, "confirmations that won")
		counts := map[int]int{}
		for _, b := range f.since(mark) {
			counts[b]++
		}
		require.Equal(t, map[int]int{0: n / 3, 1: n / 3, 2: n / 3}, counts, "the confirmations were spread over the instances")
	})

	t.Run("IdempotentRetryOnAnotherInstance", func(t *testing.T) {
		const email = "bob@example.com"
		f.createUser(t, email, "correct horse battery")
		body := map[string]any{"email": email}
		mark := f.mark()
		first := f.call(t, http.MethodPost, "/user_management/password_reset", body, "Idempotency-Key", "fleet-reset-1")
		require.Equal(t, http.StatusCreated, first.status, first.raw)
		retry := f.call(t, http.MethodPost, "/user_management/password_reset", body, "Idempotency-Key", "fleet-reset-1")
		require.Equal(t, http.StatusCreated, retry.status, retry.raw)
		served := f.since(mark)
		require.NotEqual(t, served[0], served[1], "the retry reached another instance")
		require.Equal(t, first.raw, retry.raw, "the first answer, byte for byte")
		require.Equal(t, "true", retry.header.Get("Idempotent-Replayed"))

		// Concurrent repeats of another key, spread over the instances:
		// one reset, one answer.
		const n = 9
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				answers[i] = f.call(t, http.MethodPost, "/user_management/password_reset", body, "Idempotency-Key", "fleet-reset-2")
			})
		}
		wg.Wait()
		for _, a := range answers {
			require.Equal(t, http.StatusCreated, a.status, a.raw)
			require.Equal(t, answers[0].raw, a.raw)
		}
		require.NotEqual(t, first.body["id"], answers[0].body["id"])

		// The second reset ended the first; its token is the one that
		// works, and its confirmation's retry on another instance gets the
		// same 200.
		confirm := map[string]any{"token": answers[0].body["password_reset_token"], "new_password": "a much better passphrase"}
		ok := f.call(t, http.MethodPost, "/user_management/password_reset/confirm", confirm, "Idempotency-Key", "fleet-confirm-1")
		require.Equal(t, http.StatusOK, ok.status, ok.raw)
		again := f.call(t, http.MethodPost, "/user_management/password_reset/confirm", confirm, "Idempotency-Key", "fleet-confirm-1")
		require.Equal(t, http.StatusOK, again.status, "not \"token already used\": %s", again.raw)
		require.Equal(t, ok.raw, again.raw)
		ended := f.call(t, http.MethodPost, "/user_management/password_reset/confirm",
			map[string]any{"token": first.body["password_reset_token"], "new_password": "another passphrase"})
		requireCode(t, ended, http.StatusBadRequest, "password_reset_error")
	})

	t.Run("PerAddressLimitAcrossInstances", func(t *testing.T) {
		const email = "carol@example.com"
		f.createUser(t, email, "correct horse battery")
		mark := f.mark()
		for i := range 6 {
			a := f.call(t, http.MethodPost, "/user_management/password_reset", map[string]any{"email": email})
			if i < 3 {
				require.Equal(t, http.StatusCreated, a.status, "request %d: %s", i+1, a.raw)
				continue
			}
			requireCode(t, a, http.StatusTooManyRequests, "rate_limit_exceeded")
			require.NotEmpty(t, a.header.Get("Retry-After"))
		}
		requireHopping(t, f.since(mark), 3)
		// Each instance refused one request: the count is the database's.
		refused := 0
		for _, p := range f.procs {
			refused += len(lines(p.out.String(), `"path":"/user_management/password_reset","status":429`))
		}
		require.Equal(t, 3, refused)
	})

	// Nothing of a token or a password reached any instance's log.
	for _, p := range f.procs {
		require.NotContains(t, p.out.String(), "correct horse battery", p.name)
		require.False(t, strings.Contains(p.out.String(), "password_reset_token"), p.name)
	}
}
