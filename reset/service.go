package reset

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/mail"
)

// Service runs the password-reset flow. It is safe for concurrent use.
type Service struct {
	store    Store
	mailer   Mailer
	sessions SessionRevoker
	hasher   Hasher
	policy   Policy
	emails   Emails
	limit    RateLimit
	signIn   RateLimit
	dispatch DispatchConfig
	secrets  *secrets
	resetURL *url.URL
	from     string
	appName  string
	ttl      time.Duration
	now      func() time.Time
	rand     io.Reader
	randMu   sync.Mutex // guards rand for ULIDs and tokens when it is not crypto/rand
	log      *slog.Logger
	onEvent  func(context.Context, Event)

	// renderReset and renderNotice render the two emails: the templates
	// of emails, or, for an email left to the defaults, the same bytes
	// written out in Go (defaultemails.go).
	renderReset, renderNotice func(from string, d EmailData) (mail.Message, error)

	// dispatchers counts running RunDispatcher loops; wake tells one of
	// them that a job is due now.
	dispatchers atomic.Int32
	wake        chan struct{}

	// dummyHash is compared against when a sign-in names an unknown
	// email, so that both cases cost one hash comparison.
	dummyOnce sync.Once
	dummyHash string
}

// NewService checks cfg, fills in its defaults and returns a Service. A
// missing Store, Mailer or ResetURL is an error that names the field.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("reset: Config.Store is required")
	}
	if cfg.Mailer == nil {
		return nil, errors.New("reset: Config.Mailer is required")
	}
	if cfg.ResetURL == "" {
		return nil, errors.New("reset: Config.ResetURL is required")
	}
	u, err := url.Parse(cfg.ResetURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("reset: Config.ResetURL must be an absolute http(s) URL, got %q", cfg.ResetURL)
	}
	s := &Service{
		store:    cfg.Store,
		mailer:   cfg.Mailer,
		sessions: cfg.Sessions,
		hasher:   cfg.Hasher,
		policy:   cfg.Policy,
		limit:    cfg.RateLimit,
		signIn:   cfg.SignInLimit,
		dispatch: cfg.Dispatch,
		resetURL: u,
		from:     cfg.From,
		appName:  cfg.AppName,
		ttl:      cfg.TokenTTL,
		now:      cfg.Now,
		rand:     cfg.Rand,
		log:      cfg.Logger,
		onEvent:  cfg.OnEvent,
		wake:     make(chan struct{}, 1),
	}
	if s.hasher == nil {
		s.hasher = BcryptHasher{Cost: cfg.BcryptCost}
	}
	if cfg.BcryptCost != 0 && (cfg.BcryptCost < 4 || cfg.BcryptCost > 31) {
		return nil, fmt.Errorf("reset: Config.BcryptCost must be between 4 and 31, got %d", cfg.BcryptCost)
	}
	if s.from == "" {
		s.from = "no-reply@" + u.Hostname()
	}
	if _, err := netmail.ParseAddress(s.from); err != nil {
		return nil, fmt.Errorf("reset: Config.From: %w", err)
	}
	if s.appName == "" {
		s.appName = u.Hostname()
	}
	if s.ttl <= 0 {
		s.ttl = 15 * time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.limit.Limit <= 0 {
		s.limit.Limit = 3
	}
	if s.limit.Window <= 0 {
		s.limit.Window = 15 * time.Minute
	}
	if s.signIn.Limit <= 0 {
		s.signIn.Limit = 10
	}
	if s.signIn.Window <= 0 {
		s.signIn.Window = 15 * time.Minute
	}
	d := &s.dispatch
	d.Interval = orDefault(d.Interval, 5*time.Second)
	d.Backoff = orDefault(d.Backoff, 10*time.Second)
	d.MaxBackoff = orDefault(d.MaxBackoff, 30*time.Minute)
	d.Lease = orDefault(d.Lease, 2*time.Minute)
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 8
	}
	def := DefaultEmails()
	s.emails = Emails{
		Reset:           cfg.Emails.Reset.withDefaults(def.Reset),
		PasswordChanged: cfg.Emails.PasswordChanged.withDefaults(def.PasswordChanged),
	}
	s.renderReset, s.renderNotice = s.emails.Reset.render, s.emails.PasswordChanged.render
	if cfg.Emails.Reset == (EmailTemplate{}) {
		s.renderReset = renderDefaultReset
	}
	if cfg.Emails.PasswordChanged == (EmailTemplate{}) {
		s.renderNotice = renderDefaultPasswordChanged
	}
	key := cfg.SecretKey
	if key == nil {
		key = make([]byte, 32)
		if _, err := io.ReadFull(s.rand, key); err != nil {
			return nil, fmt.Errorf("reset: generate SecretKey: %w", err)
		}
	}
	if s.secrets, err = newSecrets(key, s); err != nil {
		return nil, err
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Read makes the Service the io.Reader of its own entropy, serialised, so a
// Config.Rand that is not safe for concurrent use (a seeded test source)
// still is.
func (s *Service) Read(p []byte) (int, error) {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return io.ReadFull(s.rand, p)
}

// ResetURL is the configured reset page, without a token: handlers that
// serve that page check their path against it.
func (s *Service) ResetURL() string { return s.resetURL.String() }

// clock returns the current time in UTC, to the millisecond: the precision
// every Store keeps and the wire format shows.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) newID(prefix string, now time.Time) (string, error) {
	id, err := ulid.New(ulid.Timestamp(now), s)
	if err != nil {
		return "", fmt.Errorf("reset: new id: %w", err)
	}
	return prefix + id.String(), nil
}

// tokenLen is the length of a token's text: 32 random bytes in unpadded
// URL-safe base64.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

func (s *Service) newToken() (string, error) {
	var b [32]byte
	if _, err := s.Read(b[:]); err != nil {
		return "", fmt.Errorf("reset: new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// wellFormedToken reports whether tok could be a token this package made,
// without touching the Store.
func wellFormedToken(tok string) bool {
	if len(tok) != tokenLen {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if !tokenAlphabet[tok[i]] {
			return false
		}
	}
	return true
}

// tokenAlphabet tells the bytes of unpadded URL-safe base64: one lookup a
// character keeps the cheap rejection cheap.
var tokenAlphabet = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// NormalizeEmail trims an address and lower-cases it, and checks that it is
// a bare address ("name@example.com", no display name). It returns
// ErrInvalidEmail otherwise.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || len(e) > 320 {
		return "", ErrInvalidEmail
	}
	a, err := netmail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// CreatePasswordResetParams are the inputs of CreatePasswordReset.
type CreatePasswordResetParams struct {
	Email string
}

// CreatePasswordReset issues a one-time reset token for the user with this
// email, queues the reset email and sends it, and returns the reset with
// its token and URL: the only time they exist outside the email.
//
// Creating a reset ends the user's older unused resets. A failure to send
// the email is not an error: the email stays in the outbox, and the
// dispatcher (RunDispatcher) retries it.
//
// Errors: ErrInvalidEmail; a *RateLimitError (matching ErrRateLimited) when
// the address has had too many resets lately, known or not;
// ErrUserNotFound when no user has the address.
func (s *Service) CreatePasswordReset(ctx context.Context, p CreatePasswordResetParams) (PasswordReset, error) {
	email, err := NormalizeEmail(p.Email)
	if err != nil {
		return PasswordReset{}, err
	}
	now := s.clock()
	if err := s.allow(ctx, s.limit, email, now); err != nil {
		return PasswordReset{}, err
	}
	user, err := s.store.UserByEmail(ctx, email)
	if err != nil {
		return PasswordReset{}, fmt.Errorf("reset: create: %w", err)
	}
	token, err := s.newToken()
	if err != nil {
		return PasswordReset{}, err
	}
	id, err := s.newID("password_reset_", now)
	if err != nil {
		return PasswordReset{}, err
	}
	pr := PasswordReset{
		ID:        id,
		UserID:    user.ID,
		Email:     user.Email,
		CreatedAt: now,
		ExpiresAt: now.Add(s.ttl),
		Token:     token,
		URL:       s.linkFor(token),
	}
	msg, err := s.renderReset(s.from, EmailData{
		AppName: s.appName, Email: user.Email, Name: user.Name(), URL: pr.URL,
		ExpiresAt: pr.ExpiresAt, ExpiresIn: humanDuration(s.ttl), Time: now,
	})
	if err != nil {
		return PasswordReset{}, fmt.Errorf("reset: render reset email: %w", err)
	}
	job, err := s.emailJob(user.ID, msg, now)
	if err != nil {
		return PasswordReset{}, err
	}
	stored := StoredReset{ID: pr.ID, UserID: pr.UserID, Email: pr.Email, TokenHash: HashToken(token), CreatedAt: now, ExpiresAt: pr.ExpiresAt}
	if err := s.store.CreateReset(ctx, stored, []Job{job}); err != nil {
		return PasswordReset{}, fmt.Errorf("reset: create: %w", err)
	}
	s.log.InfoContext(ctx, "password reset created", "reset_id", pr.ID, "user_id", pr.UserID)
	s.runJob(ctx, job, msg)
	s.emit(ctx, EventPasswordResetCreated, pr, now)
	return pr, nil
}

// allow applies a per-address rate limit, counted under key: the address
// itself for reset emails, or the address behind a prefix no address can
// carry (a colon is not allowed unquoted) for sign-in attempts.
func (s *Service) allow(ctx context.Context, limit RateLimit, key string, now time.Time) error {
	if limit.Disabled {
		return nil
	}
	ok, retryAt, err := s.store.AllowRequest(ctx, s.secrets.rateLimitKey(key), now, limit.Window, limit.Limit)
	if err != nil {
		return fmt.Errorf("reset: rate limit: %w", err)
	}
	if !ok {
		return &RateLimitError{RetryAt: retryAt, now: now}
	}
	return nil
}

func (s *Service) linkFor(token string) string {
	u := *s.resetURL
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// GetPasswordReset returns the reset with this id, without its token or URL
// (only the token's hash is kept), or ErrResetNotFound.
func (s *Service) GetPasswordReset(ctx context.Context, id string) (PasswordReset, error) {
	r, err := s.store.ResetByID(ctx, id)
	if err != nil {
		return PasswordReset{}, fmt.Errorf("reset: get: %w", err)
	}
	return r.PasswordReset(), nil
}

// CheckToken reports whether token can still reset a password, without
// spending it: a reset page calls it on GET, which mail scanners also
// send. It returns the reset (without token) or ErrInvalidToken or
// ErrTokenExpired, in microseconds.
func (s *Service) CheckToken(ctx context.Context, token string) (PasswordReset, error) {
	r, err := s.lookup(ctx, token)
	if err != nil {
		return PasswordReset{}, err
	}
	return r.PasswordReset(), nil
}

// lookup finds the usable reset a token belongs to: the cheap rejection that
// comes before any bcrypt work.
func (s *Service) lookup(ctx context.Context, token string) (StoredReset, error) {
	if !wellFormedToken(token) {
		return StoredReset{}, ErrInvalidToken
	}
	r, err := s.store.ResetByTokenHash(ctx, HashToken(token))
	if errors.Is(err, ErrResetNotFound) {
		return StoredReset{}, ErrInvalidToken
	}
	if err != nil {
		return StoredReset{}, fmt.Errorf("reset: look up token: %w", err)
	}
	if err := r.Status(s.clock()); err != nil {
		return StoredReset{}, err
	}
	return r, nil
}

// ResetPasswordParams are the inputs of ResetPassword.
type ResetPasswordParams struct {
	Token       string
	NewPassword string
}

// ResetPassword redeems a token: it sets the user's new password, marks
// their email verified and signs them out everywhere, then sends a
// password-changed notice.
//
// A malformed, unknown, spent or expired token is refused before any
// password hashing (ErrInvalidToken, ErrTokenExpired). A password the
// policy refuses is a *PolicyError (matching ErrWeakPassword) and leaves
// the token usable. Of concurrent calls with one token exactly one
// succeeds.
//
// When Config.Sessions is set and fails, the password is changed all the
// same and the user is returned with an error matching
// ErrSessionsNotRevoked; the revocation is retried by the dispatcher.
func (s *Service) ResetPassword(ctx context.Context, p ResetPasswordParams) (User, error) {
	r, err := s.lookup(ctx, p.Token)
	if err != nil {
		return User{}, err
	}
	password := NormalizePassword(p.NewPassword)
	if err := s.checkPolicy(ctx, password, PolicyUser{ID: r.UserID, Email: r.Email}); err != nil {
		return User{}, err
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return User{}, fmt.Errorf("reset: hash password: %w", err)
	}
	now := s.clock()
	var jobs []Job
	var revoke Job
	if s.sessions != nil {
		id, err := s.newID("job_", now)
		if err != nil {
			return User{}, err
		}
		revoke = Job{ID: id, Kind: JobRevokeSessions, UserID: r.UserID, RunAt: now, ClaimedUntil: now.Add(s.dispatch.Lease), CreatedAt: now}
		jobs = append(jobs, revoke)
	}
	notice, err := s.renderNotice(s.from, EmailData{AppName: s.appName, Email: r.Email, Time: now})
	if err != nil {
		return User{}, fmt.Errorf("reset: render notice: %w", err)
	}
	noticeJob, err := s.emailJob(r.UserID, notice, now)
	if err != nil {
		return User{}, err
	}
	// With a dispatcher running, the notice leaves the caller's path: it
	// is queued due now and the dispatcher woken. Without one, it is sent
	// here, after the commit.
	background := s.dispatchers.Load() > 0
	if background {
		noticeJob.ClaimedUntil, noticeJob.Attempts = time.Time{}, 0
	}
	jobs = append(jobs, noticeJob)

	red, err := s.store.RedeemReset(ctx, Redemption{ResetID: r.ID, UserID: r.UserID, PasswordHash: hash, Now: now, Jobs: jobs})
	switch {
	case errors.Is(err, ErrResetNotFound):
		return User{}, ErrInvalidToken // purged since the lookup
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrTokenExpired):
		return User{}, err
	case err != nil:
		return User{}, fmt.Errorf("reset: redeem: %w", err)
	}
	s.log.InfoContext(ctx, "password reset redeemed", "reset_id", r.ID, "user_id", r.UserID, "sessions_revoked", red.SessionsRevoked)

	var revokeErr error
	if s.sessions != nil {
		if err := s.runJob(ctx, revoke, mail.Message{}); err != nil {
			revokeErr = fmt.Errorf("%w: %w", ErrSessionsNotRevoked, err)
		}
	}
	if background {
		s.wakeDispatcher()
	} else {
		s.runJob(ctx, noticeJob, notice)
	}
	s.emit(ctx, EventPasswordResetSucceeded, r.PasswordReset(), now)
	return red.User, revokeErr
}

func (s *Service) checkPolicy(ctx context.Context, password string, u PolicyUser) error {
	if reasons := s.policy.check(password, u.Email); len(reasons) > 0 {
		return &PolicyError{Reasons: reasons}
	}
	if s.policy.RejectCurrent {
		hash, err := s.store.PasswordHash(ctx, u.ID)
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return fmt.Errorf("reset: policy: %w", err)
		}
		if hash != "" && s.hasher.Compare(hash, password) == nil {
			return &PolicyError{Reasons: []PolicyReason{{ReasonReused, "The new password must differ from the current one."}}}
		}
	}
	if s.policy.Check != nil {
		if err := s.policy.Check(ctx, password, u); err != nil {
			var pe *PolicyError
			if errors.As(err, &pe) {
				return pe
			}
			return &PolicyError{Reasons: []PolicyReason{{ReasonRejected, err.Error()}}}
		}
	}
	return nil
}

func (s *Service) emit(ctx context.Context, name string, pr PasswordReset, now time.Time) {
	if s.onEvent == nil {
		return
	}
	id, err := s.newID("event_", now)
	if err != nil {
		s.log.WarnContext(ctx, "event id", "err", err)
		return
	}
	pr.Token, pr.URL = "", ""
	s.onEvent(ctx, Event{ID: id, Event: name, Data: pr, CreatedAt: now})
}
