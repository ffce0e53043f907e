package reset_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store/memstore"
)

// newExampleService returns a Service over an in-memory store with one
// user, marcelina.davis@example.com, whose password is "the old
// passphrase", a dev mailbox, and a fixed clock.
func newExampleService() (*reset.Service, *mail.Dev) {
	svc, _, mailbox, err := testsvc.Demo()
	if err != nil {
		panic(err)
	}
	return svc, mailbox
}

func ExampleService_CreatePasswordReset() {
	svc, mailbox := newExampleService()
	ctx := context.Background()

	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "Marcelina.Davis@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pr.Email, "until", pr.ExpiresAt.Format(time.RFC3339))
	fmt.Println("token length:", len(pr.Token))
	m := mailbox.Messages()[0]
	fmt.Println(m.To, "|", m.Subject)

	_, err = svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "nobody@example.com"})
	fmt.Println(errors.Is(err, reset.ErrUserNotFound))
	// Output:
	// marcelina.davis@example.com until 2026-01-15T12:15:00Z
	// token length: 43
	// marcelina.davis@example.com | Reset your app.example password
	// true
}

func ExampleService_GetPasswordReset() {
	svc, _ := newExampleService()
	ctx := context.Background()
	created, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "marcelina.davis@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}

	pr, err := svc.GetPasswordReset(ctx, created.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Only the token's hash is stored: a reset read back has no token.
	fmt.Println(pr.ID == created.ID, pr.Email, pr.Token == "", pr.URL == "")

	_, err = svc.GetPasswordReset(ctx, "password_reset_01E4ZCR3C56J083X43JQXF3JK5")
	fmt.Println(errors.Is(err, reset.ErrResetNotFound))
	// Output:
	// true marcelina.davis@example.com true true
	// true
}

func ExampleService_ResetPassword() {
	svc, _ := newExampleService()
	ctx := context.Background()
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "marcelina.davis@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A weak password is refused with reasons, and the token stays usable.
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "short"})
	var weak *password.PolicyError
	if errors.As(err, &weak) {
		fmt.Println(weak.Reasons[0].Code)
	}

	user, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a much better passphrase"})
	fmt.Println(user.Email, user.EmailVerified, err)

	// The token works once.
	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: "a much better passphrase"})
	fmt.Println(err)
	// Output:
	// password_too_short
	// marcelina.davis@example.com true <nil>
	// reset: invalid token
}

// Config.Policy's Check hook refuses passwords from a breached-password list the
// host supplies (for example the top entries of a public list, loaded at
// start).
func ExampleConfig_breachedPasswords() {
	breached := []string{"Tr0ub4dor&3-breached", "another-leaked-one", "c0rrect-h0rse-leaked"}
	slices.Sort(breached)
	policy := password.Policy{
		Check: func(_ context.Context, password string, _ password.PolicyUser) error {
			if _, found := slices.BinarySearch(breached, password); found {
				return errors.New("This password has appeared in a data breach; choose another.")
			}
			return nil
		},
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, _ := reset.NewService(reset.Config{
		Store: memstore.New(), Mailer: mail.NewDev(quiet, 10), ResetURL: "https://app.example/reset-password",
		Hasher: password.Bcrypt{Cost: 4}, Policy: policy, Logger: quiet,
	})
	accounts, _ := account.New(svc, account.Config{})
	_, err := accounts.CreateUser(context.Background(), account.CreateUserParams{Email: "ana@example.com", Password: "another-leaked-one"})
	fmt.Println(err)
	// Output:
	// password: rejected: This password has appeared in a data breach; choose another.
}

// A "forgot password" handler records the request before it answers, so
// that a crash after the answer cannot lose it, then carries it out.
func ExampleService_RequestPasswordReset() {
	svc, mailbox := newExampleService()
	ctx := context.Background()

	for _, addr := range []string{"marcelina.davis@example.com", "nobody@example.com"} {
		req, err := svc.RequestPasswordReset(ctx, reset.CreatePasswordResetParams{Email: addr})
		if err != nil {
			fmt.Println("not recorded; ask to try again:", err)
			continue
		}
		// ... answer "check your email", the same for every address, then:
		err = req.Run(ctx)
		fmt.Println(addr, "->", errors.Is(err, reset.ErrUserNotFound))
	}
	fmt.Println(len(mailbox.Messages()), "email")
	// Output:
	// marcelina.davis@example.com -> false
	// nobody@example.com -> true
	// 1 email
}

// An app on one SQLite file keeps its key beside the database: made at the
// first start, the same at every later one.
func ExampleLoadKeyFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db.key")

	key, created, err := reset.LoadKeyFile(path)
	fmt.Println(len(key), created, err)
	again, created, err := reset.LoadKeyFile(path)
	fmt.Println(slices.Equal(key, again), created, err)
	// Output:
	// 32 true <nil>
	// true false <nil>
}

// A fleet reads one key from its environment.
func ExampleParseSecretKey() {
	key, err := reset.ParseSecretKey("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n")
	fmt.Println(len(key), err)
	_, err = reset.ParseSecretKey("hunter2")
	fmt.Println(err)
	// Output:
	// 32 <nil>
	// reset: secret key holds 5 bytes, fewer than 32; make one with: openssl rand -hex 32
}

// A reset by its code: the person types the address they asked with and
// the code of the email, on the page where they asked. A wrong code gets
// ErrInvalidCode, whatever the address; the right one spends the reset,
// its link included.
func ExampleService_ResetPassword_code() {
	svc, mailbox := newExampleService()
	ctx := context.Background()
	pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "marcelina.davis@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The email carries the link and the code, as "1234 5678".
	fmt.Println(strings.Contains(mailbox.Messages()[0].Text, reset.FormatCode(pr.Code)))

	_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "nobody@example.com", Code: pr.Code, NewPassword: "a much better passphrase"})
	fmt.Println(err)

	user, err := svc.ResetPassword(ctx, reset.ResetPasswordParams{Email: "marcelina.davis@example.com", Code: reset.FormatCode(pr.Code), NewPassword: "a much better passphrase"})
	fmt.Println(user.Email, err)

	_, err = svc.CheckToken(ctx, pr.Token)
	fmt.Println(err)
	// Output:
	// true
	// reset: invalid or expired code
	// marcelina.davis@example.com <nil>
	// reset: invalid token
}

// Moving from bcrypt to Argon2id by configuration: a hash of the former
// still signs in, and is upgraded then, keeping its credential stamp, so
// no session ends for it.
func ExampleConfig_argon2id() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	st := memstore.New()
	accounts := func(h password.Hasher) *account.Service {
		svc, err := reset.NewService(reset.Config{
			Store: st, Mailer: mail.NewDev(quiet, 10), ResetURL: "https://app.example/reset-password",
			Hasher: h, Logger: quiet,
		})
		if err != nil {
			panic(err)
		}
		accounts, err := account.New(svc, account.Config{})
		if err != nil {
			panic(err)
		}
		return accounts
	}
	before := accounts(password.Bcrypt{Cost: 4})
	u, err := before.CreateUser(ctx, account.CreateUserParams{Email: "ana@example.com", Password: "the old passphrase"})
	if err != nil {
		fmt.Println(err)
		return
	}
	in, _ := before.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "the old passphrase"})

	after := accounts(password.Argon2id{}) // the next deployment's configuration
	up, err := after.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: "the old passphrase"})
	fmt.Println(err, up.Stamp == in.Stamp)
	hash, _ := st.PasswordHash(ctx, u.ID)
	fmt.Println(hash[:len("$argon2id$v=19$m=19456,t=2,p=1$")])
	// Output:
	// <nil> true
	// $argon2id$v=19$m=19456,t=2,p=1$
}
