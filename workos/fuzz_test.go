package workos_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/workos"
)

// fuzzRoutes are the routes FuzzRequestBodies sends to. For the GET
// routes the fuzzed bytes become the id in the path.
var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/user_management/password_reset"},
	{http.MethodPost, "/user_management/password_reset/confirm"},
	{http.MethodPost, "/user_management/users"},
	{http.MethodPost, "/user_management/authenticate"},
	{http.MethodPost, "/user_management/sessions/revoke"},
	{http.MethodGet, "/user_management/password_reset/"},
	{http.MethodGet, "/user_management/users/"},
	{http.MethodGet, "/user_management/users/{id}/sessions"},
}

// FuzzRequestBodies sends arbitrary bodies (and ids) to every route, with
// a JSON or a form content type, and requires a JSON answer that is never
// a server error.
func FuzzRequestBodies(f *testing.F) {
	// Without the per-client limit, which would soon answer every input
	// to the reset routes with 429 before reading it.
	e := newEnv(f, func(_ *reset.Config, ac *workos.Config) { ac.ClientLimit.Disabled = true })
	uid := e.createUser(f, userEmail)
	_, token := e.createReset(f, userEmail)
	refresh := e.signIn(f, userEmail, oldPassword)["refresh_token"].(string)

	seeds := []string{
		``, `{}`, `[]`, `null`, `"x"`, `1`, `{`, `{"email":}`, "\xff\xfe", `{"a":1}{}`,
		`{"email":"` + userEmail + `"}`, `{"email":"nobody@example.com"}`, `{"email":["x"]}`, `{"email":null}`,
		`{"token":"` + token + `","new_password":"short"}`, `{"token":"` + token + `","new_password":"` + newPassword + `"}`,
		`{"token":1,"new_password":{}}`, `{"token":"` + token + `","new_password":"` + string(bytes.Repeat([]byte("é"), 50)) + `"}`,
		`{"email":"fuzz@example.com","password":"` + oldPassword + `","metadata":{"a":"b"},"external_id":"x","email_verified":true}`,
		`{"email":"fuzz2@example.com","metadata":{"a":1}}`, `{"email":"fuzz3@example.com","first_name":"\u0000"}`,
		`{"grant_type":"password","client_secret":"` + apiKey + `","email":"` + userEmail + `","password":"` + oldPassword + `"}`,
		`{"grant_type":"refresh_token","client_secret":"` + apiKey + `","refresh_token":"` + refresh + `"}`,
		`grant_type=password&client_secret=` + apiKey + `&email=` + url.QueryEscape(userEmail) + `&password=x`,
		`{"grant_type":"refresh_token","refresh_token":{"a":[1,2,{"b":null}]}}`,
		`{"session_id":"session_01"}`, `{"session_id":123}`,
		uid, "user_\x00", "%zz", "../../x", "?limit=0",
		`{"email":"` + string(bytes.Repeat([]byte("a"), 400)) + `@example.com"}`,
		string(bytes.Repeat([]byte("["), 20000)),
	}
	for i := range fuzzRoutes {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
			f.Add(uint8(i+len(fuzzRoutes)), []byte(s)) // as a form
		}
	}

	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		route := fuzzRoutes[int(sel)%len(fuzzRoutes)]
		target := route.path
		var reqBody *bytes.Reader
		if route.method == http.MethodGet {
			id := url.PathEscape(string(body))
			if target == "/user_management/users/{id}/sessions" {
				target = "/user_management/users/" + id + "/sessions?limit=" + url.QueryEscape(string(body))
			} else {
				target += id
			}
			reqBody = bytes.NewReader(nil)
		} else {
			reqBody = bytes.NewReader(body)
		}
		r := httptest.NewRequestWithContext(t.Context(), route.method, target, reqBody)
		r.Header.Set("Authorization", "Bearer "+apiKey)
		r.Header.Set("Content-Type", "application/json")
		if int(sel)/len(fuzzRoutes)%2 == 1 {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		require.Less(t, w.Code, 500, "%s %q: %d %s", route.method, body, w.Code, w.Body)
		require.Equal(t, "application/json", w.Header().Get("Content-Type"), "%s %q: %d %s", target, body, w.Code, w.Body)
		require.True(t, json.Valid(w.Body.Bytes()), "%s", w.Body)
	})
}
