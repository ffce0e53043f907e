package reset

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

// Mailer sends one email. mail.SMTP, mail.Dev and mailtest.Recorder
// satisfy it. Send may be called from several goroutines at once.
//
// A failed Send is retried by the dispatcher (Service.RunDispatcher), with
// backoff, up to DispatchConfig.MaxAttempts attempts in all, unless its
// error matches mail.ErrPermanent (errors.Is): then the email is given up
// at once. A Mailer says a failure is permanent by wrapping
// mail.ErrPermanent, as mail.SMTP does for a 5xx reply; a client of an
// HTTP email API might do so when the API refuses the address.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// SessionRevoker ends every session of a user. A host whose sessions live
// outside the Store (another database, a cache, a JWT deny list) supplies
// one so that a password reset signs the user out everywhere.
//
// RevokeUserSessions must be idempotent: a failed call is retried by the
// dispatcher until it succeeds.
type SessionRevoker interface {
	RevokeUserSessions(ctx context.Context, userID string) error
}

// Config configures a Service. Store, Mailer and ResetURL are required;
// every other zero field means the default its comment states.
type Config struct {
	// Store reads the host's users and keeps passreset's resets, rate-limit
	// records and outbox. Required: store/sqlitestore, store/pgstore (over
	// the host's users table or passreset's own) or store/memstore.
	Store store.Store

	// Mailer sends the reset and password-changed emails. Required.
	Mailer Mailer

	// Sessions is the host's session revoker. Leave it nil when the
	// sessions live in Store (session.Manager over the same memstore,
	// sqlitestore or pgstore): RedeemReset then revokes them in the same
	// transaction that spends the token. Set it when sessions live
	// elsewhere; it then runs before ResetPassword reports success, and
	// a failure is queued and retried by the dispatcher. When it also
	// implements account.OtherSessionsRevoker, a password change
	// (package account's ChangePassword) ends the user's other sessions
	// through it, durably too.
	Sessions SessionRevoker

	// ResetURL is the page of the host's that takes the token, for example
	// "https://app.example/reset-password". The token is added as the
	// "token" query parameter. It is configuration, never taken from a
	// request's Host header. Required: an absolute https URL (http only
	// for a loopback host), without user information; see CheckResetURL.
	ResetURL string

	// From is the sender of every email. Default "no-reply@" + ResetURL's
	// host ("no-reply@localhost" when that host is an IP address).
	From string

	// AppName names the application in emails. Default: ResetURL's host.
	AppName string

	// TokenTTL is how long a reset token stays usable. Default 15 minutes.
	TokenTTL time.Duration

	// CodeTTL is how long a reset's code stays usable, at most MaxCodeTTL
	// (10 minutes) and never longer than the link. Default MaxCodeTTL.
	CodeTTL time.Duration

	// CodeLimit caps code guesses per address, counted in the Store before
	// the code is checked, known addresses and unknown alike, right
	// guesses included. The zero value is the default: 10 per hour. Each
	// code also dies after CodeTries wrong guesses.
	CodeLimit RateLimit

	// Hasher hashes and checks passwords. Default password.Bcrypt at cost
	// 12, which refuses passwords over 72 bytes instead of truncating them.
	// password.Argon2id is the other choice; each verifies the other's
	// hashes. When the Hasher is a password.Rehasher (both are), a
	// successful sign-in (package account's Authenticate) replaces a hash
	// made with other parameters or the other algorithm, so that changing
	// this field upgrades every user at their next sign-in, without
	// signing anyone out.
	Hasher password.Hasher

	// Policy decides which new passwords are accepted, for a reset, a
	// change and a new user alike. The zero Policy is the default: 8 to 72
	// bytes (at least 8 characters), not the email, not one of the most
	// common passwords (password.IsCommon). Set Policy.Check to
	// password.Pwned{}.Check to refuse breached passwords too.
	Policy password.Policy

	// Emails renders the two emails. Nil fields use DefaultEmails'.
	Emails Emails

	// RateLimit caps reset emails per address. The zero value is the
	// default: 3 per 15 minutes.
	RateLimit RateLimit

	// MaxHashing caps the password hashes and comparisons (bcrypt,
	// Argon2id) the Service runs at once, each a core's work for a few
	// hundred milliseconds: its redemptions, CheckPassword, and the
	// sign-ins, password changes and new users of an account.Service built
	// on it, all together. One client (account.AuthenticateParams.Client)
	// runs at most half of them (at least one), so that a flood from one
	// client leaves room for the others. A call that finds no slot waits up to
	// HashingWait, then returns a *BusyError (matching ErrBusy) and does
	// nothing: hosts answer 503 with its Retry-After. Nothing queues
	// longer. Default: runtime.GOMAXPROCS(0), the cores Go runs on.
	MaxHashing int

	// HashingWait is how long a call waits for a hashing slot before
	// ErrBusy. Default 1 second (DefaultHashingWait).
	HashingWait time.Duration

	// SecretKey, at least 32 bytes, seals queued emails and reset requests
	// in the outbox (AES-256-GCM) and keys the rate-limit hash of
	// addresses. Every instance of an app must share it, and it must
	// outlive restarts: keep it apart from the database (a database reader
	// without it cannot open the queued mail). ParseSecretKey reads one
	// from text (an environment variable); LoadKeyFile keeps one in a file
	// beside a SQLite database, made at first start.
	//
	// Default: a random key per Service, which suits tests and a store
	// that dies with the process (memstore). On a store.Durable store
	// NewService then warns, at level Warn: mail queued before a restart
	// cannot be opened after it (such a job is left for an instance that
	// has the right key, and failed after a day), and the per-address
	// limits start again at every restart and count apart in every
	// instance.
	SecretKey []byte

	// Dispatch tunes the outbox dispatcher.
	Dispatch DispatchConfig

	// Now is the clock. Default time.Now. Tests replace it.
	Now func() time.Time

	// Rand is the entropy for tokens, ids and nonces. Default crypto/rand.
	Rand io.Reader

	// Logger receives operational logs, never a token, password or hash.
	// Default slog.Default().
	Logger *slog.Logger

	// OnEvent, when set, is called after each password_reset.created and
	// password_reset.succeeded, synchronously; it must not block for long.
	OnEvent func(context.Context, Event)
}

// RateLimit caps how many requests one address may make in a sliding
// window: reset emails (Config.RateLimit), code guesses
// (Config.CodeLimit), or failed sign-ins (account.Config's SignInLimit and
// SignInAddressLimit).
type RateLimit struct {
	// Limit is the number of requests allowed per Window. Default 3 for
	// RateLimit, 10 for CodeLimit (and account's SignInLimit), 100 for
	// account's SignInAddressLimit.
	Limit int
	// Window is the sliding window. Default 15 minutes (an hour for
	// CodeLimit).
	Window time.Duration
	// Disabled turns the limit off.
	Disabled bool
}

// DispatchConfig tunes the outbox dispatcher.
type DispatchConfig struct {
	// Interval between polls of the outbox. Default 5 seconds.
	Interval time.Duration
	// Workers is how many jobs one dispatcher runs at once (the Mailer's
	// Send and the SessionRevoker are called concurrently). Default 8.
	Workers int
	// MaxAttempts is how many times an email is tried before it is marked
	// failed. Default 8. Session revocations are retried until they succeed.
	MaxAttempts int
	// Backoff is the wait after the first failure; it doubles with every
	// further failure up to MaxBackoff. Default 10 seconds.
	Backoff time.Duration
	// MaxBackoff caps the wait between attempts. Default 30 minutes.
	MaxBackoff time.Duration
	// Lease is how long a claim on a job lasts without renewal. A process
	// renews the claims it holds every Lease/3 while it works on them, so a
	// slow email keeps its job; a process that dies stops renewing, and a
	// dispatcher (of another instance, or of the restarted process) takes
	// its jobs once their leases end, within Lease of the death. A claim
	// this process could not renew within 2/3 of a Lease is given up: its
	// work is cancelled, so that two live processes never run one job at
	// once. Default 10 seconds (DefaultLease).
	Lease time.Duration
}

// DefaultLease is DispatchConfig.Lease's default.
const DefaultLease = 10 * time.Second

// Event is a notification of something that happened, shaped like a WorkOS
// event (package workos writes it as that JSON). Data holds no secret: a
// PasswordReset without token, URL or code.
type Event struct {
	ID        string // "event_" + ULID
	Event     string // EventPasswordResetCreated or EventPasswordResetSucceeded
	Data      PasswordReset
	CreatedAt time.Time
}

// Event names.
const (
	EventPasswordResetCreated   = "password_reset.created"
	EventPasswordResetSucceeded = "password_reset.succeeded"
)
