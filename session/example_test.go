package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/memstore"
)

// A Manager over a Store: create a session, validate its token, revoke it.
func Example() {
	ctx := context.Background()
	sm, err := session.New(session.Config{Store: memstore.New()})
	if err != nil {
		fmt.Println(err)
		return
	}

	s, token, err := sm.Create(ctx, "user_01E4ZCR3C56J083X43JQXF3JK5", session.Metadata{
		UserAgent: "Mozilla/5.0",
		IPAddress: "192.0.2.1",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token length:", len(token))

	got, err := sm.Validate(ctx, token)
	fmt.Println("valid:", err == nil, got.ID == s.ID, got.UserID)

	_, err = sm.Validate(ctx, "not-a-token")
	fmt.Println("malformed:", err)

	if err := sm.Revoke(ctx, s.ID); err != nil {
		fmt.Println(err)
		return
	}
	_, err = sm.Validate(ctx, token)
	fmt.Println("after revoke:", errors.Is(err, session.ErrRevoked))
	// Output:
	// token length: 43
	// valid: true true user_01E4ZCR3C56J083X43JQXF3JK5
	// malformed: session: not found
	// after revoke: true
}

// Middleware puts the session of the request's cookie in its context;
// Require keeps signed-out visitors away from a page; Go's
// http.CrossOriginProtection refuses a login posted from another site
// (login CSRF).
func ExampleManager_Middleware() {
	sm, err := session.New(session.Config{Store: memstore.New()})
	if err != nil {
		fmt.Println(err)
		return
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check r.PostFormValue("email") and r.PostFormValue("password")
		// (never FormValue, which reads the query string too), then:
		if _, err := sm.SignIn(r.Context(), w, r, "user_42", ""); err != nil {
			http.Error(w, "cannot sign in", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	mux.Handle("GET /account", sm.Require("/login")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", s.UserID)
	})))
	app := sm.Middleware(http.NewCrossOriginProtection().Handler(mux))

	do := func(method, path string, cookies []*http.Cookie, header ...string) *http.Response {
		req := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		return rec.Result()
	}

	res := do("GET", "/account", nil)
	fmt.Println("signed out:", res.StatusCode, res.Header.Get("Location"))

	res = do("POST", "/login", nil, "Sec-Fetch-Site", "cross-site")
	fmt.Println("sign in from another site:", res.StatusCode, len(res.Cookies()))

	res = do("POST", "/login", nil, "Sec-Fetch-Site", "same-origin")
	cookies := res.Cookies()
	fmt.Println("sign in:", res.StatusCode, cookies[0].Name, cookies[0].HttpOnly, cookies[0].Secure, cookies[0].SameSite == http.SameSiteLaxMode)

	res = do("GET", "/account", cookies)
	body, _ := io.ReadAll(res.Body)
	fmt.Println("signed in:", res.StatusCode, string(body))
	// Output:
	// signed out: 303 /login
	// sign in from another site: 403 0
	// sign in: 303 passreset_session true true true
	// signed in: 200 hello user_42
}
