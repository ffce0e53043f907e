package reset

import (
	"time"

	"github.com/passreset/passreset/store"
)

// PasswordReset is a one-time password reset, shaped like WorkOS's
// password_reset object (package workos writes it as that JSON).
//
// Token, URL and Code are set only on the value CreatePasswordReset
// returns: the Store keeps the token's SHA-256 and a keyed hash of the
// code, never either, so a reset read back later has none of them (a deliberate difference from WorkOS, whose GET returns
// them).
type PasswordReset struct {
	ID        string    // "password_reset_" + ULID
	UserID    string    // the user's id, as the Store shows it
	Email     string    // the address the reset was sent to
	ExpiresAt time.Time // the token is refused from this instant on
	CreatedAt time.Time
	Token     string // plaintext token; only on the value CreatePasswordReset returns
	URL       string // ResetURL with the token; only on the value CreatePasswordReset returns
	Code      string // the short code (CodeDigits digits); only on the value CreatePasswordReset returns
}

// User is an account, as the Store shows it.
type User = store.User

// public returns the caller's view of a stored reset, without a token.
func public(r store.Reset) PasswordReset {
	return PasswordReset{ID: r.ID, UserID: r.UserID, Email: r.Email, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
}
