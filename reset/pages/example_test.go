package pages_test

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/memstore"
)

// The host mounts the reset pages on its own mux, beside its own sign-in
// handler, which shows the notice the reset page sends it to.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)
	st := memstore.New()              // sqlitestore or pgstore in a real app
	mailbox := new(mailtest.Recorder) // mail.SMTP in a real app
	sessions, err := session.New(session.Config{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := reset.NewService(reset.Config{
		Store:    st,
		Mailer:   mailbox,
		ResetURL: "https://app.example/reset-password", // the link in the email
		Logger:   quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	go svc.RunDispatcher(ctx)                           // retries emails whose first attempt failed
	accounts, err := account.New(svc, account.Config{}) // the users, if passreset keeps them
	if err != nil {
		log.Fatal(err)
	}

	resetPages, err := pages.New(pages.Config{Service: svc, SignInURL: "/sign-in", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer resetPages.Shutdown(ctx) // after the http.Server's Shutdown

	mux := http.NewServeMux()
	resetPages.Register(mux) // GET and POST /forgot-password and /reset-password
	mux.HandleFunc("GET /sign-in", func(w http.ResponseWriter, r *http.Request) {
		// The host's own sign-in page: show the notice after a reset, and
		// link to pages' forgot page.
		fmt.Fprintf(w, `<p>%s</p><form method="post">...</form><a href="/forgot-password">Forgot your password?</a>`,
			template.HTMLEscapeString(pages.Notice(r)))
	})
	mux.HandleFunc("POST /sign-in", func(w http.ResponseWriter, r *http.Request) {
		// Each attempt costs a bcrypt comparison: limit them per client.
		client, retry, ok := resetPages.AllowSignIn(r)
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
			http.Error(w, "Too many attempts. Wait a minute.", http.StatusTooManyRequests)
			return
		}
		in, err := accounts.Authenticate(r.Context(), account.AuthenticateParams{
			Email: r.PostFormValue("email"), Password: r.PostFormValue("password"), Client: client})
		switch {
		case errors.Is(err, reset.ErrInvalidCredentials):
			http.Error(w, "Wrong email or password.", http.StatusUnauthorized)
			return
		case err != nil: // ErrRateLimited, ErrBusy: 429 or 503 with Retry-After in a real app
			http.Error(w, "Try again later.", http.StatusServiceUnavailable)
			return
		}
		if _, err := sessions.SignIn(r.Context(), w, r, in.User.ID, in.Stamp); err != nil {
			http.Error(w, "Try again.", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	handler := sessions.Middleware(mux) // http.ListenAndServe(addr, handler) in a real app

	// A user forgets their password.
	if _, err := accounts.CreateUser(ctx, account.CreateUserParams{Email: "ana@example.com", Password: "the old passphrase"}); err != nil {
		log.Fatal(err)
	}
	form := url.Values{"email": {"ana@example.com"}}
	req := httptest.NewRequest("POST", "https://app.example/forgot-password", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("forgot:", rec.Code, strings.Contains(rec.Body.String(), "Check your email"))

	// The email arrives, and its link opens the reset page.
	msgs, err := mailbox.WaitFor(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	link := msgs[0].Text
	link = link[strings.Index(link, "https://"):]
	link = link[:strings.IndexByte(link, '\n')]
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", link, nil))
	fmt.Println("reset page:", rec.Code, rec.Header().Get("Referrer-Policy"))

	// The user sets a new password and lands on the sign-in page.
	token, _ := url.Parse(link)
	form = url.Values{"token": {token.Query().Get("token")}, "new_password": {"a brand new passphrase"}, "confirm_password": {"a brand new passphrase"}}
	req = httptest.NewRequest("POST", "https://app.example/reset-password", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("reset:", rec.Code, rec.Header().Get("Location"))

	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/sign-in?notice=password_reset", nil))
	b, _ := io.ReadAll(rec.Body)
	fmt.Println("sign-in:", strings.Contains(string(b), "Sign in with your new password."))
	// Output:
	// forgot: 200 true
	// reset page: 200 no-referrer
	// reset: 303 /sign-in?notice=password_reset
	// sign-in: true
}
