package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/examples/internal/appkey"
	"github.com/passreset/passreset/internal/testfix"
)

const (
	testKey     = "sk_test_apiserver_key_0123456789abcdef"
	email       = "marcelina.davis@example.com"
	oldPassword = "correct horse battery"
	newPassword = "a much better passphrase"
)

// TestMain runs main itself when asked to, so that a test can start the
// real command as a child process and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("APISERVER_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveApp builds the app as run does, from args and env, and serves it on
// a test server until t ends; it returns the server's URL.
func serveApp(t *testing.T, args []string, env func(string) string) string {
	t.Helper()
	o, err := parseOptions(args, env, io.Discard)
	require.NoError(t, err)
	a, err := newApp(t.Context(), o, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

func getenv(key string) func(string) string {
	return func(name string) string {
		if name == apiKeyEnv {
			return key
		}
		return ""
	}
}

func TestRefusesToStartWithoutAPIKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	for _, key := range []string{"", " ", " , "} {
		err := run(t.Context(), []string{"-db", db}, getenv(key), io.Discard)
		require.ErrorContains(t, err, "RESET_API_KEY is not set")
	}
	require.NoFileExists(t, db, "nothing is opened before the key is checked")

	o, err := parseOptions([]string{"-addr", "127.0.0.1:9", "-db", db}, getenv(" sk_a , sk_b "), io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"sk_a", "sk_b"}, o.apiKeys, "several keys, for rotation")
	_, err = parseOptions([]string{"extra"}, getenv("k"), io.Discard)
	require.Error(t, err)
}

// TestSecretKeyFromTheEnvironment: PASSRESET_SECRET_KEY is read in hex or
// base64 (appkey.Load); a bad one stops the server, never quoted; a
// Postgres database without one is refused before anything is opened.
func TestSecretKeyFromTheEnvironment(t *testing.T) {
	env := func(secret string) func(string) string {
		return func(name string) string {
			switch name {
			case apiKeyEnv:
				return testKey
			case appkey.Env:
				return secret
			}
			return ""
		}
	}
	hexKey := strings.Repeat("5a", 32)
	err := run(t.Context(), []string{"-db", filepath.Join(t.TempDir(), "k.db")}, env("not a key, and secret"), io.Discard)
	require.ErrorContains(t, err, appkey.Env)
	require.NotContains(t, err.Error(), "not a key, and secret")

	pg := []string{"-db", "postgres://app@127.0.0.1:1/app"}
	err = run(t.Context(), pg, env(""), io.Discard)
	require.ErrorContains(t, err, appkey.Env+" is not set")
	key, _, err := appkey.Load(env(hexKey), pg[1])
	require.NoError(t, err)
	require.Equal(t, bytes.Repeat([]byte{0x5a}, 32), key)
}

// client calls the API of a test server.
type client struct {
	t   *testing.T
	url string
}

// resetReplayed asks for a reset of email twice under one Idempotency-Key,
// checks that the second answer replays the first, token included, and
// returns the first.
func (c client) resetReplayed(email string) map[string]any {
	c.t.Helper()
	idem := map[string]string{"Idempotency-Key": "reset-1"}
	status, _, pr := c.callWith("POST", "/user_management/password_reset", map[string]any{"email": email}, idem)
	require.Equal(c.t, http.StatusCreated, status, pr)
	status, hdr, again := c.callWith("POST", "/user_management/password_reset", map[string]any{"email": email}, idem)
	require.Equal(c.t, http.StatusCreated, status, again)
	require.Equal(c.t, "true", hdr.Get("Idempotent-Replayed"))
	require.Equal(c.t, pr["password_reset_token"], again["password_reset_token"])
	return pr
}

func (c client) call(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	status, _, out := c.callWith(method, path, body, nil)
	return status, out
}

// callWith is call with extra headers, returning the answer's headers too.
func (c client) callWith(method, path string, body any, header map[string]string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, r)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	require.Equal(c.t, "application/json", res.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(c.t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, res.Header, out
}

// TestFlowLeavesNoSecretInTheDatabase runs every route against the app
// main builds, on SQLite, then reads the database files byte by byte: no
// token, password or API key is in them, nor in the log.
func TestFlowLeavesNoSecretInTheDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "api.db")
	logs := new(testfix.Buffer)
	// Every line, debug included.
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o, err := parseOptions([]string{"-db", db, "-bcrypt-cost", "4"}, getenv(testKey), io.Discard)
	require.NoError(t, err)
	a, err := newApp(t.Context(), o, logger)
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	c := client{t, srv.URL}

	status, user := c.call("POST", "/user_management/users", map[string]any{"email": email, "password": oldPassword, "first_name": "Marcelina"})
	require.Equal(t, http.StatusCreated, status, user)
	uid := user["id"].(string)
	oldHash, err := a.db.PasswordHash(t.Context(), uid)
	require.NoError(t, err)

	status, auth := c.call("POST", "/user_management/authenticate", map[string]any{
		"client_id": "client_1", "client_secret": testKey, "grant_type": "password", "email": email, "password": oldPassword})
	require.Equal(t, http.StatusOK, status, auth)
	require.NotNil(t, auth["user"].(map[string]any)["last_sign_in_at"], "the sign-in was recorded")
	status, refreshed := c.call("POST", "/user_management/authenticate", map[string]any{
		"client_id": "client_1", "client_secret": testKey, "grant_type": "refresh_token", "refresh_token": auth["refresh_token"]})
	require.Equal(t, http.StatusOK, status, refreshed)

	// Under an Idempotency-Key, the answer, token included, is kept in the
	// database for a retry: sealed.
	pr := c.resetReplayed(email)
	token := pr["password_reset_token"].(string)
	require.NotEmpty(t, a.mailbox.Messages(), "the dev transport kept the email")
	status, got := c.call("GET", "/user_management/password_reset/"+pr["id"].(string), nil)
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, got, "password_reset_token")

	status, confirmed := c.call("POST", "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": newPassword})
	require.Equal(t, http.StatusOK, status, confirmed)
	require.Equal(t, uid, confirmed["user"].(map[string]any)["id"])

	// The reset revoked the session: its refresh token is dead and the
	// list shows it revoked.
	status, dead := c.call("POST", "/user_management/authenticate", map[string]any{
		"client_secret": testKey, "grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", dead["error"])
	status, after := c.call("POST", "/user_management/authenticate", map[string]any{
		"client_secret": testKey, "grant_type": "password", "email": email, "password": newPassword})
	require.Equal(t, http.StatusOK, status, after)
	status, list := c.call("GET", "/user_management/users/"+uid+"/sessions", nil)
	require.Equal(t, http.StatusOK, status)
	data := list["data"].([]any)
	require.Len(t, data, 2)
	require.Equal(t, "active", data[0].(map[string]any)["status"])
	require.Equal(t, "revoked", data[1].(map[string]any)["status"])
	status, _ = c.call("POST", "/user_management/sessions/revoke", map[string]any{"session_id": data[0].(map[string]any)["id"]})
	require.Equal(t, http.StatusOK, status)

	secrets := map[string]string{
		"old password": oldPassword, "new password": newPassword, "reset token": token, "API key": testKey,
		"refresh token 1": auth["refresh_token"].(string), "refresh token 2": refreshed["refresh_token"].(string),
		"refresh token 3": after["refresh_token"].(string), "access token": auth["access_token"].(string),
		"access token 3": after["access_token"].(string),
	}
	requireNoSecrets := func(when string) {
		t.Helper()
		files, err := filepath.Glob(db + "*") // the database, -wal and -shm
		require.NoError(t, err)
		require.Contains(t, files, db)
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			all = append(all, b...)
		}
		require.Contains(t, string(all), email, "%s: the files hold the data (a sanity check of the search)", when)
		for name, s := range secrets {
			require.NotContains(t, string(all), s, "%s: the %s is in the database files", when, name)
		}
	}
	requireNoSecrets("while open")
	newHash, err := a.db.PasswordHash(t.Context(), uid)
	require.NoError(t, err)
	secrets["old password hash"], secrets["new password hash"] = oldHash, newHash // for the log only: the database holds them
	srv.Close()
	require.NoError(t, a.Close())
	closed = true
	delete(secrets, "old password hash")
	delete(secrets, "new password hash")
	requireNoSecrets("after close")
	secrets["old password hash"], secrets["new password hash"] = oldHash, newHash

	// The log has a line per request, and no secret either.
	log := logs.String()
	require.Contains(t, log, `"msg":"request","method":"POST","path":"/user_management/password_reset/confirm","status":200`)
	for name, s := range secrets {
		require.NotContains(t, log, s, "the %s is in the log", name)
	}
}

// TestClientLimit checks the limit per client of the reset routes in the
// app main builds: the 61st request in a minute from one client is 429 with
// Retry-After, and with -trusted-proxies the clients a proxy forwards are
// told apart.
func TestClientLimit(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		args := []string{"-db", filepath.Join(t.TempDir(), "limit.db"), "-bcrypt-cost", "4"}
		if trusted {
			args = append(args, "-trusted-proxies", "127.0.0.0/8, ::1", "-client-header", "X-Forwarded-For")
		}
		url := serveApp(t, args, getenv(testKey))

		ask := func(i int, forwardedFor string) (int, string) {
			b, err := json.Marshal(map[string]any{"email": fmt.Sprintf("nobody%d@example.com", i)})
			require.NoError(t, err)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/user_management/password_reset", bytes.NewReader(b))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", forwardedFor)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			return res.StatusCode, res.Header.Get("Retry-After")
		}
		// Ask until refused: the bucket refills one a second meanwhile.
		start, allowed := time.Now(), 0
		status, retry := ask(0, "198.51.100.1")
		for ; status == http.StatusNotFound && allowed < 1000; status, retry = ask(allowed, "198.51.100.1") {
			allowed++
		}
		require.Equal(t, http.StatusTooManyRequests, status)
		require.Equal(t, "1", retry)
		require.GreaterOrEqual(t, allowed, 60, "a burst of 60")
		require.LessOrEqual(t, allowed, 61+int(time.Since(start)/time.Second), "and one more a second")
		// Another address in X-Forwarded-For: behind a trusted proxy, a
		// client of its own, with a burst of 60; from an untrusted peer,
		// the same client, whose bucket only refills one a second (the
		// bound holds on a slow machine too).
		start, other := time.Now(), 0
		for status, _ = ask(0, "198.51.100.2"); status == http.StatusNotFound && other < 1000; status, _ = ask(other, "198.51.100.2") {
			other++
		}
		require.Equal(t, http.StatusTooManyRequests, status)
		if trusted {
			require.GreaterOrEqual(t, other, 60, "another client behind the trusted proxy has a burst of its own")
		} else {
			require.LessOrEqual(t, other, 1+int(time.Since(start)/time.Second), "an untrusted peer's X-Forwarded-For is ignored")
		}
	}
	_, err := parseOptions([]string{"-trusted-proxies", "proxy.internal", "-client-header", "X-Forwarded-For"}, getenv(testKey), io.Discard)
	require.ErrorContains(t, err, "-trusted-proxies")
	_, err = parseOptions([]string{"-trusted-proxies", "127.0.0.1"}, getenv(testKey), io.Discard)
	require.ErrorContains(t, err, "-trusted-proxies needs -client-header")
	_, err = parseOptions([]string{"-client-header", "X-Real-IP"}, getenv(testKey), io.Discard)
	require.ErrorContains(t, err, "-client-header needs -trusted-proxies")
	_, err = parseOptions([]string{"-trusted-proxies", "127.0.0.1", "-client-header", "X-Client-IP"}, getenv(testKey), io.Discard)
	require.ErrorContains(t, err, "-client-header")
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunShutsDownWhenDone serves with run and stops it by its context,
// as main's signal handling does.
func TestRunShutsDownWhenDone(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	logs := new(testfix.Buffer)
	done := make(chan error, 1)
	db := filepath.Join(t.TempDir(), "run.db")
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-db", db, "-bcrypt-cost", "4"}, getenv(testKey), logs)
	}()
	waitUp(t, "http://"+addr+"/")
	status, body := client{t, "http://" + addr}.call("GET", "/user_management/users/user_nope", nil)
	require.Equal(t, http.StatusNotFound, status, body)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return")
	}
	require.Contains(t, logs.String(), `"msg":"apiserver: shutting down"`)
	require.Contains(t, logs.String(), `"path":"/user_management/users/user_nope","status":404`)
	require.NotContains(t, logs.String(), testKey)
	_, err := http.Get("http://" + addr + "/")
	require.Error(t, err, "the listener is closed")

	// Without PASSRESET_SECRET_KEY, the key lives beside the database,
	// readable by its owner only, for the next start.
	fi, err := os.Stat(db + ".key")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Contains(t, logs.String(), `"msg":"apiserver: secret key","source":"made and kept in `+db+`.key`)
}

func TestSMTPFlags(t *testing.T) {
	env := func(name string) string {
		return map[string]string{apiKeyEnv: testKey, "PASSRESET_SMTP_PASSWORD": "mail secret"}[name]
	}
	o, err := parseOptions([]string{"-smtp", "127.0.0.1:2525", "-smtp-tls", "none", "-smtp-user", "app"}, env, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2525", o.smtp)
	require.Equal(t, "none", o.smtpTLS)
	require.Equal(t, "mail secret", o.smtpPassword)
	_, err = parseOptions([]string{"-smtp", "no-port"}, env, io.Discard)
	require.ErrorContains(t, err, "-smtp")
	_, err = parseOptions([]string{"-smtp", "127.0.0.1:2525", "-smtp-tls", "maybe"}, env, io.Discard)
	require.ErrorContains(t, err, "-smtp-tls")
}

// TestSignalsStopTheServer starts the command itself in a child process and
// sends it SIGTERM, then SIGINT: each time it exits cleanly.
func TestSignalsStopTheServer(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			addr := freeAddr(t)
			var out testfix.Buffer
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-addr", addr, "-db", filepath.Join(t.TempDir(), "sig.db"))
			cmd.Env = append(os.Environ(), "APISERVER_TEST_RUN_MAIN=1", apiKeyEnv+"="+testKey)
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			waitUp(t, "http://"+addr+"/")
			require.NoError(t, cmd.Process.Signal(sig))
			err := cmd.Wait()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Fatalf("exit %d: %s", exit.ExitCode(), out.String())
			}
			require.NoError(t, err, out.String())
			require.True(t, strings.Contains(out.String(), `"msg":"apiserver: stopped"`), out.String())
		})
	}
}
