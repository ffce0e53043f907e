// Command apiserver serves passreset's WorkOS-compatible JSON API (package
// workos) over a SQLite file or a Postgres database, so that code written
// against WorkOS's SDKs can point at it by changing only the base URL.
//
//	RESET_API_KEY=sk_$(openssl rand -hex 32) go run ./examples/apiserver -addr 127.0.0.1:8081 -db passreset.db
//
// The key that seals queued mail and keys the limit per address comes
// from PASSRESET_SECRET_KEY (hex or base64 of 32 bytes or more: `openssl
// rand -hex 32`), or else from a file beside the database (its name plus
// ".key", mode 0600), made at the first start, so that mail queued before a
// restart is sent after it and the limits hold across restarts. Keep that
// file with the database, and set the variable, the same everywhere, when
// several instances share the data.
//
// Several instances serve one set of clients when they share a Postgres
// (or MySQL: -db mysql://app@db.internal:3306/app) database and a secret
// key, behind any load balancer:
//
//	export RESET_API_KEY=sk_$(openssl rand -hex 32) PASSRESET_SECRET_KEY=$(openssl rand -hex 32)
//	go run ./examples/apiserver -addr 127.0.0.1:8091 -db postgres://app@db.internal/app
//	go run ./examples/apiserver -addr 127.0.0.1:8092 -db postgres://app@db.internal/app
//
// The API key comes from the environment variable RESET_API_KEY; several
// keys separated by commas are all accepted, for rotation. The server
// refuses to start without one, or with one shorter than 32 bytes: a key
// can do everything, for every user. Emails go to the dev transport
// (unless -smtp), which logs each one's recipient and subject and keeps it
// in memory; the reset token
// is in the answer to POST /user_management/password_reset. Every request
// is logged as one JSON line (method, path, status, duration, request id),
// never with a header, a query string or a body. SIGINT or SIGTERM stops
// the server gracefully: requests in flight finish, then the database is
// closed.
//
// The secret key comes from PASSRESET_SECRET_KEY: 32 random bytes or more,
// in hex or base64. It seals queued mail and the answers kept for
// Idempotency-Key replays, keys the per-address rate limit, and signs the
// access tokens, so every instance that serves the same clients must have
// it; with a Postgres or MySQL database the server refuses to start without
// it.
//
// Flags:
//
//	-addr             the address to listen on (default 127.0.0.1:8081)
//	-db               the database: a postgres:// or postgresql:// URL, a
//	                  mysql://user:pass@host:3306/db URL (MySQL or MariaDB),
//	                  or a SQLite file; created or migrated if need be
//	                  (default passreset-api.db)
//	-reset-url        the page of your app that takes the token (default http://localhost:3000/reset-password)
//	-bcrypt-cost      bcrypt's cost for new passwords (default 12)
//	-smtp             send the emails through the SMTP server at host:port
//	                  instead of the dev transport; with -smtp-tls starttls
//	                  (default), implicit or none, -smtp-user, and the
//	                  password in $PASSRESET_SMTP_PASSWORD
//	-trusted-proxies  comma-separated networks (CIDR) of the reverse proxies in
//	                  front of the server: the limit per client of the reset
//	                  routes (60 a minute) then counts the address they forward
//	                  in -client-header; without it every forwarding header is
//	                  ignored (default none)
//	-client-header    the header the trusted proxies set to name the client,
//	                  and the only one read: X-Forwarded-For (a proxy that
//	                  appends to it), X-Real-IP (one that sets it) or
//	                  Forwarded; required with -trusted-proxies
package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/examples/internal/appkey"
	"github.com/passreset/passreset/examples/internal/command"
	"github.com/passreset/passreset/examples/internal/deploy"
	"github.com/passreset/passreset/examples/internal/serve"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/workos"
)

// apiKeyEnv names the environment variable that holds the API keys.
const apiKeyEnv = "RESET_API_KEY"

// shutdownTimeout is how long requests in flight get to finish.
const shutdownTimeout = 10 * time.Second

// The janitor purges every hour what has been unusable for a day.
const (
	janitorInterval  = time.Hour
	janitorRetention = 24 * time.Hour
)

func main() {
	command.Main("apiserver", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	})
}

// options are the server's settings, from flags and the environment.
type options struct {
	addr           string
	db             string
	resetURL       string
	bcryptCost     int
	apiKeys        []string
	trustedProxies []netip.Prefix
	clientHeader   string
	secretKey      []byte // reset.Config.SecretKey (appkey.Load, in run)
	smtp, smtpTLS  string // -smtp host:port and its -smtp-tls; "" keeps the dev transport
	smtpUser       string
	smtpPassword   string // from PASSRESET_SMTP_PASSWORD
}

// parseOptions reads the flags in args and the API keys from getenv.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "the `address` to listen on, HOST:PORT")
	fs.StringVar(&o.db, "db", "passreset-api.db", "the `database`: a postgres:// or mysql:// URL, or a SQLite file; created or migrated if need be")
	fs.StringVar(&o.resetURL, "reset-url", "http://localhost:3000/reset-password", "the `URL` of the page that takes the token, for the reset emails")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 12, "bcrypt's `cost` for new passwords")
	fs.StringVar(&o.smtp, "smtp", "", "send the emails through the SMTP server at `host:port` instead of the dev transport")
	fs.StringVar(&o.smtpTLS, "smtp-tls", "starttls", "SMTP connection security: starttls, implicit or none")
	fs.StringVar(&o.smtpUser, "smtp-user", "", "SMTP user name; the password is read from $PASSRESET_SMTP_PASSWORD")
	proxies := fs.String("trusted-proxies", "", "comma-separated `networks` (CIDR) of the reverse proxies in front of the server, whose -client-header tells the client's address to the per-client limit; default none: forwarding headers are ignored")
	fs.StringVar(&o.clientHeader, "client-header", "", "the `header` the trusted proxies set to name the client, the only one read: X-Forwarded-For, X-Real-IP or Forwarded; required with -trusted-proxies")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	var err error
	if o.trustedProxies, err = clientlimit.ParsePrefixes(*proxies); err != nil {
		return options{}, fmt.Errorf("-trusted-proxies: %w", err)
	}
	switch {
	case len(o.trustedProxies) > 0 && o.clientHeader == "":
		return options{}, errors.New("-trusted-proxies needs -client-header: the header those proxies set to name the client (X-Forwarded-For, X-Real-IP or Forwarded)")
	case len(o.trustedProxies) == 0 && o.clientHeader != "":
		return options{}, errors.New("-client-header needs -trusted-proxies: the header is read only from a trusted proxy")
	}
	if _, err := clientlimit.New(clientlimit.Config{TrustedProxies: o.trustedProxies, ClientHeader: o.clientHeader}); err != nil {
		return options{}, fmt.Errorf("-client-header: %w", err)
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.smtp != "" {
		if _, _, err := net.SplitHostPort(o.smtp); err != nil {
			return options{}, fmt.Errorf("-smtp: %w", err)
		}
		o.smtpPassword = getenv("PASSRESET_SMTP_PASSWORD")
	}
	switch o.smtpTLS {
	case "starttls", "implicit", "none":
	default:
		return options{}, fmt.Errorf("-smtp-tls: want starttls, implicit or none, got %q", o.smtpTLS)
	}
	for _, k := range strings.Split(getenv(apiKeyEnv), ",") {
		if k = strings.TrimSpace(k); k != "" {
			o.apiKeys = append(o.apiKeys, k)
		}
	}
	if len(o.apiKeys) == 0 {
		return options{}, fmt.Errorf("%s is not set: put the API key (or several, comma-separated) clients send as \"Authorization: Bearer <key>\" in it", apiKeyEnv)
	}
	return o, nil
}

// app is the server's parts, wired: what main runs and the tests build.
type app struct {
	db      *deploy.DB
	service *reset.Service
	api     *workos.Handler
	mailbox *mail.Dev
	handler http.Handler // api with the request log around it
}

// newApp opens and migrates the database and builds the Handler.
func newApp(ctx context.Context, o options, logger *slog.Logger) (*app, error) {
	db, err := deploy.Open(ctx, o.db)
	if err != nil {
		return nil, err
	}
	a, err := wire(db, o, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// wire builds the Service, the session Manager and the Handler over db.
func wire(db *deploy.DB, o options, logger *slog.Logger) (*app, error) {
	a := &app{db: db, mailbox: mail.NewDev(logger, 100)}
	var mailer reset.Mailer = a.mailbox
	if o.smtp != "" {
		mode := map[string]mail.TLSMode{"starttls": mail.StartTLS, "implicit": mail.ImplicitTLS, "none": mail.Insecure}[o.smtpTLS]
		mailer = &mail.SMTP{Addr: o.smtp, TLSMode: mode, Username: o.smtpUser, Password: o.smtpPassword}
	}
	var err error
	a.service, err = reset.NewService(reset.Config{
		Store:     db,
		Mailer:    mailer,
		ResetURL:  o.resetURL,
		Hasher:    password.Bcrypt{Cost: o.bcryptCost},
		SecretKey: o.secretKey,
		Logger:    logger,
	})
	if err != nil {
		return nil, err
	}
	// The sessions live in the same store as the resets, so a reset revokes
	// them in its own transaction (reset.Config.Sessions stays nil), and
	// each carries the credential stamp of its sign-in, so that a sign-in
	// racing a reset cannot outlive it.
	sessions, err := session.New(session.Config{Store: db, Stamps: a.service, Logger: logger})
	if err != nil {
		return nil, err
	}
	// Access tokens signed on one instance check on every other: their key
	// comes from the shared secret key, for this one purpose.
	var tokenKey []byte
	if o.secretKey != nil {
		if tokenKey, err = hkdf.Key(sha256.New, o.secretKey, nil, "passreset apiserver access tokens v1", 32); err != nil {
			return nil, err
		}
	}
	a.api, err = workos.New(workos.Config{Service: a.service, Sessions: sessions, APIKeys: o.apiKeys, Logger: logger,
		AccessTokenKey: tokenKey, ClientLimit: clientlimit.Config{TrustedProxies: o.trustedProxies, ClientHeader: o.clientHeader}})
	if err != nil {
		return nil, err
	}
	a.handler = logRequests(logger, a.api)
	return a, nil
}

// Close closes the database.
func (a *app) Close() error { return a.db.Close() }

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) error {
	o, err := parseOptions(args, getenv, logOut)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(logOut, nil))
	// The key that seals queued mail and counts requests per address
	// outlives restarts: PASSRESET_SECRET_KEY, or a file beside the
	// database, made at the first start.
	var keySource string
	if o.secretKey, keySource, err = appkey.Load(getenv, o.db); err != nil {
		return err
	}
	logger.Info("apiserver: secret key", "source", keySource)
	a, err := newApp(ctx, o, logger)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := serve.Server(a.handler, logger)
	srv.MaxHeaderBytes = 64 << 10
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }

	// The dispatcher retries the emails whose first attempt failed; the
	// janitor purges spent resets, ended sessions and the answers kept for
	// replay once their time is over. Each instance runs both: jobs are
	// claimed, and purging twice deletes nothing more.
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.service.RunDispatcher(ctx) })
	wg.Go(func() { _ = a.service.RunJanitor(ctx, janitorInterval, janitorRetention) })

	logger.Info("apiserver: listening", "addr", ln.Addr().String(), "db", a.db.Name, "api_keys", len(o.apiKeys))
	err = serve.Until(ctx, srv, ln, serve.Stop{
		Grace:    shutdownTimeout,
		Starting: func() { logger.Info("apiserver: shutting down") },
	})
	wg.Wait()
	logger.Info("apiserver: stopped", "err", err)
	return err
}

// logRequests logs one line per request: method, path, status, bytes,
// duration in milliseconds, the request id the API set and the client's
// address. Never a header, a query string or a body, which hold keys,
// tokens and passwords; the paths of this API hold only ids.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", w.Header().Get("X-Request-ID")),
			slog.String("remote_addr", r.RemoteAddr),
		)
	})
}

// statusWriter records the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status, bytes int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}
