// Command existingapp is a small web app that already had its own users
// (an accounts table with integer keys and its own column names), its own
// sign-in handler and scs sessions, to which passreset adds the "forgot
// password" and reset pages, the email, and sign-out everywhere, in a few
// dozen lines of glue marked "passreset" (see README.md).
//
//	go run ./examples/existingapp
//
// then open http://127.0.0.1:8080, sign in as the demo account whose
// password is printed at start, sign out, and try "Forgot your password?":
// the email lands in the dev mailbox at http://127.0.0.1:8080/dev/mail.
//
// Flags:
//
//	-addr host:port       where to listen (default 127.0.0.1:8080)
//	-base-url URL         the site's address as browsers see it (default
//	                      http:// + -addr)
//	-db file|URL          a SQLite file (default existingapp.db), or a
//	                      postgres:// URL
//	-demo-user EMAIL      create this account at start unless it exists,
//	                      with a generated password printed once; "" for
//	                      none (default demo@example.com)
//
// The environment: PASSRESET_SMTP_URL (smtp://user:password@host:587)
// sends the emails through that server instead of the dev mailbox, which
// answers only on a loopback base URL; PASSRESET_SECRET_KEY (32 bytes or
// more, in hex or base64) seals emails queued for retry, and without it a
// random key is made for each run.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/passreset/passreset/examples/internal/command"
	"github.com/passreset/passreset/examples/internal/serve"
)

func main() {
	command.Main("existingapp", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	})
}

// run starts the app and serves until ctx is done. What a user needs to
// know goes to stdout; the log to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("existingapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	baseURL := fs.String("base-url", "", "the site's `URL` as browsers see it (default http:// + -addr)")
	db := fs.String("db", "existingapp.db", "the database: a SQLite `file`, or a postgres:// URL")
	demo := fs.String("demo-user", "demo@example.com", "create this account at start unless it exists; \"\" for none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *baseURL == "" {
		*baseURL = "http://" + ln.Addr().String()
	}
	*baseURL = strings.TrimSuffix(*baseURL, "/")

	a, err := newApp(ctx, config{DB: *db, BaseURL: *baseURL, BcryptCost: 12, Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	demoNote, err := a.createDemoAccount(ctx, *demo)
	if err != nil {
		return err
	}

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	go a.kit.Run(bg) // passreset: retries mail that failed, purges spent resets

	fmt.Fprintf(stdout, "existingapp: listening on %s (database %s)\n", *baseURL, redact(*db))
	if demoNote != "" {
		fmt.Fprintf(stdout, "  %s\n", demoNote)
	}
	return serve.Until(ctx, serve.Server(a.handler, log), ln, serve.Stop{Grace: 10 * time.Second,
		Then: []func(context.Context) error{a.kit.Shutdown}}) // passreset: lets an email being sent finish
}

// createDemoAccount creates the demo account unless it exists, and returns
// the line to print about it, with a generated password, once.
func (a *app) createDemoAccount(ctx context.Context, email string) (string, error) {
	if email == "" {
		return "", nil
	}
	var n int
	if err := a.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE email_address = $1`, strings.ToLower(email)).Scan(&n); err != nil {
		return "", err
	}
	if n > 0 {
		return fmt.Sprintf("demo account %s exists; its password is unchanged (forgot it? use \"Forgot your password?\")", email), nil
	}
	pw := rand.Text()
	if _, err := a.createAccount(ctx, email, pw); err != nil {
		return "", err
	}
	return fmt.Sprintf("demo account %s, password %s (printed only this once)", email, pw), nil
}

// redact drops the password of a database URL, for printing.
func redact(db string) string {
	if i, j := strings.Index(db, "://"), strings.LastIndex(db, "@"); i >= 0 && j > i {
		if k := strings.Index(db[i+3:j], ":"); k >= 0 {
			return db[:i+3+k] + ":***" + db[j:]
		}
	}
	return db
}
