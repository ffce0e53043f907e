// Command quickstart tells the story of a password reset, step by step, on
// a SQLite file in a temporary folder: a user signs in on two devices, asks
// for a reset, gets the email, sets a new password, and is signed out
// everywhere.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/examples/internal/command"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store/sqlitestore"
)

func main() {
	command.Main("quickstart", func(ctx context.Context) error {
		return run(ctx, os.Stdout)
	})
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "passreset-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// 1. Storage: one SQLite file, migrated explicitly.
	path := filepath.Join(dir, "app.db")
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	say("1. Opened %s and applied the schema.", filepath.Base(path))

	// 2. The parts: a dev mailbox instead of SMTP, sessions in the same
	// store (so a reset revokes them in its own transaction), the Service,
	// and the accounts built on it.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mailbox := mail.NewDev(quiet, 10)
	sessions, err := session.New(session.Config{Store: st, Logger: quiet})
	if err != nil {
		return err
	}
	svc, err := reset.NewService(reset.Config{
		Store:    st,
		Mailer:   mailbox,
		ResetURL: "http://localhost:8080/reset-password",
		AppName:  "Quickstart",
		Logger:   quiet,
	})
	if err != nil {
		return err
	}
	accounts, err := account.New(svc, account.Config{})
	if err != nil {
		return err
	}

	// 3. A user, signed in on two devices.
	const email, oldPassword = "marcelina.davis@example.com", "old and forgotten"
	user, err := accounts.CreateUser(ctx, account.CreateUserParams{Email: email, Password: oldPassword, FirstName: "Marcelina", LastName: "Davis"})
	if err != nil {
		return err
	}
	say("2. Created %s (%s).", user.Email, user.ID)
	_, laptop, err := sessions.Create(ctx, user.ID, session.Metadata{UserAgent: "laptop"})
	if err != nil {
		return err
	}
	_, phone, err := sessions.Create(ctx, user.ID, session.Metadata{UserAgent: "phone"})
	if err != nil {
		return err
	}
	say("3. Signed in on a laptop and a phone: 2 active sessions.")

	// 4. The user forgets the password and asks for a reset.
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: email})
	if err != nil {
		return err
	}
	say("4. Asked for a reset: %s, valid until %s.", pr.ID, pr.ExpiresAt.Format(time.RFC3339))

	// 5. The email the dev transport caught.
	msgs := mailbox.Messages()
	if len(msgs) == 0 {
		return fmt.Errorf("no email was sent")
	}
	m := msgs[0]
	say("5. The email, as the user gets it:\n")
	say("   To:      %s\n   Subject: %s\n", m.To, m.Subject)
	for line := range strings.Lines(m.Text) {
		say("   | %s", strings.TrimRight(line, "\n"))
	}

	// 6. The user follows the link and sets a new password. The link holds
	// the token; the database holds only its SHA-256.
	const newPassword = "a much better passphrase"
	if _, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: newPassword}); err != nil {
		return err
	}
	say("6. Redeemed the token and set a new password.")

	// 7. Both devices are signed out, and only the new password works.
	for _, device := range []struct{ name, token string }{{"laptop", laptop}, {"phone", phone}} {
		if _, err := sessions.Validate(ctx, device.token); err == nil {
			return fmt.Errorf("the %s is still signed in", device.name)
		} else {
			say("7. The %s's session: %v", device.name, err)
		}
	}
	if _, err := accounts.Authenticate(ctx, account.AuthenticateParams{Email: email, Password: oldPassword}); err == nil {
		return fmt.Errorf("the old password still works")
	} else {
		say("8. Sign in with the old password: %v", err)
	}
	if _, err := accounts.Authenticate(ctx, account.AuthenticateParams{Email: email, Password: newPassword}); err != nil {
		return fmt.Errorf("the new password does not work: %w", err)
	}
	say("9. Sign in with the new password: ok.")

	// 8. The link works once.
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "and once more, please"})
	say("10. The same link again: %v", err)
	return nil
}
