package account

import (
	"errors"
	"time"

	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
)

// Sentinel errors, matched with errors.Is. Besides these, the Service
// returns reset's: reset.ErrInvalidEmail, reset.ErrRateLimited (a
// *reset.RateLimitError), reset.ErrBusy (a *reset.BusyError),
// reset.ErrSessionsNotRevoked and password.ErrWeak (a
// *password.PolicyError). Their text never holds a password or a hash.
var (
	// ErrUserNotFound: no user has this id. It is reset.ErrUserNotFound.
	ErrUserNotFound = reset.ErrUserNotFound
	// ErrInvalidCredentials: the email or the password is wrong. It is
	// reset.ErrInvalidCredentials, which reset.Service.CheckPassword
	// returns too.
	ErrInvalidCredentials = reset.ErrInvalidCredentials
	// ErrEmailTaken: another user already has this email.
	ErrEmailTaken = store.ErrEmailTaken
	// ErrInvalidName: a first or last name holds a control, line-breaking
	// or bidirectional formatting character, or is longer than
	// MaxNameLength characters.
	ErrInvalidName = errors.New("account: invalid name")
	// ErrPasswordChanged: the password changed while ChangePassword ran
	// (another change won); nothing was changed.
	ErrPasswordChanged = store.ErrPasswordChanged
	// ErrNoUserCreator: the Store cannot create users: it does not
	// implement store.UserCreator, or its users are the host's.
	ErrNoUserCreator = store.ErrNoUserCreator
)

// defaultWindow is the default Window of both sign-in limits.
const defaultWindow = 15 * time.Minute
