package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"os" // passreset
	"strings"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // database/sql driver "sqlite3"
	"golang.org/x/crypto/bcrypt"

	"github.com/passreset/passreset"                   // passreset
	"github.com/passreset/passreset/password"          // passreset
	"github.com/passreset/passreset/reset/pages"       // passreset
	"github.com/passreset/passreset/scsreset"          // passreset
	"github.com/passreset/passreset/store"             // passreset
	"github.com/passreset/passreset/store/pgstore"     // passreset
	"github.com/passreset/passreset/store/sqlitestore" // passreset

	"github.com/passreset/passreset/examples/internal/serve"
)

// config configures the app.
type config struct {
	// DB is the database: a SQLite file, or a postgres:// URL.
	DB string
	// BaseURL is the site's address as browsers see it, such as
	// http://127.0.0.1:8080.
	BaseURL string
	// BcryptCost is the cost of the digests the app itself makes.
	BcryptCost int
	Logger     *slog.Logger
	// Pause, when set, is called at named points of the handlers; the
	// tests use it to hold a request there.
	Pause func(r *http.Request, point string)
}

// app is a small web app that had its own users (the accounts table), its
// own sign-in and scs sessions before it added passreset.
type app struct {
	db       *sql.DB
	postgres bool
	sm       *scs.SessionManager
	log      *slog.Logger
	tmpl     *template.Template
	cost     int
	pause    func(*http.Request, string)
	handler  http.Handler
	closers  []func()

	// passreset:begin
	kit  *passreset.Kit
	sess *scsreset.Sessions
	// passreset:end
}

// The app's own schema, in each database it runs on.
var (
	sqliteSchema = []string{
		`CREATE TABLE IF NOT EXISTS accounts (
			account_id    INTEGER PRIMARY KEY,
			email_address TEXT      NOT NULL UNIQUE,
			pw_digest     TEXT      NOT NULL,
			is_verified   BOOLEAN   NOT NULL DEFAULT FALSE,
			modified_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
		)`,
		`CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`,
	}
	postgresSchema = []string{
		`CREATE TABLE IF NOT EXISTS accounts (
			account_id    BIGSERIAL   PRIMARY KEY,
			email_address TEXT        NOT NULL UNIQUE,
			pw_digest     TEXT        NOT NULL,
			is_verified   BOOLEAN     NOT NULL DEFAULT FALSE,
			modified_at   TIMESTAMPTZ NOT NULL DEFAULT now()
		)`,
		`CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`,
	}
)

// isPostgres reports whether db is a Postgres URL rather than a file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// newApp opens the database, creates the app's tables, and builds the
// handler. Close releases what it opened.
func newApp(ctx context.Context, cfg config) (_ *app, err error) {
	a := &app{log: cfg.Logger, cost: cfg.BcryptCost, pause: cfg.Pause, postgres: isPostgres(cfg.DB)}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.pause == nil {
		a.pause = func(*http.Request, string) {}
	}
	defer func() {
		if err != nil {
			a.Close() // what was opened before the failure
		}
	}()
	a.tmpl, err = template.New("app").Parse(pageTemplates)
	if err != nil {
		return nil, err
	}

	schema := sqliteSchema
	if a.postgres {
		a.db, err = sql.Open("pgx", cfg.DB)
		schema = postgresSchema
	} else {
		dsn := "file:" + (&url.URL{Path: cfg.DB}).EscapedPath() + "?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on"
		a.db, err = sql.Open("sqlite3", dsn)
	}
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { a.db.Close() })
	for _, stmt := range schema {
		if _, err := a.db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("create the app's tables: %w", err)
		}
	}

	a.sm = scs.New()
	a.sm.Lifetime = 14 * 24 * time.Hour
	a.sm.IdleTimeout = 24 * time.Hour // every request writes its session back
	a.sm.Cookie.Secure = strings.HasPrefix(cfg.BaseURL, "https://")
	if a.postgres {
		ss := postgresstore.NewWithCleanupInterval(a.db, 10*time.Minute)
		a.sm.Store, a.closers = ss, append(a.closers, ss.StopCleanup)
	} else {
		ss := sqlite3store.NewWithCleanupInterval(a.db, 10*time.Minute)
		a.sm.Store, a.closers = ss, append(a.closers, ss.StopCleanup)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginForm)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /account", a.account)

	// passreset:begin
	// Password reset: passreset's store in the app's database, over the
	// accounts table (it writes there only the digest, is_verified and
	// modified_at of the account whose password is reset) with its own
	// tables, passreset_*, beside it; scs sessions signed out at a reset;
	// the forgot and reset pages; the emails through the SMTP server in
	// $PASSRESET_SMTP_URL, or to the dev mailbox at /dev/mail.
	accounts := store.UsersTable{Table: "accounts", ID: "account_id", Email: "email_address", PasswordHash: "pw_digest", Verified: "is_verified", UpdatedAt: "modified_at"}
	var st store.Store
	if a.postgres {
		pg, err := pgstore.Open(ctx, cfg.DB, pgstore.WithUsers(accounts))
		if err != nil {
			return nil, err
		}
		a.closers, st = append(a.closers, pg.Close), pg
	} else if st, err = sqlitestore.New(a.db, sqlitestore.WithUsers(accounts)); err != nil {
		return nil, err
	}
	if a.sess, err = scsreset.New(scsreset.Config{Manager: a.sm, Logger: a.log}); err != nil {
		return nil, err
	}
	a.kit, err = passreset.New(ctx, passreset.Config{Store: st, Sessions: a.sess, BaseURL: cfg.BaseURL,
		SMTP: os.Getenv("PASSRESET_SMTP_URL"), SecretKey: os.Getenv("PASSRESET_SECRET_KEY"), // none: a key for this run only
		Hasher: password.Bcrypt{Cost: a.cost}, Logger: a.log}) // bcrypt, as the app's own digests
	if err != nil {
		return nil, err
	}
	a.kit.Register(mux)
	// passreset:end

	a.handler = a.sm.LoadAndSave(
		a.sess.Middleware(a.kit, // passreset: the stamp check, inside LoadAndSave
			http.NewCrossOriginProtection().Handler(serve.SecurityHeaders(ownPagesCSP, mux))))
	return a, nil
}

// Close releases the database and stops the session cleanup.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// createAccount adds an account, as the app's sign-up would.
func (a *app) createAccount(ctx context.Context, email, pw string) (int64, error) {
	digest, err := bcrypt.GenerateFromPassword([]byte(pw), a.cost)
	if err != nil {
		return 0, err
	}
	var id int64
	err = a.db.QueryRowContext(ctx, `INSERT INTO accounts (email_address, pw_digest, is_verified) VALUES ($1, $2, TRUE) RETURNING account_id`,
		strings.ToLower(strings.TrimSpace(email)), string(digest)).Scan(&id)
	return id, err
}

// accountKey is the session key under which the app keeps the signed-in
// account's id.
const accountKey = "account_id"

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if a.sm.GetInt64(r.Context(), accountKey) != 0 {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// loginView is what the sign-in page shows.
type loginView struct {
	Email, Error string
	Notice       string // passreset: "your password was changed"
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "login", http.StatusOK, loginView{
		Notice: pages.Notice(r), // passreset
	})
}

// login is the app's own sign-in: it reads the account's row and checks
// the password against its digest.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	var id int64
	var digest string // stays empty for an unknown address, which never matches
	err := a.db.QueryRowContext(ctx, `SELECT account_id, pw_digest FROM accounts WHERE email_address = $1`, email).Scan(&id, &digest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		a.fail(w, r, err)
		return
	}
	// passreset: was bcrypt.CompareHashAndPassword; CheckPassword compares
	// as passreset hashed at a reset, and returns the credential stamp.
	stamp, err := a.kit.CheckPassword(digest, r.PostFormValue("password")) // passreset
	a.pause(r, "after-password-check")
	if err != nil {
		a.render(w, r, "login", http.StatusUnauthorized, loginView{Email: email, Error: "Wrong email address or password."})
		return
	}
	if err := a.sm.RenewToken(ctx); err != nil {
		a.fail(w, r, err)
		return
	}
	a.sm.Put(ctx, accountKey, id)
	// passreset:begin
	if err := a.sess.SignIn(ctx, fmt.Sprintf("user_%d", id), stamp); err != nil {
		a.fail(w, r, err)
		return
	}
	// passreset:end
	a.log.InfoContext(ctx, "signed in", "account_id", id)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.sm.Destroy(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// account is a page only a signed-in user sees.
func (a *app) account(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := a.sm.GetInt64(ctx, accountKey)
	if id == 0 {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	a.pause(r, "account")
	var email string
	if err := a.db.QueryRowContext(ctx, `SELECT email_address FROM accounts WHERE account_id = $1`, id).Scan(&email); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, "account", http.StatusOK, struct{ Email string }{email})
}

func (a *app) render(w http.ResponseWriter, r *http.Request, name string, status int, data any) {
	var b strings.Builder
	if err := a.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	http.Error(w, "Something went wrong. Try again in a moment.", http.StatusInternalServerError)
}

// ownPagesCSP is the Content-Security-Policy of the app's own pages (with
// serve.SecurityHeaders' other headers); the reset pages set their own.
const ownPagesCSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const pageTemplates = `
{{define "head"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.}} · Existing App</title></head>
<body>
{{end}}

{{define "login"}}{{template "head" "Sign in"}}
<h1>Sign in</h1>
{{with .Notice}}<p role="status" id="notice">{{.}}</p>{{end}}
{{with .Error}}<p role="alert" id="error">{{.}}</p>{{end}}
<form method="post" action="/login">
<p><label>Email address <input name="email" type="email" autocomplete="username" required value="{{.Email}}"></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<!-- passreset:begin -->
<p><a href="/forgot-password">Forgot your password?</a></p>
<!-- passreset:end -->
</body>
</html>
{{end}}

{{define "account"}}{{template "head" "Your account"}}
<h1>Your account</h1>
<p>Signed in as <strong id="email">{{.Email}}</strong>.</p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</body>
</html>
{{end}}
`
