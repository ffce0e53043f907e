// Command webapp is a small monolithic web app built on passreset: sign in,
// sign out (here or everywhere), "forgot password", the reset page the
// email's link opens, and a dev mailbox that shows the emails sent.
//
//	go run ./examples/webapp
//
// then open http://127.0.0.1:8080, sign in as the demo user whose password
// is printed at start, and try "Forgot your password?": the email lands in
// the dev mailbox at http://127.0.0.1:8080/dev/mail.
//
// Flags:
//
//	-addr host:port          where to listen (default 127.0.0.1:8080)
//	-base-url URL            the site's address as browsers see it, for the
//	                         link in the email (default http:// + -addr)
//	-db path-or-URL          the database: a postgres:// or postgresql://
//	                         URL, a mysql://user:pass@host:3306/db URL
//	                         (MySQL or MariaDB), or a SQLite file (default
//	                         webapp.db in the working folder); created or
//	                         migrated
//	-demo-user EMAIL[:PASS]  create this user at start unless it exists;
//	                         without :PASS a password is generated and
//	                         printed once; a given one is never printed;
//	                         "" creates none (default demo@example.com)
//	-dev-mail=false          turn the dev mailbox off (on by default, but
//	                         only where it is safe: see below)
//	-bcrypt-cost N           the bcrypt cost of new passwords (default 12);
//	                         raise it and restart: each user's hash is
//	                         upgraded at their next sign-in
//	-hasher NAME             bcrypt (default) or argon2id: the hash of new
//	                         passwords; the other's hashes still sign in,
//	                         and are moved over at the next sign-in
//	-smtp host:port          send real mail through this SMTP server
//	                         instead of the dev mailbox; with -smtp-tls
//	                         starttls (default), implicit or none,
//	                         -smtp-user, the password in the environment
//	                         variable PASSRESET_SMTP_PASSWORD, and -from
//	-trusted-proxies CIDRS   the reverse proxies in front of the app, such
//	                         as 127.0.0.1/32 or 10.0.0.0/8,fd00::/8: the
//	                         reset pages' limit per client (10 form posts a
//	                         minute) then counts the client address these
//	                         proxies forward in -client-header. Without it
//	                         every forwarding header is ignored (default
//	                         none)
//	-client-header NAME      the header the trusted proxies set to name the
//	                         client, and the only one read: X-Forwarded-For
//	                         (a proxy that appends to it), X-Real-IP (one
//	                         that sets it) or Forwarded; required with
//	                         -trusted-proxies
//
// The dev mailbox holds live reset links, so it is on only when the app
// listens on a loopback address (127.0.0.1, ::1 or localhost; not ":8080"
// or 0.0.0.0, which are every address), with no -trusted-proxies and a
// base URL that is not https: then only a browser on this machine reaches
// it. Even so, /dev/mail answers 404 to a request that carries a
// forwarding header (X-Forwarded-For, Forwarded, X-Real-IP...) or a Host
// that is not a loopback name or address (DNS rebinding). Where it is off
// and no -smtp server is given, the app still starts, but says at start,
// in capitals, that emails are NOT DELIVERED: each is only logged
// (recipient and subject, never the link), and the forgot page still
// answers as if it had been sent. Behind a proxy, or anywhere others reach
// the app, give it -smtp.
//
// The key that seals queued mail and keys the limit per address comes
// from PASSRESET_SECRET_KEY (hex or base64 of 32 bytes or more: `openssl
// rand -hex 32`), or else from a file beside the database (its name plus
// ".key", mode 0600), made at the first start, so that mail queued before a
// restart is sent after it and the limits hold across restarts. Several
// instances of the app, on one Postgres database behind one address, must
// share one key: with a Postgres or MySQL database the app refuses to start
// without PASSRESET_SECRET_KEY:
//
//	export PASSRESET_SECRET_KEY=$(openssl rand -hex 32)
//	go run ./examples/webapp -addr 127.0.0.1:8091 -db postgres://app@db.internal/app -base-url https://app.example
//
// The session cookie is Secure: browsers accept Secure cookies on
// http://127.0.0.1 and http://localhost, so plain http works there. On
// another host, serve the app over https (behind a TLS-terminating proxy,
// with -base-url https://...).
//
// The log has one line per request (method, path without the query,
// status, duration) and one per event (reset created and redeemed, sign-in,
// sign-out); never a token or a password.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/clientlimit"
	"github.com/passreset/passreset/examples/internal/appkey"
	"github.com/passreset/passreset/examples/internal/command"
	"github.com/passreset/passreset/examples/internal/deploy"
	"github.com/passreset/passreset/examples/internal/serve"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
)

func main() {
	command.Main("webapp", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	})
}

// options are the command line's settings.
type options struct {
	addr, baseURL, db             string
	demoEmail, demoPass           string // demoPass "" means generate one
	devMail                       bool
	bcryptCost                    int
	hasher                        string
	smtp, smtpTLS, smtpUser, from string
	trustedProxies                []netip.Prefix
	clientHeader                  string
}

// parseFlags reads the command line.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	fs.StringVar(&o.baseURL, "base-url", "", "the site's `URL` as browsers see it, for the link in the email (default http:// + -addr)")
	fs.StringVar(&o.db, "db", "webapp.db", "the `database`: a postgres:// or mysql:// URL, or a SQLite file; created or migrated")
	demo := fs.String("demo-user", "demo@example.com", "create this user at start unless it exists: `EMAIL` (a password is generated and printed once) or EMAIL:PASSWORD (never printed); \"\" for none")
	fs.BoolVar(&o.devMail, "dev-mail", true, "keep sent emails in a dev mailbox at /dev/mail instead of sending them")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 12, "the bcrypt `cost` of new passwords, 4 to 31; lower only to make local tests faster")
	fs.StringVar(&o.hasher, "hasher", "bcrypt", "the password `hash` of new passwords: bcrypt or argon2id; the other's hashes still sign in, and are upgraded then")
	fs.StringVar(&o.smtp, "smtp", "", "send real mail through the SMTP server at `host:port` (turns the dev mailbox off)")
	fs.StringVar(&o.smtpTLS, "smtp-tls", "starttls", "SMTP connection security: starttls, implicit or none")
	fs.StringVar(&o.smtpUser, "smtp-user", "", "SMTP user name; the password is read from $PASSRESET_SMTP_PASSWORD")
	fs.StringVar(&o.from, "from", "", "sender address of the emails (default no-reply@ the base URL's host)")
	proxies := fs.String("trusted-proxies", "", "comma-separated `networks` (CIDR) of the reverse proxies in front of the app, whose -client-header tells the client's address to the per-client limit; default none: forwarding headers are ignored")
	fs.StringVar(&o.clientHeader, "client-header", "", "the `header` the trusted proxies set to name the client, the only one read: X-Forwarded-For, X-Real-IP or Forwarded; required with -trusted-proxies")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.trustedProxies, err = clientlimit.ParsePrefixes(*proxies); err != nil {
		return o, fmt.Errorf("-trusted-proxies: %w", err)
	}
	if err := checkClientHeader(o.trustedProxies, o.clientHeader); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.hasher != "bcrypt" && o.hasher != "argon2id" {
		return o, fmt.Errorf("-hasher: want bcrypt or argon2id, got %q", o.hasher)
	}
	if *demo != "" {
		o.demoEmail, o.demoPass, _ = strings.Cut(*demo, ":")
		if _, err := reset.NormalizeEmail(o.demoEmail); err != nil {
			// Not quoted back: it may be a password typed in the wrong place.
			return o, errors.New("-demo-user: want EMAIL or EMAIL:PASSWORD, and what comes before the first colon is not an email address")
		}
	}
	if o.smtp != "" {
		o.devMail = false
		if _, _, err := net.SplitHostPort(o.smtp); err != nil {
			return o, fmt.Errorf("-smtp: %w", err)
		}
	}
	switch o.smtpTLS {
	case "starttls", "implicit", "none":
	default:
		return o, fmt.Errorf("-smtp-tls: want starttls, implicit or none, got %q", o.smtpTLS)
	}
	return o, nil
}

// run starts the app and serves until ctx is done, then shuts down
// gracefully. What a user needs to know goes to stdout; the log to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// The key that seals queued mail and counts requests per address
	// outlives restarts, and is one for every instance: PASSRESET_SECRET_KEY,
	// or, for a SQLite file only, a file beside it made at the first start.
	key, keySource, err := appkey.Load(os.Getenv, o.db)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if o.baseURL == "" {
		o.baseURL = "http://" + browserAddr(ln.Addr().(*net.TCPAddr))
	}
	o.baseURL = strings.TrimSuffix(o.baseURL, "/")

	log.Info("secret key", "source", keySource)

	st, err := deploy.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.Close()

	var mailer reset.Mailer
	var devMail *mail.Dev
	offReason := ""
	switch {
	case o.smtp != "":
		mode := map[string]mail.TLSMode{"starttls": mail.StartTLS, "implicit": mail.ImplicitTLS, "none": mail.Insecure}[o.smtpTLS]
		mailer = &mail.SMTP{Addr: o.smtp, TLSMode: mode, Username: o.smtpUser, Password: os.Getenv("PASSRESET_SMTP_PASSWORD")}
	default:
		// Without the mailbox page the dev transport only logs each
		// email's recipient and subject, never its link.
		devMail = mail.NewDev(log, 100)
		mailer = devMail
		if offReason = mailboxOff(o, ln.Addr()); offReason != "" {
			devMail = nil
		}
	}

	srv, err := newServer(config{BaseURL: o.baseURL, Store: st, Mailer: mailer, DevMail: devMail, From: o.from, Logger: log, BcryptCost: o.bcryptCost, SecretKey: key, Argon2id: o.hasher == "argon2id",
		ClientLimit: clientlimit.Config{TrustedProxies: o.trustedProxies, ClientHeader: o.clientHeader}})
	if err != nil {
		return err
	}

	demoNote, err := createDemoUser(ctx, srv.accounts, o, st.Name)
	if err != nil {
		return err
	}

	// The dispatcher retries emails whose first attempt failed; the janitor
	// purges spent resets and ended sessions. Both stop after the server.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { srv.svc.RunDispatcher(bgCtx) })
	background.Go(func() { srv.svc.RunJanitor(bgCtx, time.Hour, 24*time.Hour) })

	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	say("passreset webapp: listening on %s (database %s)", o.baseURL, st.Name)
	say("  open        %s/", o.baseURL)
	switch {
	case devMail != nil:
		say("  dev mailbox %s/dev/mail: every email the app sends lands there, reset links included (-dev-mail=false turns it off; -smtp host:port sends real mail)", o.baseURL)
	case o.smtp != "":
		say("  mail        sent through %s", o.smtp)
	default:
		// Said loudly: a user who asks for a reset reads "we have sent an
		// email", and none goes out.
		say("  mail        NOT DELIVERED: the dev mailbox is off (%s) and there is no -smtp server; each email is only logged, recipient and subject, never its link. Set -smtp host:port to send them.", offReason)
		log.Warn("emails are not delivered: set -smtp host:port", "dev_mailbox_off", offReason)
	}
	if demoNote != "" {
		say("  %s", demoNote)
	}
	say("Press Ctrl+C to stop.")
	log.Info("started", "addr", ln.Addr().String(), "base_url", o.baseURL)

	err = serve.Until(ctx, serve.Server(srv, log), ln, serve.Stop{
		Grace:    10 * time.Second,
		Starting: func() { log.Info("shutting down") },
		Then:     []func(context.Context) error{srv.pages.Shutdown}, // the reset emails still being sent
	})
	stopBackground()
	background.Wait()
	log.Info("stopped")
	return err
}

// browserAddr is the host:port a browser on this machine reaches the
// listener at: localhost when it listens on every address.
func browserAddr(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP == nil || a.IP.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// createDemoUser creates the demo user unless it exists, and returns the
// line to print about it. A generated password is in that line, once; a
// password from the command line never is.
func createDemoUser(ctx context.Context, accounts *account.Service, o options, dbName string) (string, error) {
	if o.demoEmail == "" {
		return "", nil
	}
	password, generated := o.demoPass, o.demoPass == ""
	if generated {
		password = rand.Text()
	}
	_, err := accounts.CreateUser(ctx, account.CreateUserParams{Email: o.demoEmail, Password: password, EmailVerified: true})
	switch {
	case errors.Is(err, account.ErrEmailTaken):
		return fmt.Sprintf("demo user  %s already exists in %s; its password is unchanged (forgot it? use \"Forgot your password?\")", o.demoEmail, dbName), nil
	case err != nil:
		return "", fmt.Errorf("-demo-user: %w", err)
	case generated:
		return fmt.Sprintf("demo user  %s, password %s (printed only this once)", o.demoEmail, password), nil
	}
	return fmt.Sprintf("demo user  %s, with the password given on the command line", o.demoEmail), nil
}

// checkClientHeader says what is wrong with -trusted-proxies and
// -client-header, which go together, in the flags' words.
func checkClientHeader(proxies []netip.Prefix, header string) error {
	if _, err := clientlimit.New(clientlimit.Config{TrustedProxies: proxies, ClientHeader: header}); err != nil {
		switch {
		case len(proxies) > 0 && header == "":
			return errors.New("-trusted-proxies needs -client-header: the header those proxies set to name the client (X-Forwarded-For, X-Real-IP or Forwarded)")
		case len(proxies) == 0:
			return errors.New("-client-header needs -trusted-proxies: the header is read only from a trusted proxy")
		}
		return fmt.Errorf("-client-header: want X-Forwarded-For, X-Real-IP or Forwarded, got %q", header)
	}
	return nil
}

// mailboxOff says why the dev mailbox, which holds live reset links, must
// stay off, or "" when it may be on. It is on only for an app a browser on
// this machine reaches directly: listening on a loopback address only (not
// on every address), behind no trusted proxy (a proxy on this machine makes
// every client look local), and with a base URL that is not https (https
// means the app is served to others, through a TLS-terminating proxy).
// mail.Dev's handler then still refuses any request that carries a
// forwarding header or a Host that is not a loopback name.
func mailboxOff(o options, listening net.Addr) string {
	if !o.devMail {
		return "-dev-mail=false"
	}
	if a, ok := listening.(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		return fmt.Sprintf("-addr %s is not a loopback address such as 127.0.0.1:8080", o.addr)
	}
	if len(o.trustedProxies) > 0 {
		return "-trusted-proxies is set: the app is behind a proxy"
	}
	if u, err := url.Parse(o.baseURL); err != nil || !strings.EqualFold(u.Scheme, "http") {
		return fmt.Sprintf("-base-url %s is not http: the app is served to others", o.baseURL)
	}
	return ""
}
