package account_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
)

// newExample returns a reset.Service over an in-memory store, with a dev
// mailbox and a fixed clock, and the account.Service built on it, with one
// user: marcelina.davis@example.com, whose password is "the old
// passphrase".
func newExample() (*reset.Service, *account.Service) {
	svc, accounts, _, err := testsvc.Demo()
	if err != nil {
		panic(err)
	}
	return svc, accounts
}

// CreateUser keeps a user in the Store, its address normalised and its
// password hashed; a taken address (in any case) and a weak password are
// refused before anything is written.
func ExampleService_CreateUser() {
	_, accounts := newExample()
	ctx := context.Background()
	u, err := accounts.CreateUser(ctx, account.CreateUserParams{
		Email: "  Ana@Example.com ", Password: "a long enough passphrase", FirstName: "Ana",
	})
	fmt.Println(u.Email, u.ID[:len("user_")], err)

	_, err = accounts.CreateUser(ctx, account.CreateUserParams{Email: "ANA@example.com"})
	fmt.Println(errors.Is(err, account.ErrEmailTaken))
	_, err = accounts.CreateUser(ctx, account.CreateUserParams{Email: "bo@example.com", Password: "password1"})
	fmt.Println(errors.Is(err, reset.ErrWeakPassword))
	// Output:
	// ana@example.com user_ <nil>
	// true
	// true
}

// Authenticate signs a user in: the SignIn's Stamp goes into the session,
// and the session is checked against it on every request
// (reset.Service.StampMatches), so that a reset or a password change ends
// it. A wrong password and an unknown address get one answer.
func ExampleService_Authenticate() {
	svc, accounts := newExample()
	ctx := context.Background()
	in, err := accounts.Authenticate(ctx, account.AuthenticateParams{
		Email: "marcelina.davis@example.com", Password: "the old passphrase",
		Client: "203.0.113.7", // the client's IP address: failures are counted per address and client
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, _ := svc.StampMatches(ctx, in.User.ID, in.Stamp)
	fmt.Println(in.User.Email, ok)

	_, err = accounts.Authenticate(ctx, account.AuthenticateParams{Email: "marcelina.davis@example.com", Password: "a guess", Client: "203.0.113.7"})
	fmt.Println(err)
	_, err = accounts.Authenticate(ctx, account.AuthenticateParams{Email: "nobody@example.com", Password: "a guess", Client: "203.0.113.7"})
	fmt.Println(errors.Is(err, account.ErrInvalidCredentials))
	// Output:
	// marcelina.davis@example.com true
	// reset: invalid credentials
	// true
}

// ChangePassword while signed in: the current password, the new one, and
// the session that asked, which stays signed in while the user's other
// sessions end (here the sessions are in the Store, so in the same
// transaction). The new credential stamp is the session's from now on.
func ExampleService_ChangePassword() {
	svc, accounts := newExample()
	ctx := context.Background()
	in, err := accounts.Authenticate(ctx, account.AuthenticateParams{Email: "marcelina.davis@example.com", Password: "the old passphrase"})
	if err != nil {
		fmt.Println(err)
		return
	}

	_, err = accounts.ChangePassword(ctx, account.ChangePasswordParams{UserID: in.User.ID, CurrentPassword: "a guess", NewPassword: "a much better passphrase"})
	fmt.Println(err)
	_, err = accounts.ChangePassword(ctx, account.ChangePasswordParams{UserID: in.User.ID, CurrentPassword: "the old passphrase", NewPassword: "qwertyuiop"})
	var weak *password.PolicyError
	if errors.As(err, &weak) {
		fmt.Println(weak.Reasons[0].Code)
	}

	ch, err := accounts.ChangePassword(ctx, account.ChangePasswordParams{
		UserID: in.User.ID, CurrentPassword: "the old passphrase", NewPassword: "a much better passphrase",
		SessionID: "session_01E4ZCR3C56J083X43JQXF3JK5", // session.FromContext(r.Context()).ID
	})
	fmt.Println(err, ch.Stamp != in.Stamp)
	stale, _ := svc.StampMatches(ctx, in.User.ID, in.Stamp)
	fresh, _ := svc.StampMatches(ctx, in.User.ID, ch.Stamp)
	fmt.Println(stale, fresh)
	// Output:
	// reset: invalid credentials
	// password_common
	// <nil> true
	// false true
}
