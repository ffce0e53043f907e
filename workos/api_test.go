package workos_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/workos"
)

func TestNewNamesMissingParts(t *testing.T) {
	e := newEnv(t)
	for name, cfg := range map[string]workos.Config{
		"Config.Service":        {Sessions: e.sm, APIKeys: []string{apiKey}},
		"Config.Sessions":       {Service: e.svc, APIKeys: []string{apiKey}},
		"Config.APIKeys":        {Service: e.svc, Sessions: e.sm},
		"Config.APIKeys[1]":     {Service: e.svc, Sessions: e.sm, APIKeys: []string{apiKey, " "}},
		"Config.AccessTokenKey": {Service: e.svc, Sessions: e.sm, APIKeys: []string{apiKey}, AccessTokenKey: []byte("short")},
	} {
		_, err := workos.New(cfg)
		require.ErrorContains(t, err, name)
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	path := "/user_management/users/" + uid

	for name, key := range map[string]*string{"none": ptr(""), "wrong": ptr("sk_test_wrong"), "prefix": ptr(apiKey[:5])} {
		r := e.do(t, req{method: http.MethodGet, path: path, key: key})
		requireError(t, r, http.StatusUnauthorized, "unauthorized")
		require.Equal(t, `Bearer realm="passreset"`, r.header.Get("WWW-Authenticate"), name)
	}
	// Both keys work, for rotation, and the scheme is case-insensitive.
	require.Equal(t, http.StatusOK, e.do(t, req{method: http.MethodGet, path: path, key: ptr(otherKey)}).status)
	r := e.do(t, req{method: http.MethodGet, path: path, key: ptr(""), header: map[string]string{"Authorization": "bearer " + apiKey}})
	require.Equal(t, http.StatusOK, r.status)
	r = e.do(t, req{method: http.MethodGet, path: path, key: ptr(""), header: map[string]string{"Authorization": "Basic " + apiKey}})
	require.Equal(t, http.StatusUnauthorized, r.status)

	// Unknown routes: 401 without a key, 404 {message} with one; a known
	// path with another method is 405 with Allow.
	requireError(t, e.do(t, req{method: http.MethodGet, path: "/nope", key: ptr("")}), http.StatusUnauthorized, "unauthorized")
	requireError(t, e.get(t, "/nope"), http.StatusNotFound, "")
	requireError(t, e.get(t, "/user_management/users/"), http.StatusNotFound, "")
	r = e.do(t, req{method: http.MethodDelete, path: "/user_management/password_reset"})
	requireError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "POST", r.header.Get("Allow"))
	r = e.get(t, "/user_management/password_reset/confirm") // a reset with id "confirm"
	requireError(t, r, http.StatusNotFound, "")

	// Every answer carries a request id and is not to be cached.
	require.True(t, strings.HasPrefix(r.header.Get("X-Request-ID"), "req_"))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
}

func TestAuthenticateTakesTheKeyFromClientSecret(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	body := func(secret string) map[string]any {
		b := map[string]any{"client_id": "client_123", "grant_type": "password", "email": userEmail, "password": oldPassword}
		if secret != "" {
			b["client_secret"] = secret
		}
		return b
	}
	path := "/user_management/authenticate"
	// The key in the body alone (as the SDKs send it), or the header alone.
	require.Equal(t, http.StatusOK, e.do(t, req{method: http.MethodPost, path: path, key: ptr(""), body: body(apiKey)}).status)
	require.Equal(t, http.StatusOK, e.do(t, req{method: http.MethodPost, path: path, key: ptr(""), body: body(otherKey)}).status)
	require.Equal(t, http.StatusOK, e.do(t, req{method: http.MethodPost, path: path, body: body("")}).status)
	// A wrong client_secret is OAuth's invalid_client; no key at all is 401.
	r := e.do(t, req{method: http.MethodPost, path: path, key: ptr(""), body: body("sk_test_wrong")})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "invalid_client", r.body["error"])
	require.NotEmpty(t, r.body["error_description"])
	requireError(t, e.do(t, req{method: http.MethodPost, path: path, key: ptr(""), body: body("")}), http.StatusUnauthorized, "unauthorized")
	// client_secret is no key for other routes.
	r = e.do(t, req{method: http.MethodPost, path: "/user_management/password_reset", key: ptr(""), body: map[string]any{"email": userEmail, "client_secret": apiKey}})
	requireError(t, r, http.StatusUnauthorized, "unauthorized")
}

func TestCreatePasswordReset(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)

	r := e.post(t, "/user_management/password_reset", map[string]any{"email": "  Marcelina.Davis@Example.com ", "unknown_field": []int{1}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	require.Equal(t, "password_reset", r.body["object"])
	require.True(t, strings.HasPrefix(r.body["id"].(string), "password_reset_"))
	require.Equal(t, uid, r.body["user_id"])
	require.Equal(t, userEmail, r.body["email"])
	require.Equal(t, "2026-01-15T12:00:00.000Z", r.body["created_at"])
	require.Equal(t, "2026-01-15T12:15:00.000Z", r.body["expires_at"])
	token := r.body["password_reset_token"].(string)
	require.Len(t, token, 43)
	link, err := url.Parse(r.body["password_reset_url"].(string))
	require.NoError(t, err)
	require.Equal(t, token, link.Query().Get("token"))

	// The email went out with the same link.
	m, ok := e.mail.Last()
	require.True(t, ok)
	require.Equal(t, userEmail, m.To)
	require.Contains(t, m.Text, token)

	requireError(t, e.post(t, "/user_management/password_reset", map[string]any{"email": "nobody@example.com"}), http.StatusNotFound, "")
	for _, body := range []any{
		map[string]any{},
		map[string]any{"email": nil},
		map[string]any{"email": ""},
		map[string]any{"email": "not an email"},
		map[string]any{"email": "Marcelina <marcelina.davis@example.com>"},
		map[string]any{"email": 42},
		map[string]any{"email": []string{userEmail}},
		`[]`, `"x"`, `null`, ``,
	} {
		requireError(t, e.post(t, "/user_management/password_reset", body), http.StatusUnprocessableEntity, "invalid_request_parameters")
	}
	for _, body := range []string{`{`, `{"email":}`, `{"email":"a@b.c"} trailing`, `{"email":"a@b.c"}{}`, "\xff"} {
		requireError(t, e.post(t, "/user_management/password_reset", body), http.StatusBadRequest, "invalid_json")
	}
}

func TestCreatePasswordResetRateLimit(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	for range 3 {
		e.createReset(t, userEmail)
		e.clock.Add(time.Minute)
	}
	r := e.post(t, "/user_management/password_reset", map[string]any{"email": userEmail})
	requireError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
	// The oldest request leaves the 15-minute window 12 minutes from now.
	require.Equal(t, strconv.Itoa(12*60), r.header.Get("Retry-After"))
	e.clock.Add(12 * time.Minute)
	e.createReset(t, userEmail)
}

func TestGetPasswordReset(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	id, _ := e.createReset(t, userEmail)

	r := e.get(t, "/user_management/password_reset/"+id)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, map[string]any{
		"object": "password_reset", "id": id, "user_id": uid, "email": userEmail,
		"created_at": "2026-01-15T12:00:00.000Z", "expires_at": "2026-01-15T12:15:00.000Z",
	}, r.body, "no token or URL: only their hash is stored")

	requireError(t, e.get(t, "/user_management/password_reset/password_reset_01E4ZCR3C56J083X43JQXF3JK5"), http.StatusNotFound, "")
	requireError(t, e.get(t, "/user_management/password_reset/%00%ff"), http.StatusNotFound, "")
	requireError(t, e.get(t, "/user_management/password_reset/"+strings.Repeat("x", 5000)), http.StatusNotFound, "")
}

func TestConfirmPasswordReset(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) { testConfirmPasswordReset(t, newEnvOn(t, newStore(t))) })
	}
}

func testConfirmPasswordReset(t *testing.T, e *env) {
	uid := e.createUser(t, userEmail)
	laptop := e.signIn(t, userEmail, oldPassword)
	phone := e.signIn(t, userEmail, oldPassword)
	_, token := e.createReset(t, userEmail)
	e.clock.Add(time.Minute)

	r := e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": newPassword})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Len(t, r.body, 1)
	user := r.body["user"].(map[string]any)
	require.Equal(t, uid, user["id"])
	require.Equal(t, true, user["email_verified"], "a reset verifies the email")
	require.Equal(t, "2026-01-15T12:01:00.000Z", user["updated_at"])

	// Only the new password signs in.
	r = e.post(t, "/user_management/authenticate", map[string]any{"client_secret": apiKey, "grant_type": "password", "email": userEmail, "password": oldPassword})
	requireError(t, r, http.StatusBadRequest, "invalid_credentials")
	e.signIn(t, userEmail, newPassword)

	// Every earlier session is revoked: refresh tokens and access tokens
	// stop working, and the list shows them revoked.
	for _, s := range []map[string]any{laptop, phone} {
		r := e.refresh(t, s["refresh_token"].(string))
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, "invalid_grant", r.body["error"])
		_, err := e.h.ValidateAccessToken(t.Context(), s["access_token"].(string))
		require.ErrorIs(t, err, workos.ErrInvalidAccessToken)
	}
	list := e.get(t, "/user_management/users/"+uid+"/sessions")
	require.Equal(t, http.StatusOK, list.status)
	statuses := map[string]int{}
	for _, s := range list.body["data"].([]any) {
		s := s.(map[string]any)
		statuses[s["status"].(string)]++
		if s["status"] == "revoked" {
			require.Equal(t, "2026-01-15T12:01:00.000Z", s["ended_at"])
		}
	}
	require.Equal(t, map[string]int{"revoked": 2, "active": 1}, statuses)

	// The token works once.
	r = e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": "yet another passphrase"})
	require.Equal(t, []string{"password_reset_token_invalid"}, requireResetError(t, r))
}

func TestConfirmPasswordResetErrors(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	_, token := e.createReset(t, userEmail)
	confirm := func(body any) resp { return e.post(t, "/user_management/password_reset/confirm", body) }

	for _, tok := range []string{"nope", strings.Repeat("A", 43), token + "x", " " + token} {
		r := confirm(map[string]any{"token": tok, "new_password": newPassword})
		require.Equal(t, []string{"password_reset_token_invalid"}, requireResetError(t, r), tok)
	}
	for _, body := range []any{
		map[string]any{"new_password": newPassword},
		map[string]any{"token": token},
		map[string]any{"token": token, "new_password": ""},
		map[string]any{"token": 1, "new_password": newPassword},
		map[string]any{"token": token, "new_password": true},
		`[{"token":"x"}]`,
	} {
		requireError(t, confirm(body), http.StatusUnprocessableEntity, "invalid_request_parameters")
	}

	// A password the policy refuses: one error per reason, and the token
	// is not spent.
	r := confirm(map[string]any{"token": token, "new_password": "short"})
	require.Equal(t, []string{"password_too_weak"}, requireResetError(t, r))
	require.Contains(t, string(r.raw), "at least 8 characters")
	r = confirm(map[string]any{"token": token, "new_password": strings.Repeat("é", 40)})
	require.Equal(t, []string{"password_too_weak"}, requireResetError(t, r))
	r = confirm(map[string]any{"token": token, "new_password": userEmail})
	require.Equal(t, []string{"password_too_weak"}, requireResetError(t, r))

	// An expired token.
	e.clock.Add(15 * time.Minute)
	r = confirm(map[string]any{"token": token, "new_password": newPassword})
	require.Equal(t, []string{"password_reset_token_expired"}, requireResetError(t, r))
}

// failingRevoker fails every revocation, as a host's session store that is
// down would.
type failingRevoker struct{}

func (failingRevoker) RevokeUserSessions(context.Context, string) error {
	return errors.New("session cache unreachable")
}

func TestConfirmWhenSessionRevocationFails(t *testing.T) {
	e := newEnv(t, func(rc *reset.Config, _ *workos.Config) { rc.Sessions = failingRevoker{} })
	uid := e.createUser(t, userEmail)
	_, token := e.createReset(t, userEmail)
	r := e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": newPassword})
	require.Equal(t, http.StatusOK, r.status, "the password was changed: %s", r.raw)
	require.Equal(t, uid, r.body["user"].(map[string]any)["id"])
	require.Contains(t, e.logs.String(), "sessions not revoked")
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	r := e.post(t, "/user_management/users", map[string]any{
		"email": "Marcelina.Davis@example.com", "password": oldPassword,
		"first_name": "Marcelina", "last_name": "Davis", "name": "ignored",
		"email_verified": true, "external_id": "f1ffa2b2-c20b-4d39-be5c-212726e11222",
		"metadata": map[string]string{"timezone": "America/New_York"}, "ip_address": "203.0.113.42",
	})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	id := r.body["id"].(string)
	require.True(t, strings.HasPrefix(id, "user_"))
	require.Equal(t, map[string]any{
		"object": "user", "id": id, "email": userEmail, "email_verified": true,
		"first_name": "Marcelina", "last_name": "Davis", "name": "Marcelina Davis",
		"profile_picture_url": nil, "external_id": "f1ffa2b2-c20b-4d39-be5c-212726e11222",
		"locale": nil, "metadata": map[string]any{"timezone": "America/New_York"},
		"last_sign_in_at": nil, "created_at": "2026-01-15T12:00:00.000Z", "updated_at": "2026-01-15T12:00:00.000Z",
	}, r.body)
	require.Equal(t, r.body, e.get(t, "/user_management/users/"+id).body)

	// Without a password, with nulls: a user who cannot sign in yet.
	r = e.post(t, "/user_management/users", map[string]any{"email": "n@example.com", "first_name": nil, "metadata": nil, "email_verified": nil, "password": nil})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	require.Equal(t, false, r.body["email_verified"])
	require.Equal(t, map[string]any{}, r.body["metadata"])
	requireError(t, e.post(t, "/user_management/authenticate", map[string]any{"grant_type": "password", "email": "n@example.com", "password": "anything at all"}),
		http.StatusBadRequest, "invalid_credentials")

	// The email is taken, without regard to case.
	r = e.post(t, "/user_management/users", map[string]any{"email": "MARCELINA.DAVIS@example.com", "password": oldPassword})
	requireError(t, r, http.StatusBadRequest, "user_creation_error")
	require.Contains(t, string(r.raw), `"code":"email_not_available"`)

	r = e.post(t, "/user_management/users", map[string]any{"email": "w@example.com", "password": "short"})
	requireError(t, r, http.StatusBadRequest, "password_strength_error")
	require.Contains(t, string(r.raw), `"code":"password_too_weak"`)

	tooMany := map[string]string{}
	for i := range 51 {
		tooMany["k"+strconv.Itoa(i)] = "v"
	}
	for name, body := range map[string]any{
		"missing email":       map[string]any{"password": oldPassword},
		"bad email":           map[string]any{"email": "nope"},
		"email type":          map[string]any{"email": 1},
		"first_name type":     map[string]any{"email": "x@example.com", "first_name": 1},
		"email_verified type": map[string]any{"email": "x@example.com", "email_verified": "yes"},
		"metadata type":       map[string]any{"email": "x@example.com", "metadata": []string{"a"}},
		"metadata value type": map[string]any{"email": "x@example.com", "metadata": map[string]any{"a": 1}},
		"metadata keys":       map[string]any{"email": "x@example.com", "metadata": tooMany},
		"metadata key length": map[string]any{"email": "x@example.com", "metadata": map[string]string{strings.Repeat("k", 41): "v"}},
		"metadata value len":  map[string]any{"email": "x@example.com", "metadata": map[string]string{"k": strings.Repeat("v", 601)}},
		"metadata NUL":        map[string]any{"email": "x@example.com", "metadata": map[string]string{"k": "a\x00b"}},
		"external_id length":  map[string]any{"email": "x@example.com", "external_id": strings.Repeat("x", 129)},
		"external_id ASCII":   map[string]any{"email": "x@example.com", "external_id": "é"},
		"name NUL":            map[string]any{"email": "x@example.com", "first_name": "a\x00"},
		"password_hash":       map[string]any{"email": "x@example.com", "password_hash": "$2a$10$abc", "password_hash_type": "bcrypt"},
		"array body":          `[]`,
	} {
		r := e.post(t, "/user_management/users", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, name)
		requireError(t, r, http.StatusUnprocessableEntity, "invalid_request_parameters")
	}
	// The limits themselves are accepted.
	atLimit := map[string]string{}
	for i := range 50 {
		atLimit[strconv.Itoa(i)+strings.Repeat("k", 38)] = strings.Repeat("é", 600)
	}
	r = e.post(t, "/user_management/users", map[string]any{"email": "limits@example.com", "external_id": strings.Repeat("x", 128), "metadata": atLimit})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
}

func TestGetUser(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	r := e.get(t, "/user_management/users/"+uid)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, uid, r.body["id"])
	requireError(t, e.get(t, "/user_management/users/user_01E4ZCR3C56J083X43JQXF3JK5"), http.StatusNotFound, "")
	require.Contains(t, e.get(t, "/user_management/users/user_x").body["message"], "user_x")
}

func TestAuthenticatePassword(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	e.clock.Add(time.Second)
	body := e.signIn(t, "  MARCELINA.davis@example.com", oldPassword)

	require.Equal(t, "Password", body["authentication_method"])
	user := body["user"].(map[string]any)
	require.Equal(t, uid, user["id"])
	require.Equal(t, "2026-01-15T12:00:01.000Z", user["last_sign_in_at"])
	require.Len(t, body["refresh_token"], 43)

	// The access token validates to the new session, which carries the
	// client's IP address and user agent from the body.
	s, err := e.h.ValidateAccessToken(t.Context(), body["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, uid, s.UserID)
	require.Equal(t, "203.0.113.42", s.IPAddress)
	require.Equal(t, "Mozilla/5.0", s.UserAgent)

	path := "/user_management/authenticate"
	for _, b := range []map[string]any{
		{"grant_type": "password", "email": userEmail, "password": "wrong password"},
		{"grant_type": "password", "email": "nobody@example.com", "password": oldPassword},
		{"grant_type": "password", "email": "not an email", "password": oldPassword},
	} {
		requireError(t, e.post(t, path, b), http.StatusBadRequest, "invalid_credentials")
	}
	for _, b := range []any{
		map[string]any{"email": userEmail, "password": oldPassword},
		map[string]any{"grant_type": "password", "password": oldPassword},
		map[string]any{"grant_type": "password", "email": userEmail},
		map[string]any{"grant_type": "password", "email": userEmail, "password": 12345678},
		map[string]any{"grant_type": "refresh_token"},
		map[string]any{"grant_type": 1},
	} {
		requireError(t, e.post(t, path, b), http.StatusUnprocessableEntity, "invalid_request_parameters")
	}
	r := e.post(t, path, map[string]any{"grant_type": "authorization_code", "code": "x"})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "unsupported_grant_type", r.body["error"])

	// An OAuth client may send a form.
	form := url.Values{"grant_type": {"password"}, "client_id": {"c"}, "client_secret": {apiKey}, "email": {userEmail}, "password": {oldPassword}}
	r = e.do(t, req{method: http.MethodPost, path: path, key: ptr(""), body: form.Encode(),
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, uid, r.body["user"].(map[string]any)["id"])
}

func TestAuthenticateRefreshToken(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	first := e.signIn(t, userEmail, oldPassword)
	e.clock.Add(time.Minute)

	r := e.refresh(t, first["refresh_token"].(string))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, uid, r.body["user"].(map[string]any)["id"])
	require.Equal(t, "Password", r.body["authentication_method"])
	second := r.body["refresh_token"].(string)
	require.NotEqual(t, first["refresh_token"], second)
	s1, err := e.h.ValidateAccessToken(t.Context(), first["access_token"].(string))
	require.NoError(t, err)
	s2, err := e.h.ValidateAccessToken(t.Context(), r.body["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, s1.ID, s2.ID, "a refresh continues the session")

	// The old refresh token is rotated away.
	r = e.refresh(t, first["refresh_token"].(string))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "invalid_grant", r.body["error"])
	for _, tok := range []string{"nope", strings.Repeat("A", 43)} {
		r = e.refresh(t, tok)
		require.Equal(t, "invalid_grant", r.body["error"])
	}

	// Once revoked, the session cannot be refreshed.
	require.Equal(t, http.StatusOK, e.post(t, "/user_management/sessions/revoke", map[string]any{"session_id": s1.ID}).status)
	r = e.refresh(t, second)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "invalid_grant", r.body["error"])
}

func TestValidateAccessToken(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	tok := e.signIn(t, userEmail, oldPassword)["access_token"].(string)
	_, err := e.h.ValidateAccessToken(t.Context(), tok)
	require.NoError(t, err)

	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	for name, bad := range map[string]string{
		"empty":        "",
		"garbage":      "a.b.c",
		"no signature": parts[0] + "." + parts[1],
		"bad sig":      parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-2] + "AA",
		"alg none":     "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		"other claims": parts[0] + ".eyJzaWQiOiJ4In0." + parts[2],
	} {
		_, err := e.h.ValidateAccessToken(t.Context(), bad)
		require.ErrorIs(t, err, workos.ErrInvalidAccessToken, name)
	}
	// Another Handler (another key) does not accept it.
	other, err := workos.New(workos.Config{Service: e.svc, Sessions: e.sm, APIKeys: []string{apiKey}})
	require.NoError(t, err)
	_, err = other.ValidateAccessToken(t.Context(), tok)
	require.ErrorIs(t, err, workos.ErrInvalidAccessToken)

	// It lasts five minutes.
	e.clock.Add(5*time.Minute - time.Second)
	_, err = e.h.ValidateAccessToken(t.Context(), tok)
	require.NoError(t, err)
	e.clock.Add(time.Second)
	_, err = e.h.ValidateAccessToken(t.Context(), tok)
	require.ErrorIs(t, err, workos.ErrInvalidAccessToken)
}

func TestListSessionsPagination(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) { testListSessionsPagination(t, newEnvOn(t, newStore(t))) })
	}
}

func testListSessionsPagination(t *testing.T, e *env) {
	uid := e.createUser(t, userEmail)
	otherUser := e.createUser(t, "other@example.com")
	_, _, err := e.sm.Create(t.Context(), otherUser, session.Metadata{})
	require.NoError(t, err)
	var ids []string // oldest first
	for i := range 25 {
		s, _, err := e.sm.Create(t.Context(), uid, session.Metadata{UserAgent: "device " + strconv.Itoa(i)})
		require.NoError(t, err)
		ids = append(ids, s.ID)
		if i%3 == 0 {
			e.clock.Add(time.Millisecond)
		}
	}
	desc := make([]string, len(ids))
	for i, id := range ids {
		desc[len(ids)-1-i] = id
	}
	base := "/user_management/users/" + uid + "/sessions"
	// Each page: the ids it lists, and its list_metadata cursors (nil: none).
	pages := []struct {
		query         string
		want          []string
		before, after any
	}{
		// The default: 10, newest first; "after" pages on.
		{"", desc[:10], nil, desc[9]},
		{"?order=desc&after=" + desc[9], desc[10:20], desc[10], desc[19]},
		{"?after=" + desc[19], desc[20:], desc[20], nil},
		// "before" pages back.
		{"?before=" + desc[20], desc[10:20], desc[10], desc[19]},
		{"?before=" + desc[10], desc[:10], nil, desc[9]},
		// Ascending.
		{"?order=asc&limit=7", ids[:7], nil, ids[6]},
		{"?order=asc&limit=7&after=" + ids[6], ids[7:14], ids[7], ids[13]},
		{"?order=asc&limit=7&before=" + ids[7], ids[:7], nil, ids[6]},
		// "normal": newest first, "before" fetches older ones.
		{"?order=normal&limit=10", desc[:10], desc[9], nil},
		{"?order=normal&limit=10&before=" + desc[9], desc[10:20], desc[19], desc[10]},
		{"?order=normal&limit=10&after=" + desc[10], desc[:10], desc[9], nil},
		// Everything at once, and nothing past the end.
		{"?limit=100", desc, nil, nil},
		{"?after=" + desc[24], nil, nil, nil},
	}
	for _, p := range pages {
		r := e.get(t, base+p.query)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, "list", r.body["object"])
		var got []string
		for _, s := range r.body["data"].([]any) {
			got = append(got, s.(map[string]any)["id"].(string))
		}
		require.Equal(t, p.want, got, p.query)
		md := r.body["list_metadata"].(map[string]any)
		require.Contains(t, md, "before")
		require.Contains(t, md, "after")
		require.Equal(t, p.before, md["before"], "list_metadata.before of %q", p.query)
		require.Equal(t, p.after, md["after"], "list_metadata.after of %q", p.query)
	}

	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?limit=-1", "?order=sideways", "?before=a&after=b"} {
		requireError(t, e.get(t, base+q), http.StatusUnprocessableEntity, "invalid_request_parameters")
	}
	requireError(t, e.get(t, "/user_management/users/user_unknown/sessions"), http.StatusNotFound, "")

	// A user with no sessions has an empty list, not null.
	uid2 := e.createUser(t, "lonely@example.com")
	r := e.get(t, "/user_management/users/"+uid2+"/sessions")
	require.Equal(t, `{"object":"list","data":[],"list_metadata":{"before":null,"after":null}}`, string(r.raw))
}

func TestSessionStatuses(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) { testSessionStatuses(t, newEnvOn(t, newStore(t))) })
	}
}

func testSessionStatuses(t *testing.T, e *env) {
	uid := e.createUser(t, userEmail)
	shortLived, err := session.New(session.Config{Store: e.store, Now: e.clock.Now, AbsoluteTimeout: time.Hour, IdleTimeout: -1})
	require.NoError(t, err)
	short, _, err := shortLived.Create(t.Context(), uid, session.Metadata{})
	require.NoError(t, err)
	e.clock.Add(time.Millisecond)
	revoked := e.signIn(t, userEmail, oldPassword)
	rs, err := e.h.ValidateAccessToken(t.Context(), revoked["access_token"].(string))
	require.NoError(t, err)
	e.clock.Add(time.Millisecond)
	active, _, err := e.sm.Create(t.Context(), uid, session.Metadata{})
	require.NoError(t, err)

	e.clock.Add(30 * time.Minute)
	require.Equal(t, http.StatusOK, e.post(t, "/user_management/sessions/revoke", map[string]any{"session_id": rs.ID}).status)
	e.clock.Add(30 * time.Minute)

	r := e.get(t, "/user_management/users/"+uid+"/sessions?order=asc")
	data := r.body["data"].([]any)
	require.Len(t, data, 3)
	byID := map[string]map[string]any{}
	for _, d := range data {
		byID[d.(map[string]any)["id"].(string)] = d.(map[string]any)
	}
	require.Equal(t, "expired", byID[short.ID]["status"])
	require.Equal(t, "2026-01-15T13:00:00.000Z", byID[short.ID]["ended_at"])
	require.Equal(t, "revoked", byID[rs.ID]["status"])
	require.Equal(t, "2026-01-15T12:30:00.002Z", byID[rs.ID]["ended_at"])
	require.Equal(t, "2026-01-15T12:30:00.002Z", byID[rs.ID]["updated_at"])
	require.Equal(t, "203.0.113.42", byID[rs.ID]["ip_address"])
	require.Equal(t, "Mozilla/5.0", byID[rs.ID]["user_agent"])
	require.Equal(t, "active", byID[active.ID]["status"])
	require.Nil(t, byID[active.ID]["ended_at"])
	require.Nil(t, byID[active.ID]["ip_address"])
	require.Nil(t, byID[active.ID]["user_agent"])
	for _, d := range byID {
		require.Equal(t, "password", d["auth_method"])
	}
}

func TestRevokeSession(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	body := e.signIn(t, userEmail, oldPassword)
	s, err := e.h.ValidateAccessToken(t.Context(), body["access_token"].(string))
	require.NoError(t, err)

	r := e.post(t, "/user_management/sessions/revoke", map[string]any{"session_id": s.ID})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "{}", string(r.raw))
	_, err = e.h.ValidateAccessToken(t.Context(), body["access_token"].(string))
	require.ErrorIs(t, err, workos.ErrInvalidAccessToken)
	require.Equal(t, "invalid_grant", e.refresh(t, body["refresh_token"].(string)).body["error"])
	// Revoking again is fine.
	require.Equal(t, http.StatusOK, e.post(t, "/user_management/sessions/revoke", map[string]any{"session_id": s.ID}).status)

	requireError(t, e.post(t, "/user_management/sessions/revoke", map[string]any{"session_id": "session_unknown"}), http.StatusBadRequest, "")
	requireError(t, e.post(t, "/user_management/sessions/revoke", map[string]any{}), http.StatusUnprocessableEntity, "invalid_request_parameters")
	requireError(t, e.post(t, "/user_management/sessions/revoke", map[string]any{"session_id": 7}), http.StatusUnprocessableEntity, "invalid_request_parameters")
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(_ *reset.Config, ac *workos.Config) { ac.MaxBodyBytes = 64 })
	r := e.post(t, "/user_management/password_reset", `{"email":"`+strings.Repeat("a", 100)+`@example.com"}`)
	requireError(t, r, http.StatusRequestEntityTooLarge, "request_too_large")
	r = e.post(t, "/user_management/password_reset", `{"email":"a@example.com"}`)
	requireError(t, r, http.StatusNotFound, "")

	// The default is 1 MiB.
	e = newEnv(t)
	r = e.post(t, "/user_management/users", `{"email":"a@example.com","first_name":"`+strings.Repeat("a", 1<<20)+`"}`)
	requireError(t, r, http.StatusRequestEntityTooLarge, "request_too_large")
}

// TestConcurrentConfirm redeems one token 20 times at once: exactly one
// succeeds.
func TestConcurrentConfirm(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) { testConcurrentConfirm(t, newEnvOn(t, newStore(t))) })
	}
}

func testConcurrentConfirm(t *testing.T, e *env) {
	e.createUser(t, userEmail)
	_, token := e.createReset(t, userEmail)

	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	codes := make([][]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": newPassword + strconv.Itoa(i)})
			statuses[i] = r.status
			if r.status == http.StatusBadRequest {
				codes[i] = requireResetError(t, r)
			}
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, s := range statuses {
		count[s]++
		if s == http.StatusBadRequest {
			require.Equal(t, []string{"password_reset_token_invalid"}, codes[i])
		}
	}
	require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusBadRequest: n - 1}, count)
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	withKey := func(path, key string, body any) resp {
		return e.do(t, req{method: http.MethodPost, path: path, body: body, header: map[string]string{"Idempotency-Key": key}})
	}
	user := map[string]any{"email": userEmail, "password": oldPassword}
	first := withKey("/user_management/users", "k1", user)
	require.Equal(t, http.StatusCreated, first.status)
	again := withKey("/user_management/users", "k1", user)
	require.Equal(t, first.status, again.status)
	require.Equal(t, string(first.raw), string(again.raw))
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Empty(t, first.header.Get("Idempotent-Replayed"))
	// Without the key, the same request runs again, and fails.
	requireError(t, e.post(t, "/user_management/users", user), http.StatusBadRequest, "user_creation_error")

	// The key with another body is refused; on another path it is another
	// key; so is it under another API key.
	requireError(t, withKey("/user_management/users", "k1", map[string]any{"email": "x@example.com"}), http.StatusUnprocessableEntity, "invalid_request_parameters")
	r := withKey("/user_management/password_reset", "k1", map[string]any{"email": userEmail})
	require.Equal(t, http.StatusCreated, r.status)
	r = e.do(t, req{method: http.MethodPost, path: "/user_management/users", body: user, key: ptr(otherKey), header: map[string]string{"Idempotency-Key": "k1"}})
	requireError(t, r, http.StatusBadRequest, "user_creation_error")

	// A confirmation whose answer was lost: the retry gets the 200 again,
	// not "token already used".
	_, token := e.createReset(t, userEmail)
	confirm := map[string]any{"token": token, "new_password": newPassword}
	first = withKey("/user_management/password_reset/confirm", "c1", confirm)
	require.Equal(t, http.StatusOK, first.status)
	again = withKey("/user_management/password_reset/confirm", "c1", confirm)
	require.Equal(t, http.StatusOK, again.status)
	require.Equal(t, string(first.raw), string(again.raw))
	require.Equal(t, []string{"password_reset_token_invalid"}, requireResetError(t, withKey("/user_management/password_reset/confirm", "c2", confirm)))

	// 429s are not kept: once the limit has passed, the retry runs.
	e2 := newEnv(t)
	e2.createUser(t, userEmail)
	for range 3 {
		e2.createReset(t, userEmail)
	}
	body := map[string]any{"email": userEmail}
	r = e2.do(t, req{method: http.MethodPost, path: "/user_management/password_reset", body: body, header: map[string]string{"Idempotency-Key": "r"}})
	require.Equal(t, http.StatusTooManyRequests, r.status)
	e2.clock.Add(15 * time.Minute)
	r = e2.do(t, req{method: http.MethodPost, path: "/user_management/password_reset", body: body, header: map[string]string{"Idempotency-Key": "r"}})
	require.Equal(t, http.StatusCreated, r.status)

	requireError(t, withKey("/user_management/users", strings.Repeat("k", 256), user), http.StatusUnprocessableEntity, "invalid_request_parameters")

	// Kept for 24 hours.
	e.clock.Add(24 * time.Hour)
	requireError(t, withKey("/user_management/users", "k1", user), http.StatusBadRequest, "user_creation_error")
}

func TestIdempotencyKeyConcurrentRepeats(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	const n = 10
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() {
			r := e.do(t, req{method: http.MethodPost, path: "/user_management/password_reset", body: map[string]any{"email": userEmail},
				header: map[string]string{"Idempotency-Key": "same"}})
			require.Equal(t, http.StatusCreated, r.status)
			bodies[i] = string(r.raw)
		})
	}
	wg.Wait()
	for _, b := range bodies {
		require.Equal(t, bodies[0], b, "one reset, one answer")
	}
	require.Equal(t, 1, e.mail.Len())
}

func TestIdempotencyOff(t *testing.T) {
	off := newEnv(t, func(_ *reset.Config, ac *workos.Config) { ac.IdempotencyTTL = -1 })
	body := map[string]any{"email": "a@example.com"}
	h := map[string]string{"Idempotency-Key": "a"}
	require.Equal(t, http.StatusCreated, off.do(t, req{method: http.MethodPost, path: "/user_management/users", body: body, header: h}).status)
	requireError(t, off.do(t, req{method: http.MethodPost, path: "/user_management/users", body: body, header: h}), http.StatusBadRequest, "user_creation_error")
}

func TestHEAD(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	r := e.do(t, req{method: http.MethodHead, path: "/user_management/users/" + uid})
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.raw)
}

// TestNoSecretsInLogs runs every route, failures included, and checks that
// no password, token or API key reached the log.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t, func(rc *reset.Config, _ *workos.Config) { rc.Sessions = failingRevoker{} })
	uid := e.createUser(t, userEmail)
	auth := e.signIn(t, userEmail, oldPassword)
	ref := e.refresh(t, auth["refresh_token"].(string))
	_, token := e.createReset(t, userEmail)
	e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": "short"})
	e.post(t, "/user_management/password_reset/confirm", map[string]any{"token": token, "new_password": newPassword})
	e.post(t, "/user_management/authenticate", map[string]any{"client_secret": "sk_wrong_secret", "grant_type": "password", "email": userEmail, "password": "guess password"})
	e.get(t, "/user_management/users/"+uid+"/sessions")
	logs := e.logs.String()
	require.NotEmpty(t, logs)
	for _, secret := range []string{oldPassword, newPassword, "guess password", token, apiKey, "sk_wrong_secret",
		auth["refresh_token"].(string), auth["access_token"].(string), ref.body["refresh_token"].(string)} {
		require.NotContains(t, logs, secret)
	}
}

// A Handler over memstore alone is what the example and most tests use;
// this checks that the wiring it relies on revokes sessions in the reset's
// own transaction (reset.Config.Sessions nil, one store).
func TestSameStoreRevokesInTransaction(t *testing.T) {
	st := memstore.New()
	svc, err := reset.NewService(reset.Config{Store: st, Mailer: discardMailer{}, ResetURL: "https://a.example/r", Hasher: password.Bcrypt{Cost: 4}})
	require.NoError(t, err)
	sm, err := session.New(session.Config{Store: st})
	require.NoError(t, err)
	accounts, err := account.New(svc, account.Config{})
	require.NoError(t, err)
	u, err := accounts.CreateUser(t.Context(), account.CreateUserParams{Email: userEmail, Password: oldPassword})
	require.NoError(t, err)
	_, tok, err := sm.Create(t.Context(), u.ID, session.Metadata{})
	require.NoError(t, err)
	pr, err := svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: userEmail})
	require.NoError(t, err)
	_, err = svc.ResetPassword(t.Context(), reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword})
	require.NoError(t, err)
	_, err = sm.Validate(t.Context(), tok)
	require.ErrorIs(t, err, session.ErrRevoked)
}

// brokenStore fails every user lookup by id, as a database that went away
// would.
type brokenStore struct{ *memstore.Store }

func (brokenStore) UserByID(context.Context, string) (reset.User, error) {
	return reset.User{}, errors.New("database is locked: secret-looking detail")
}

func TestServerErrorsSayNothing(t *testing.T) {
	e := newEnvOn(t, brokenStore{memstore.New()})
	r := e.get(t, "/user_management/users/user_1")
	requireError(t, r, http.StatusInternalServerError, "server_error")
	require.NotContains(t, string(r.raw), "database")
	require.Contains(t, e.logs.String(), "secret-looking detail", "the log has the cause")
}

func TestPanicsAreAnsweredWithJSON(t *testing.T) {
	e := newEnv(t, func(rc *reset.Config, _ *workos.Config) {
		rc.Policy.Check = func(context.Context, string, password.PolicyUser) error { panic("boom") }
	})
	r := e.post(t, "/user_management/users", map[string]any{"email": "nopolicy@example.com"}) // no password, no policy
	require.Equal(t, http.StatusCreated, r.status)
	r = e.post(t, "/user_management/users", map[string]any{"email": userEmail, "password": oldPassword})
	requireError(t, r, http.StatusInternalServerError, "server_error")
	require.Contains(t, e.logs.String(), `"msg":"workos: panic"`)

	// A panic under an Idempotency-Key frees the key: the retry runs again.
	h := map[string]string{"Idempotency-Key": "p"}
	for range 2 {
		r = e.do(t, req{method: http.MethodPost, path: "/user_management/users", body: map[string]any{"email": userEmail, "password": oldPassword}, header: h})
		requireError(t, r, http.StatusInternalServerError, "server_error")
	}
}

func TestCancelledRequests(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, userEmail)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	hr := httptest.NewRequestWithContext(ctx, http.MethodPost, "/user_management/password_reset", strings.NewReader(`{"email":"`+userEmail+`"}`))
	hr.Header.Set("Authorization", "Bearer "+apiKey)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	require.Equal(t, 499, w.Code, "logged as the client's going, never seen by it")
	require.NotContains(t, e.logs.String(), `"level":"ERROR"`)
}

func TestSessionListJudgesTheIdleTimeout(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser(t, userEmail)
	s, _, err := e.sm.Create(t.Context(), uid, session.Metadata{})
	require.NoError(t, err)
	e.clock.Add(25 * time.Hour) // past the default 24 h idle timeout, long before the 30-day expiry

	r := e.get(t, "/user_management/users/"+uid+"/sessions")
	data := r.body["data"].([]any)
	require.Len(t, data, 1)
	got := data[0].(map[string]any)
	require.Equal(t, "expired", got["status"])
	require.Equal(t, workos.FormatTime(s.LastSeenAt.Add(24*time.Hour)), got["ended_at"])
}

// TestClientLimit checks the per-client limit of the reset routes: 429
// rate_limit_exceeded with Retry-After, counted over create and confirm
// together, per client, with other routes untouched, and the forwarding
// headers believed only from a trusted proxy.
func TestClientLimit(t *testing.T) {
	e := newEnv(t, func(_ *reset.Config, ac *workos.Config) {
		ac.ClientLimit = clientlimit.Config{Requests: 3, Per: time.Minute, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, ClientHeader: "X-Forwarded-For"}
	})
	uid := e.createUser(t, userEmail)
	const me = "192.0.2.10:1"
	create := func(email string) req {
		return req{method: http.MethodPost, path: "/user_management/password_reset", body: map[string]any{"email": email}, remote: me}
	}
	confirm := func(token, password string) req {
		return req{method: http.MethodPost, path: "/user_management/password_reset/confirm", body: map[string]any{"token": token, "new_password": password}, remote: me}
	}
	_, token := e.createReset(t, userEmail) // from httptest's 192.0.2.1
	requireError(t, e.do(t, create("nobody@example.com")), http.StatusNotFound, "")
	requireResetError(t, e.do(t, confirm(token, "short")))
	r := e.do(t, create(userEmail))
	require.Equal(t, http.StatusCreated, r.status)
	token = r.body["password_reset_token"].(string)

	// The fourth within the minute, on either route, from this client,
	// whatever forwarding header it sends.
	spoofed := create(userEmail)
	spoofed.header = map[string]string{"X-Forwarded-For": "198.51.100.1"}
	for _, rq := range []req{create(userEmail), confirm(token, newPassword), spoofed} {
		r = e.do(t, rq)
		requireError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
		require.Equal(t, "20", r.header.Get("Retry-After"), "3 per minute: one more every 20 s")
		require.Contains(t, r.body["message"], "client")
	}
	require.Equal(t, 2, e.mail.Len(), "the refused requests sent nothing")
	_, err := e.svc.CheckToken(t.Context(), token)
	require.NoError(t, err, "the refused confirmation did not spend the token")

	// Other routes are not counted.
	require.Equal(t, http.StatusOK, e.do(t, req{method: http.MethodGet, path: "/user_management/users/" + uid, remote: me}).status)

	// The clients behind a trusted proxy have their own.
	behind := confirm(token, newPassword)
	behind.remote, behind.header = "10.0.0.2:1", map[string]string{"X-Forwarded-For": "198.51.100.7"}
	r = e.do(t, behind)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))

	// The limit refills with the handler's clock.
	e.clock.Add(20 * time.Second)
	requireError(t, e.do(t, create("nobody@example.com")), http.StatusNotFound, "")
}

func TestClientLimitDefaultAndDisabled(t *testing.T) {
	e := newEnv(t)
	for i := range workos.DefaultClientRequests {
		r := e.post(t, "/user_management/password_reset", map[string]any{"email": "nobody" + strconv.Itoa(i) + "@example.com"})
		requireError(t, r, http.StatusNotFound, "")
	}
	r := e.post(t, "/user_management/password_reset", map[string]any{"email": "someone@example.com"})
	requireError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
	require.Equal(t, "1", r.header.Get("Retry-After"))

	e = newEnv(t, func(_ *reset.Config, ac *workos.Config) { ac.ClientLimit.Disabled = true })
	for i := range 100 {
		r := e.post(t, "/user_management/password_reset", map[string]any{"email": "nobody" + strconv.Itoa(i) + "@example.com"})
		requireError(t, r, http.StatusNotFound, "")
	}

	_, err := workos.New(workos.Config{Service: e.svc, Sessions: e.sm, APIKeys: []string{apiKey}, ClientLimit: clientlimit.Config{TrustedProxies: []netip.Prefix{{}}}})
	require.ErrorContains(t, err, "ClientLimit")
}

func TestAuthenticateIsThrottledPerAddress(t *testing.T) {
	e := newEnvAccounts(t, memstore.New(), account.Config{SignInLimit: reset.RateLimit{Limit: 2, Window: time.Minute}})
	e.createUser(t, userEmail)
	body := map[string]any{"client_secret": apiKey, "grant_type": "password", "email": userEmail, "password": "a wrong guess"}
	for range 2 {
		requireError(t, e.post(t, "/user_management/authenticate", body), http.StatusBadRequest, "invalid_credentials")
	}
	body["password"] = oldPassword
	r := e.post(t, "/user_management/authenticate", body)
	requireError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
	require.Equal(t, "60", r.header.Get("Retry-After"))
}
