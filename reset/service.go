package reset

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/store"
)

// Service runs the password-reset flow. It is safe for concurrent use.
type Service struct {
	store    store.Store
	mailer   Mailer
	sessions SessionRevoker
	hasher   password.Hasher
	policy   password.Policy
	emails   Emails
	limit    RateLimit
	codes    RateLimit
	dispatch DispatchConfig
	secrets  *secrets
	leases   *leases // the claims on jobs this Service works on, kept alive
	resetURL *url.URL
	link     resetLink // resetURL cut around the token
	from     string
	appName  string
	// msgIDDomain is the domain of the Message-IDs of the emails, From's;
	// "" when it cannot be one (an address literal), and the ids are then
	// random.
	msgIDDomain string
	ttl         time.Duration
	codeTTL     time.Duration
	now         func() time.Time
	rand        io.Reader // serialised: a Config.Rand need not be safe for concurrent use
	log         *slog.Logger
	onEvent     func(context.Context, Event)

	// renderReset and renderNotice render the two emails through the
	// templates of emails, DefaultEmails' where Config left them unset.
	renderReset, renderNotice func(from string, d EmailData) (mail.Message, error)
	renderBufs                scratch // for render

	// dispatchers counts running RunDispatcher loops; wake tells one of
	// them that a job is due now.
	dispatchers atomic.Int32
	wake        chan struct{}

	// gate caps the password hashing in flight (Config.MaxHashing);
	// flights lets one caller at a time confirm a given reset.
	gate    *hashGate
	flights flights

	// dummyHash is compared against when a sign-in names an unknown
	// email, so that both cases cost one hash comparison. It is made in
	// NewService, so that the first such sign-in costs no more than later
	// ones.
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
	u, err := CheckResetURL(cfg.ResetURL)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:    cfg.Store,
		mailer:   cfg.Mailer,
		sessions: cfg.Sessions,
		hasher:   cfg.Hasher,
		policy:   cfg.Policy,
		limit:    cfg.RateLimit,
		codes:    cfg.CodeLimit,
		codeTTL:  cfg.CodeTTL,
		dispatch: cfg.Dispatch,
		resetURL: u,
		link:     cutLink(u),
		from:     cfg.From,
		appName:  cfg.AppName,
		ttl:      cfg.TokenTTL,
		now:      cfg.Now,
		log:      cfg.Logger,
		onEvent:  cfg.OnEvent,
		wake:     make(chan struct{}, 1),
	}
	if s.hasher == nil {
		s.hasher = password.Bcrypt{}
	}
	switch h := s.hasher.(type) {
	case password.Bcrypt:
		if err := password.CheckCost(h.Cost); err != nil {
			return nil, fmt.Errorf("reset: Config.Hasher: %w", err)
		}
	case password.Argon2id:
		if err := h.Check(); err != nil {
			return nil, fmt.Errorf("reset: Config.Hasher: %w", err)
		}
	}
	if cfg.CodeTTL > MaxCodeTTL {
		return nil, fmt.Errorf("reset: Config.CodeTTL must be at most %v, got %v", MaxCodeTTL, cfg.CodeTTL)
	}
	if s.dummyHash, err = s.hasher.Hash("passreset dummy password for timing"); err != nil {
		return nil, fmt.Errorf("reset: Config.Hasher: %w", err)
	}
	if s.from == "" {
		s.from = "no-reply@" + u.Hostname()
		if _, err := netip.ParseAddr(u.Hostname()); err == nil {
			s.from = "no-reply@localhost" // an address has no mail domain
		}
	}
	from, err := netmail.ParseAddress(s.from)
	if err != nil {
		return nil, fmt.Errorf("reset: Config.From: %w", err)
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	probe := mail.Message{From: from.Address, To: from.Address, Text: ".", MessageID: "job_0@" + domain}
	if probe.Validate() == nil {
		s.msgIDDomain = domain
	}
	if s.appName == "" {
		s.appName = u.Hostname()
	}
	if s.ttl <= 0 {
		s.ttl = 15 * time.Minute
	}
	if s.codeTTL <= 0 {
		s.codeTTL = MaxCodeTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.rand = rand.Reader
	if cfg.Rand != nil {
		s.rand = &lockedReader{r: cfg.Rand}
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
	if cfg.MaxHashing < 0 || cfg.HashingWait < 0 {
		return nil, errors.New("reset: Config.MaxHashing and Config.HashingWait must not be negative")
	}
	maxHashing := cfg.MaxHashing
	if maxHashing == 0 {
		maxHashing = runtime.GOMAXPROCS(0)
	}
	s.gate = newHashGate(maxHashing, orDefault(cfg.HashingWait, DefaultHashingWait))
	if s.codes.Limit <= 0 {
		s.codes.Limit = 10
	}
	if s.codes.Window <= 0 {
		s.codes.Window = time.Hour
	}
	d := &s.dispatch
	d.Interval = orDefault(d.Interval, 5*time.Second)
	d.Backoff = orDefault(d.Backoff, 10*time.Second)
	d.MaxBackoff = orDefault(d.MaxBackoff, 30*time.Minute)
	d.Lease = orDefault(d.Lease, DefaultLease)
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 8
	}
	if d.Workers <= 0 {
		d.Workers = 8
	}
	def := DefaultEmails()
	s.emails = Emails{
		Reset:           cfg.Emails.Reset.withDefaults(def.Reset),
		PasswordChanged: cfg.Emails.PasswordChanged.withDefaults(def.PasswordChanged),
	}
	s.renderReset = func(from string, d EmailData) (mail.Message, error) { return s.render(s.emails.Reset, from, d) }
	s.renderNotice = func(from string, d EmailData) (mail.Message, error) {
		return s.render(s.emails.PasswordChanged, from, d)
	}
	key := cfg.SecretKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := io.ReadFull(s.rand, key); err != nil {
			return nil, fmt.Errorf("reset: generate SecretKey: %w", err)
		}
		if d, ok := cfg.Store.(store.Durable); ok && d.Durable() {
			s.log.Warn("reset: Config.SecretKey is not set, so this process made a key of its own, which dies with it: " +
				"mail queued before a restart cannot be opened after it, and the per-address limits start again at every restart " +
				"and count apart in every instance. Set Config.SecretKey to 32 or more random bytes, the same in every instance " +
				"and kept apart from the database (reset.LoadKeyFile keeps one in a file beside a SQLite database; " +
				"reset.ParseSecretKey reads one from the environment)")
		}
	}
	if s.secrets, err = newSecrets(key, s.rand); err != nil {
		return nil, err
	}
	s.leases = newLeases(s)
	return s, nil
}

// CheckResetURL parses the URL of a reset page as Config.ResetURL takes
// it: absolute, https (http only for a loopback host: localhost,
// 127.0.0.0/8, ::1, where the token does not cross a network), and without
// user information, which reads as one host and goes to another
// ("https://good.example@evil.example/..."). Hosts that build ResetURL from
// their own settings check them with it at start.
func CheckResetURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("reset: Config.ResetURL must be an absolute https URL, got %q", raw)
	case u.User != nil:
		return nil, errors.New("reset: Config.ResetURL must not hold user information (name@ before the host): the link would go to another host than it shows")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("reset: Config.ResetURL must be https unless its host is loopback (the token would cross the network in clear), got %q", raw)
	default:
		return nil, fmt.Errorf("reset: Config.ResetURL must be an absolute https URL, got %q", raw)
	}
	return u, nil
}

// isLoopback reports whether host names this machine: localhost or a
// loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// lockedReader serialises reads of a Config.Rand that need not be safe for
// concurrent use (a seeded test source).
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}

// ResetURL is the configured reset page, without a token: handlers that
// serve that page check their path against it.
func (s *Service) ResetURL() string { return s.resetURL.String() }

// Logger is the Service's Logger, for handlers built on it that were given
// none of their own.
func (s *Service) Logger() *slog.Logger { return s.log }

// clock returns the current time in UTC, to the millisecond: the precision
// every Store keeps and the wire format shows.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) newID(prefix string, now time.Time) (string, error) {
	id, err := ulid.New(ulid.Timestamp(now), s.rand)
	if err != nil {
		return "", fmt.Errorf("reset: new id: %w", err)
	}
	return prefix + id.String(), nil
}

// allow applies a per-address rate limit, counted under key: the address
// itself for reset emails, or the address behind a prefix no address can
// carry (a colon is not allowed unquoted) for code guesses and password
// changes.
func (s *Service) allow(ctx context.Context, limit RateLimit, key string, now time.Time) error {
	if limit.Disabled {
		return nil
	}
	ok, retryAt, err := s.store.AllowRequest(ctx, s.secrets.rateLimitKey(key), now, limit.Window, limit.Limit)
	if err != nil {
		return fmt.Errorf("reset: rate limit: %w", err)
	}
	if !ok {
		return &RateLimitError{RetryAt: retryWithin(retryAt, now, limit.Window), now: now}
	}
	return nil
}

// retryWithin caps a retry time at one window from now, whatever the Store
// says: records a fast clock wrote must not push it out.
func retryWithin(retryAt, now time.Time, window time.Duration) time.Time {
	if latest := now.Add(window); retryAt.After(latest) {
		return latest
	}
	return retryAt
}

// checkPolicy applies the Policy to a normalised password, RejectCurrent
// included.
func (s *Service) checkPolicy(ctx context.Context, pw string, u password.PolicyUser) error {
	if err := s.policy.Validate(ctx, pw, u); err != nil {
		return err
	}
	return s.rejectCurrent(ctx, pw, u.ID)
}

// rejectCurrent applies Policy.RejectCurrent: the user's current password
// is refused as the new one.
func (s *Service) rejectCurrent(ctx context.Context, pw, userID string) error {
	if !s.policy.RejectCurrent || userID == "" {
		return nil
	}
	hash, err := s.store.PasswordHash(ctx, userID)
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		return fmt.Errorf("reset: policy: %w", err)
	}
	if hash == "" {
		return nil
	}
	switch err := s.compare(ctx, "user:"+userID, hash, pw); {
	case err == nil:
		return password.Reused()
	case errors.Is(err, ErrBusy):
		return err
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
	pr.Token, pr.URL, pr.Code = "", "", ""
	s.onEvent(ctx, Event{ID: id, Event: name, Data: pr, CreatedAt: now})
}
