package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/examples/internal/serve"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

// appName names the example in pages and emails.
const appName = "passreset webapp"

// appStore is what the app keeps its users, resets and sessions in:
// sqlitestore or pgstore in main (deploy.Open), any adapter that holds all
// three in tests.
type appStore interface {
	store.Store
	store.UserCreator
	session.Store
}

// config is what newServer needs.
type config struct {
	// BaseURL is the site's address as browsers see it, such as
	// "http://127.0.0.1:8080". The reset link in the email is built from it,
	// never from a request's Host header.
	BaseURL string
	Store   appStore
	// Mailer sends the emails: a *mail.Dev, or mail.SMTP.
	Mailer reset.Mailer
	// DevMail, when set, is served at /dev/mail by its own Handler, which
	// answers only a local browser talking to the app directly. main sets
	// it only when the app listens on loopback (see mailboxOff).
	DevMail *mail.Dev
	// From is the sender of the emails; "" means reset.Config's default.
	From   string
	Logger *slog.Logger
	// BcryptCost, TokenTTL and Now are passed to reset.Config; zero means
	// its defaults. Tests lower the cost and move the clock.
	BcryptCost int
	// Argon2id hashes new passwords with Argon2id (password.Argon2id's
	// defaults) instead of bcrypt; bcrypt hashes still sign in, and are
	// moved over at the next sign-in.
	Argon2id bool
	TokenTTL time.Duration
	Now      func() time.Time
	// ClientLimit is the reset pages' limit per client; the zero value is
	// pages' default (10 form posts a minute).
	ClientLimit clientlimit.Config
	// SecretKey is reset.Config's: shared by every instance on one
	// database; nil means a key of the process's own.
	SecretKey []byte
}

// server is the example's web application: the Handler and the parts main
// and the tests reach into.
type server struct {
	http.Handler
	svc      *reset.Service
	accounts *account.Service
	sessions *session.Manager
	pages    *pages.Handler
	tmpl     *template.Template
	devMail  *mail.Dev
	log      *slog.Logger
	now      func() time.Time
}

// newServer wires the session manager, the reset Service and its pages, and
// the app's own pages into one Handler. It starts nothing: main runs the
// Service's dispatcher and calls pages.Shutdown when it stops.
func newServer(cfg config) (*server, error) {
	// The app's pages live at the root of the site, so the base URL has no
	// path.
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
		strings.Trim(base.Path, "/") != "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("base URL must be an absolute http(s) URL without a path, such as https://app.example, got %q", cfg.BaseURL)
	}
	base.Path = ""
	// The reset link is built from it: it must go where it reads, and not
	// in the clear across a network.
	if _, err := reset.CheckResetURL(base.String() + pages.DefaultResetPath); err != nil {
		return nil, fmt.Errorf("base URL %q: user information is not allowed, and it must be https unless its host is loopback", cfg.BaseURL)
	}
	s := &server{devMail: cfg.DevMail, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}

	var hasher password.Hasher = password.Bcrypt{Cost: cfg.BcryptCost}
	if cfg.Argon2id {
		hasher = password.Argon2id{}
	}
	s.svc, err = reset.NewService(reset.Config{
		Store:     cfg.Store,
		Mailer:    cfg.Mailer,
		ResetURL:  base.String() + pages.DefaultResetPath,
		AppName:   appName,
		From:      cfg.From,
		Hasher:    hasher,
		TokenTTL:  cfg.TokenTTL,
		SecretKey: cfg.SecretKey,
		Now:       cfg.Now,
		Logger:    s.log,
		OnEvent: func(ctx context.Context, e reset.Event) {
			s.log.InfoContext(ctx, "event", "event", e.Event, "reset_id", e.Data.ID, "user_id", e.Data.UserID)
		},
	})
	if err != nil {
		return nil, err
	}
	// The users are passreset's: sign-in, the account page's password
	// change and the demo user go through an account.Service, which
	// shares the reset Service's hashing cap.
	if s.accounts, err = account.New(s.svc, account.Config{}); err != nil {
		return nil, err
	}

	// Sessions live in the same store as the resets, so a reset revokes them
	// in the transaction that spends the token: reset.Config.Sessions stays
	// nil. Each carries the credential stamp of its sign-in, which the
	// Service checks on every request, so that a sign-in that checked the
	// old password just before a reset committed is refused too. The cookie
	// is Secure even on http://127.0.0.1 and http://localhost, where
	// browsers accept Secure cookies.
	s.sessions, err = session.New(session.Config{Store: cfg.Store, Stamps: s.svc, Logger: s.log, Now: cfg.Now})
	if err != nil {
		return nil, err
	}

	// The app's own pages join the reset pages' template set, so that they
	// share its "head", "foot" and style.
	s.tmpl = pages.DefaultTemplates()
	if _, err := s.tmpl.ParseFS(templateFS, "templates/*.html"); err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	s.pages, err = pages.New(pages.Config{
		Service:               s.svc,
		SignInURL:             "/sign-in",
		AppName:               appName,
		Templates:             s.tmpl,
		Logger:                s.log,
		CrossOriginProtection: cop,
		ClientLimit:           cfg.ClientLimit,
	})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", s.sessions.Require("/sign-in")(http.HandlerFunc(s.home)))
	mux.HandleFunc("GET /sign-in", s.signInForm)
	mux.Handle("POST /sign-in", cop.Handler(http.HandlerFunc(s.signIn)))
	mux.Handle("POST /sign-out", cop.Handler(http.HandlerFunc(s.signOut)))
	mux.Handle("POST /account/password", cop.Handler(s.sessions.Require("/sign-in")(http.HandlerFunc(s.changePassword))))
	s.pages.Register(mux) // /forgot-password and /reset-password
	if s.devMail != nil {
		// mail.Dev's own page answers only a browser on this machine
		// talking to the app directly: 404 through a proxy or under a
		// Host that is not a loopback name (DNS rebinding).
		mux.Handle("GET /dev/mail", s.devMail.Handler())
	}
	s.Handler = logRequests(s.log, serve.SecurityHeaders(defaultCSP, s.sessions.Middleware(limitBodies(mux))))
	return s, nil
}

// view is what the app's own templates are executed with. Title, AppName,
// Nonce and Errors are the fields the reset pages' "head" and "errors"
// templates read.
type view struct {
	Title    string
	AppName  string
	Nonce    string
	Errors   []string
	Notice   string
	Email    string
	DevMail  bool
	Sessions []sessionView
}

type sessionView struct {
	Device, IP, Started, LastSeen, Status string
	Current                               bool
}

// home shows who is signed in and their sessions, and the form that
// changes the password, with the notice of a change just made.
func (s *server) home(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "Your account"}
	if n, err := strconv.Atoi(r.URL.Query().Get("password_changed")); err == nil && n >= 0 {
		v.Notice = "Your password was changed. This browser stays signed in; every other device was signed out"
		if n > 0 {
			v.Notice += fmt.Sprintf(" (%d signed out just now, marked below)", n)
		}
		v.Notice += "."
	}
	s.account(w, r, http.StatusOK, v)
}

// account renders the account page with v's notice or errors.
func (s *server) account(w http.ResponseWriter, r *http.Request, status int, v *view) {
	cur, _ := session.FromContext(r.Context())
	user, err := s.accounts.GetUser(r.Context(), cur.UserID)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	list, err := s.sessions.List(r.Context(), user.ID, session.ListParams{Limit: 20, Desc: true})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	now := s.now()
	v.Email = user.Email
	for _, ss := range list {
		sv := sessionView{
			Device:   deviceName(ss.UserAgent),
			IP:       ss.IPAddress,
			Started:  ss.CreatedAt.Local().Format("2006-01-02 15:04:05"),
			LastSeen: ss.LastSeenAt.Local().Format("2006-01-02 15:04:05"),
			Current:  ss.ID == cur.ID,
		}
		switch {
		case sv.Current:
			sv.Status = "this browser"
		case !ss.RevokedAt.IsZero():
			sv.Status = "signed out"
		case !ss.Active(now):
			sv.Status = "expired"
		default:
			sv.Status = "signed in"
		}
		v.Sessions = append(v.Sessions, sv)
	}
	s.render(w, r, "home", status, v)
}

// changePassword serves POST /account/password: the current password, the
// new one twice. It keeps this browser signed in and signs every other
// device out, in the transaction that stores the new hash.
func (s *server) changePassword(w http.ResponseWriter, r *http.Request) {
	cur, _ := session.FromContext(r.Context())
	current, pw, confirm := r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password")
	v := &view{Title: "Your account"}
	switch {
	case current == "":
		v.Errors = []string{"Enter your current password."}
	case pw == "":
		v.Errors = []string{"Enter a new password."}
	case pw != confirm:
		v.Errors = []string{"The two new passwords do not match. Type the same password twice."}
	}
	if len(v.Errors) > 0 {
		s.account(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	ch, err := s.accounts.ChangePassword(r.Context(), account.ChangePasswordParams{
		UserID: cur.UserID, CurrentPassword: current, NewPassword: pw, SessionID: cur.ID,
	})
	var weak *password.PolicyError
	var limited *reset.RateLimitError
	switch {
	case err == nil:
	case errors.Is(err, reset.ErrInvalidCredentials):
		v.Errors = []string{"Your current password is not right."}
	case errors.As(err, &weak):
		for _, reason := range weak.Reasons {
			v.Errors = append(v.Errors, reason.Message)
		}
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", strconv.FormatInt(int64(limited.RetryAfter()/time.Second), 10))
		v.Errors = []string{"Too many attempts. Wait a few minutes, then try again."}
		s.account(w, r, http.StatusTooManyRequests, v)
		return
	case errors.Is(err, reset.ErrBusy):
		busy, _ := errors.AsType[*reset.BusyError](err)
		s.busy(w, r, busy)
		return
	case errors.Is(err, account.ErrPasswordChanged):
		v.Errors = []string{"Your password was changed elsewhere meanwhile. Sign in again if you are asked to."}
	default:
		s.internalError(w, r, err)
		return
	}
	if len(v.Errors) > 0 {
		s.account(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	s.log.InfoContext(r.Context(), "password changed", "user_id", cur.UserID, "session_id", cur.ID, "other_sessions_revoked", ch.SessionsRevoked)
	http.Redirect(w, r, "/?password_changed="+strconv.Itoa(ch.SessionsRevoked), http.StatusSeeOther)
}

// busy answers 503 with Retry-After: the Service's password hashing is at
// its cap (reset.Config.MaxHashing), and nothing was done.
func (s *server) busy(w http.ResponseWriter, r *http.Request, busy *reset.BusyError) {
	retry := time.Second
	if busy != nil {
		retry = busy.RetryAfter()
	}
	s.log.WarnContext(r.Context(), "busy: password hashing at its cap", "retry_after", retry)
	w.Header().Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
	http.Error(w, "The server is busy. Nothing was changed: try again in a moment.", http.StatusServiceUnavailable)
}

// deviceName sums a User-Agent header up as "browser on system", for the
// list of sessions.
func deviceName(ua string) string {
	browser := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client/", "Go"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}

// signInForm serves the sign-in page, with the notice of a finished reset.
func (s *server) signInForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := session.FromContext(r.Context()); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, "sign-in", http.StatusOK, &view{Title: "Sign in", Notice: pages.Notice(r), DevMail: s.devMail != nil})
}

// signIn checks the email and password and starts a session.
func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	v := &view{Title: "Sign in", Email: email, DevMail: s.devMail != nil}
	if email == "" || password == "" {
		v.Errors = []string{"Enter your email address and your password."}
		s.render(w, r, "sign-in", http.StatusUnprocessableEntity, v)
		return
	}
	// Each attempt costs a bcrypt comparison, known address or not: one
	// client gets a few a minute (the reset pages' client limit).
	client, retry, ok := s.pages.AllowSignIn(r)
	if !ok {
		s.log.WarnContext(r.Context(), "sign-in refused: too many attempts from the client")
		w.Header().Set("Retry-After", strconv.FormatInt(int64(retry/time.Second), 10))
		v.Errors = []string{"Too many sign-in attempts from your network. Wait a minute, then try again."}
		s.render(w, r, "sign-in", http.StatusTooManyRequests, v)
		return
	}
	in, err := s.accounts.Authenticate(r.Context(), account.AuthenticateParams{Email: email, Password: password, Client: client})
	if busy, ok := errors.AsType[*reset.BusyError](err); ok {
		s.busy(w, r, busy)
		return
	}
	if errors.Is(err, reset.ErrInvalidCredentials) {
		s.log.InfoContext(r.Context(), "sign-in refused: wrong email or password")
		v.Errors = []string{"Wrong email or password."}
		s.render(w, r, "sign-in", http.StatusUnauthorized, v)
		return
	}
	var limited *reset.RateLimitError
	if errors.As(err, &limited) {
		s.log.WarnContext(r.Context(), "sign-in refused: too many failed attempts for the address")
		w.Header().Set("Retry-After", strconv.FormatInt(int64(limited.RetryAfter()/time.Second), 10))
		v.Errors = []string{"Too many sign-in attempts for this address. Wait a few minutes, then try again."}
		s.render(w, r, "sign-in", http.StatusTooManyRequests, v)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	ss, err := s.sessions.SignIn(r.Context(), w, r, in.User.ID, in.Stamp)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "signed in", "user_id", in.User.ID, "session_id", ss.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signOut ends this browser's session, or with everywhere=1 every session
// of the user.
func (s *server) signOut(w http.ResponseWriter, r *http.Request) {
	cur, ok := session.FromContext(r.Context())
	var err error
	switch {
	case ok && r.PostFormValue("everywhere") != "":
		s.sessions.ClearCookie(w)
		err = s.sessions.RevokeUserSessions(r.Context(), cur.UserID)
		if err == nil {
			s.log.InfoContext(r.Context(), "signed out everywhere", "user_id", cur.UserID)
		}
	default:
		err = s.sessions.SignOut(r.Context(), w, r)
		if err == nil && ok {
			s.log.InfoContext(r.Context(), "signed out", "user_id", cur.UserID, "session_id", cur.ID)
		}
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
}

func (s *server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "internal error", "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong. Try again in a moment.", http.StatusInternalServerError)
}

// render executes one of the app's pages with a fresh CSP nonce.
func (s *server) render(w http.ResponseWriter, r *http.Request, name string, status int, v *view) {
	v.AppName = appName
	v.Nonce = newNonce()
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, v); err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+v.Nonce+"'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func newNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// defaultCSP is the Content-Security-Policy of every answer of the app;
// pages that render HTML replace it with one that allows their nonce.
const defaultCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// limitBodies caps every request body; the reset pages cap theirs tighter.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		next.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request: method, path, status, duration.
// Never the query string, which holds the token on the reset page.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)))
	})
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
