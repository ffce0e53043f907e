package passreset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
	"github.com/passreset/passreset/store"
)

// Defaults of New.
const (
	// DefaultSignInURL is Config.SignInURL's default.
	DefaultSignInURL = "/login"
	// DevMailboxPath is where Register serves the dev mailbox when
	// Config.Mailer is nil.
	DevMailboxPath = "/dev/mail"
	// JanitorInterval and Retention are how often Run purges passreset's
	// tables, and how long it keeps what stopped being usable
	// (reset.Service.RunJanitor).
	JanitorInterval = time.Hour
	Retention       = 24 * time.Hour
)

// Config configures New. Store and BaseURL are required; every other zero
// field means the default its comment states. For what it does not offer,
// build the parts it puts together yourself: reset.NewService and
// pages.New.
type Config struct {
	// Store keeps passreset's state and reads the host's users:
	// store/sqlitestore, store/pgstore or store/mysqlstore over the host's
	// users table (WithUsers), or a store of the host's own. When it has a
	// Migrate(context.Context) error method, as those three do, New calls
	// it: it creates passreset's tables and never touches the host's.
	Store store.Store

	// BaseURL is the site's address as browsers see it, such as
	// "https://app.example": the email's link opens BaseURL +
	// pages.DefaultResetPath. https, or http for a loopback host only.
	BaseURL string

	// SignInURL is the host's sign-in page, where a successful reset
	// leads (see pages.Notice). Default "/login" (DefaultSignInURL).
	SignInURL string

	// Sessions signs the user out of the host's sessions when a reset
	// commits: scsreset's Sessions for scs, session.Manager, or the host's
	// own reset.SessionRevoker. Nil when the host keeps sessions nowhere
	// on the server (a cookie or JWT that carries the credential stamp):
	// the stamp check alone then signs them out.
	Sessions reset.SessionRevoker

	// SMTP is the submission server the emails go through, as a URL that
	// holds its credentials, such as smtp://user:password@smtp.example.com:587
	// (see mail.ParseSMTPURL). Keep it where the database URL is kept,
	// in the environment or a secret store.
	SMTP string

	// Mailer sends the emails when SMTP is empty: the host's own
	// transport (an HTTP email API, or a *mail.SMTP with its own TLS
	// settings). When both are empty, the emails go to the dev mailbox,
	// which New allows only when BaseURL's host is loopback: mail is
	// logged without its link and kept in memory, and Register serves it
	// at DevMailboxPath to this machine only (see mail.Dev.Handler).
	Mailer reset.Mailer

	// SecretKey seals queued mail and keys the per-address limits: hex or
	// base64 of at least 32 bytes, as an environment variable holds it
	// (openssl rand -hex 32); see reset.ParseSecretKey. The same on every
	// instance and across restarts. Empty means a random key for this
	// process only, with a warning on a durable store.
	SecretKey string

	// Hasher hashes new passwords. Default password.Bcrypt at cost 12.
	// CheckPassword checks bcrypt and Argon2id hashes whatever it is.
	Hasher password.Hasher

	// AppName names the application in emails and page titles. Default:
	// BaseURL's host.
	AppName string

	// Logger receives operational logs, never a token, a password or a
	// hash. Default slog.Default().
	Logger *slog.Logger
}

// Kit is passreset added to a web app: the reset Service (its methods,
// CheckPassword and StampMatches among them, are the Kit's), the forgot
// and reset pages, the dev mailbox when there is no Mailer, and the
// background work. Make one with New.
type Kit struct {
	*reset.Service
	pages   *pages.Handler
	mailbox *mail.Dev
}

// New adds passreset to an app in one call: it migrates cfg.Store, reads
// the secret key, and builds the reset Service and the pages. Then
// Register the pages on the app's mux, start Run in a goroutine, check
// the credential stamp on every request (scsreset's Middleware, or
// StampMatches), and call CheckPassword in the app's login.
func New(ctx context.Context, cfg Config) (*Kit, error) {
	if cfg.Store == nil {
		return nil, errors.New("passreset: Config.Store is required")
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	if err != nil || base.Host == "" || base.Path != "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("passreset: Config.BaseURL must be the site's root as browsers see it, such as https://app.example")
	}
	if cfg.SignInURL == "" {
		cfg.SignInURL = DefaultSignInURL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	key, err := reset.ParseSecretKey(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("passreset: Config.SecretKey: %w", err)
	}
	k := &Kit{}
	switch {
	case cfg.SMTP != "" && cfg.Mailer != nil:
		return nil, errors.New("passreset: set Config.SMTP or Config.Mailer, not both")
	case cfg.SMTP != "":
		if cfg.Mailer, err = mail.ParseSMTPURL(cfg.SMTP); err != nil {
			return nil, fmt.Errorf("passreset: Config.SMTP: %w", err)
		}
	case cfg.Mailer == nil:
		if !isLoopback(base.Hostname()) {
			return nil, fmt.Errorf("passreset: set Config.SMTP or Config.Mailer: the dev mailbox is only for a loopback BaseURL, not %q", base.Host)
		}
		k.mailbox = mail.NewDev(cfg.Logger, 100)
		cfg.Mailer = k.mailbox
	}
	if m, ok := cfg.Store.(interface{ Migrate(context.Context) error }); ok {
		if err := m.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("passreset: migrate the store: %w", err)
		}
	}
	k.Service, err = reset.NewService(reset.Config{
		Store:     cfg.Store,
		Mailer:    cfg.Mailer,
		Sessions:  cfg.Sessions,
		ResetURL:  base.String() + pages.DefaultResetPath,
		AppName:   cfg.AppName,
		Hasher:    cfg.Hasher,
		SecretKey: key,
		Logger:    cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	k.pages, err = pages.New(pages.Config{Service: k.Service, SignInURL: cfg.SignInURL, AppName: cfg.AppName})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// isLoopback reports whether host (without a port) names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Register serves the forgot and reset pages on mux, at
// pages.DefaultForgotPath and pages.DefaultResetPath, and the dev
// mailbox at DevMailboxPath when there is no Mailer.
func (k *Kit) Register(mux *http.ServeMux) {
	k.pages.Register(mux)
	if k.mailbox != nil {
		mux.Handle("GET "+DevMailboxPath, k.mailbox.Handler())
	}
}

// Run does passreset's background work until ctx is done, then returns
// nil: the dispatcher, which retries mail and revocations that failed and
// carries out reset requests left by a process that died, and the
// janitor, which purges spent resets and old records every
// JanitorInterval. Start it once per process, in a goroutine.
func (k *Kit) Run(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		errs [2]error
	)
	wg.Go(func() { errs[0] = k.RunDispatcher(ctx) })
	wg.Go(func() { errs[1] = k.RunJanitor(ctx, JanitorInterval, Retention) })
	wg.Wait()
	return errors.Join(errs[:]...)
}

// Shutdown waits, up to ctx's deadline, for the emails the forgot page
// is sending in the background. Call it after the app's http.Server has
// shut down.
func (k *Kit) Shutdown(ctx context.Context) error {
	return k.pages.Shutdown(ctx)
}

// Pages is the forgot and reset pages' handler, for its AllowSignIn and
// paths.
func (k *Kit) Pages() *pages.Handler { return k.pages }
