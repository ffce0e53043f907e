package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"github.com/passreset/passreset/token"
)

// Defaults of the Config fields left zero.
const (
	DefaultIdleTimeout     = 24 * time.Hour      // Config.IdleTimeout
	DefaultAbsoluteTimeout = 30 * 24 * time.Hour // Config.AbsoluteTimeout
	DefaultTouchInterval   = time.Minute         // Config.TouchInterval
	DefaultCookieName      = "passreset_session" // Config.CookieName
	DefaultCookiePath      = "/"                 // Config.CookiePath
)

// maxMetadataLen bounds the bytes of Metadata kept per field: the user agent
// comes from a request header that the client chooses.
const maxMetadataLen = 512

// Config configures a Manager. Store is required; every other zero field
// means the default its comment states.
type Config struct {
	// Store keeps the sessions. Required. store/memstore, store/sqlitestore
	// and store/pgstore implement it.
	Store Store

	// IdleTimeout ends a session that has not been used for this long.
	// Default 24 hours ([DefaultIdleTimeout]); a negative value disables the
	// idle timeout, leaving only AbsoluteTimeout. Since LastSeenAt is
	// written at most once per TouchInterval, a session in use may look up
	// to TouchInterval staler than it is, so it must be shorter than
	// IdleTimeout.
	IdleTimeout time.Duration

	// AbsoluteTimeout is the longest a session lives, however busy: its
	// ExpiresAt is CreatedAt plus AbsoluteTimeout, and neither Validate nor
	// Refresh extends it. Default 30 days ([DefaultAbsoluteTimeout]); must
	// not be negative.
	AbsoluteTimeout time.Duration

	// TouchInterval is how stale LastSeenAt may get before Validate writes
	// it again, so that a signed-in request costs one read, not a read and
	// a write. Default 1 minute ([DefaultTouchInterval]); a negative value
	// makes every Validate write. Must be shorter than IdleTimeout when the
	// idle timeout is on.
	TouchInterval time.Duration

	// CookieName names the session cookie. Default "passreset_session"
	// ([DefaultCookieName]). In production, consider a name with the
	// "__Host-" prefix (for example "__Host-session"): browsers then accept
	// the cookie only when it is Secure, has Path "/" and no Domain, which
	// stops a sibling subdomain from planting one.
	CookieName string

	// CookiePath is the cookie's Path. Default "/" ([DefaultCookiePath]).
	CookiePath string

	// CookieDomain is the cookie's Domain. Default "": a host-only cookie,
	// sent back only to the host that set it, which is the safest choice.
	// Set it (for example "example.com") to share the session with
	// subdomains.
	CookieDomain string

	// InsecureCookies drops the Secure attribute, so that the cookie also
	// travels over plain http. Default false: cookies are Secure. Local
	// development rarely needs it: browsers accept and send Secure cookies
	// on http://localhost (and 127.0.0.1), which they treat as a secure
	// context. Set it only for plain http on another host name.
	InsecureCookies bool

	// Now is the clock. Default time.Now; tests replace it. Times are kept
	// in UTC, truncated to the millisecond (the precision every Store
	// keeps).
	Now func() time.Time

	// Rand is the source of tokens and of the random part of session ids.
	// Default crypto/rand.Reader. Tests may supply a deterministic reader;
	// the Manager serialises its reads, so it need not be safe for
	// concurrent use. Never anything but crypto/rand in production.
	Rand io.Reader

	// Stamps checks, on every Validate and Refresh, that a session's
	// credential stamp (Metadata.Stamp) still matches its user's: pass the
	// reset.Service. A session created without a stamp is not checked.
	// Default nil: no check, and a session lives until it is revoked or
	// expires.
	Stamps StampChecker

	// Logger receives warnings (a failed LastSeenAt write) and errors (a
	// Store failure in Middleware), and an informational line when a user's
	// sessions are revoked. It never receives a token or a hash. Default: a
	// logger that discards everything.
	Logger *slog.Logger
}

// Metadata describes the sign-in a session is created for: the device, for
// the user's list of signed-in devices (each field kept to its first 512
// bytes of valid UTF-8), and the credential stamp it was made with.
type Metadata struct {
	UserAgent string // the User-Agent header
	IPAddress string // the client's IP address, without a port
	// Stamp is the credential stamp of the password the sign-in checked
	// (account.SignIn.Stamp). With Config.Stamps set, the session is refused
	// once the stamp no longer matches its user's, that is once the
	// password changed, even when it was created after the change
	// committed by a sign-in that had checked the old password.
	Stamp string
}

// StampChecker tells whether a session's credential stamp still matches its
// user's; it returns an error only when it cannot tell. *reset.Service
// satisfies it.
type StampChecker interface {
	StampMatches(ctx context.Context, userID, stamp string) (bool, error)
}

// Manager creates, validates, lists and revokes sessions, and carries them
// in cookies. It is safe for concurrent use. Create one with New.
//
// *Manager satisfies reset.SessionRevoker through RevokeUserSessions.
type Manager struct {
	store    Store
	stamps   StampChecker  // nil: sessions are not checked against a stamp
	idle     time.Duration // <= 0: no idle timeout
	absolute time.Duration
	touch    time.Duration // >= 0
	cookie   http.Cookie   // the attributes every session cookie shares
	clock    func() time.Time
	log      *slog.Logger

	mu      sync.Mutex // guards rand and entropy
	rand    io.Reader
	entropy *ulid.MonotonicEntropy
}

// New returns a Manager for cfg. It returns an error when cfg.Store is nil
// or a field holds a value that cannot work (a negative AbsoluteTimeout, a
// TouchInterval not shorter than IdleTimeout, a cookie name or domain that
// a browser would refuse).
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("session: Config.Store is required")
	}
	m := &Manager{
		store:    cfg.Store,
		stamps:   cfg.Stamps,
		idle:     cfg.IdleTimeout,
		absolute: cfg.AbsoluteTimeout,
		touch:    cfg.TouchInterval,
		clock:    cfg.Now,
		log:      cfg.Logger,
		rand:     cfg.Rand,
	}
	switch {
	case m.idle == 0:
		m.idle = DefaultIdleTimeout
	case m.idle < 0:
		m.idle = 0
	}
	switch {
	case m.absolute == 0:
		m.absolute = DefaultAbsoluteTimeout
	case m.absolute < 0:
		return nil, fmt.Errorf("session: Config.AbsoluteTimeout is negative (%v)", m.absolute)
	}
	switch {
	case m.touch == 0:
		m.touch = DefaultTouchInterval
	case m.touch < 0:
		m.touch = 0
	}
	if m.idle > 0 && m.touch >= m.idle {
		return nil, fmt.Errorf("session: Config.TouchInterval (%v) must be shorter than IdleTimeout (%v)", m.touch, m.idle)
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	m.entropy = ulid.Monotonic(m.rand, 0)

	m.cookie = http.Cookie{
		Name:     cfg.CookieName,
		Path:     cfg.CookiePath,
		Domain:   cfg.CookieDomain,
		HttpOnly: true,
		Secure:   !cfg.InsecureCookies,
		SameSite: http.SameSiteLaxMode,
	}
	if m.cookie.Name == "" {
		m.cookie.Name = DefaultCookieName
	}
	if m.cookie.Path == "" {
		m.cookie.Path = DefaultCookiePath
	}
	probe := m.cookie
	probe.Value = strings.Repeat("A", token.Len)
	if err := probe.Valid(); err != nil {
		return nil, fmt.Errorf("session: Config cookie attributes: %w", err)
	}
	return m, nil
}

// now reads the clock once per operation: UTC, millisecond precision, no
// monotonic reading, so that a Session compares equal to its stored copy.
func (m *Manager) now() time.Time {
	return m.clock().UTC().Truncate(time.Millisecond)
}

// newToken returns a fresh token and its hash.
func (m *Manager) newToken() (string, token.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return token.New(m.rand)
}

// newID returns "session_" + a ULID for now; ids of one millisecond
// increase monotonically.
func (m *Manager) newID(now time.Time) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, err := ulid.New(ulid.Timestamp(now), m.entropy)
	if err != nil {
		return "", fmt.Errorf("session: new id: %w", err)
	}
	return "session_" + id.String(), nil
}

// Create starts a session for userID and returns it with its token, the
// only time the token exists: the Store keeps its SHA-256. The token is 43
// characters of base64url text (32 random bytes), fit for a cookie or an
// Authorization header. Most web apps call SignIn, which calls Create.
func (m *Manager) Create(ctx context.Context, userID string, meta Metadata) (Session, string, error) {
	if userID == "" {
		return Session{}, "", errors.New("session: create: empty user id")
	}
	tok, h, err := m.newToken()
	if err != nil {
		return Session{}, "", err
	}
	now := m.now()
	id, err := m.newID(now)
	if err != nil {
		return Session{}, "", err
	}
	s := Session{
		ID:         id,
		UserID:     userID,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(m.absolute),
		UserAgent:  cleanMetadata(meta.UserAgent),
		IPAddress:  cleanMetadata(meta.IPAddress),
		Stamp:      meta.Stamp,
	}
	if err := m.store.CreateSession(ctx, s, h); err != nil {
		return Session{}, "", fmt.Errorf("session: create: %w", err)
	}
	return s, tok, nil
}

// Validate returns the active session whose token is token. It returns
// ErrNotFound for a token that is malformed (refused without asking the
// Store), unknown or rotated away; ErrRevoked for a revoked session; and
// ErrExpired for a session past its ExpiresAt or idle for IdleTimeout or
// longer. Both deadlines are exclusive: at ExpiresAt exactly, the session
// has expired.
//
// Validate writes LastSeenAt only when it is TouchInterval or more behind
// the clock; otherwise it costs a single Store lookup. A failed write is
// logged and does not fail the validation.
func (m *Manager) Validate(ctx context.Context, tok string) (Session, error) {
	s, _, now, err := m.lookup(ctx, tok)
	if err != nil {
		return Session{}, err
	}
	if now.Sub(s.LastSeenAt) >= m.touch {
		switch err := m.store.TouchSession(ctx, s.ID, now); {
		case err == nil:
			s.LastSeenAt = now
		case errors.Is(err, ErrNotFound):
			return Session{}, ErrNotFound // purged meanwhile
		default:
			m.log.WarnContext(ctx, "session: cannot record last use", "session_id", s.ID, "err", err)
		}
	}
	return s, nil
}

// lookup finds the session of token and judges it at the current time,
// without writing.
func (m *Manager) lookup(ctx context.Context, tok string) (Session, token.Hash, time.Time, error) {
	if !token.WellFormed(tok) {
		return Session{}, token.Hash{}, time.Time{}, ErrNotFound
	}
	h := token.Sum(tok)
	s, err := m.store.SessionByTokenHash(ctx, h)
	if errors.Is(err, ErrNotFound) {
		m.reused(ctx, h)
		return Session{}, token.Hash{}, time.Time{}, ErrNotFound
	}
	if err != nil {
		return Session{}, token.Hash{}, time.Time{}, storeErr("validate", err)
	}
	now := m.now()
	if err := m.judge(s, now); err != nil {
		return Session{}, token.Hash{}, time.Time{}, err
	}
	if err := m.checkStamp(ctx, s, now); err != nil {
		return Session{}, token.Hash{}, time.Time{}, err
	}
	return s, h, now, nil
}

// reused handles a token that no session holds: when it is one a Refresh
// rotated away, a copy of it is in other hands (the thief's or the
// owner's), so the session is revoked, and with it the current token. The
// caller answers ErrNotFound either way, as for any unknown token.
func (m *Manager) reused(ctx context.Context, h token.Hash) {
	s, err := m.store.RevokeRetiredToken(ctx, h, m.now())
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		m.log.WarnContext(ctx, "session: cannot revoke the session of a reused token", "err", err)
	default:
		m.log.WarnContext(ctx, "session: a rotated-away token was used again: session revoked", "session_id", s.ID, "user_id", s.UserID)
	}
}

// checkStamp refuses, as revoked, a session whose credential stamp no
// longer matches its user's, and revokes it in the Store so that lists
// show it ended. A session made without a stamp, or a Manager without
// Config.Stamps, is not checked.
func (m *Manager) checkStamp(ctx context.Context, s Session, now time.Time) error {
	if m.stamps == nil || s.Stamp == "" {
		return nil
	}
	ok, err := m.stamps.StampMatches(ctx, s.UserID, s.Stamp)
	if err != nil {
		return fmt.Errorf("session: check stamp: %w", err)
	}
	if ok {
		return nil
	}
	if err := m.store.RevokeSession(ctx, s.ID, now); err != nil && !errors.Is(err, ErrNotFound) {
		m.log.WarnContext(ctx, "session: cannot revoke a session whose stamp is stale", "session_id", s.ID, "err", err)
	}
	return ErrRevoked
}

// Status judges s as Validate would now, by its times alone: nil while
// usable, ErrRevoked, or ErrExpired past its absolute or its idle timeout.
// A list of sessions uses it to show which are still active.
func (m *Manager) Status(s Session) error { return m.judge(s, m.now()) }

// Verify judges a session found by other means than its token (a signed
// access token that names it, for example) as Validate judges one found by
// its token: ErrRevoked, ErrExpired past its absolute or its idle timeout,
// ErrRevoked when its credential stamp no longer matches (Config.Stamps;
// the session is then revoked in the Store), an error when the stamp cannot
// be checked, or nil.
func (m *Manager) Verify(ctx context.Context, s Session) error {
	now := m.now()
	if err := m.judge(s, now); err != nil {
		return err
	}
	return m.checkStamp(ctx, s, now)
}

// EndsAt is when s stops being usable if nothing else happens: its
// absolute expiry or, sooner, the end of its idle timeout.
func (m *Manager) EndsAt(s Session) time.Time {
	if m.idle > 0 {
		if idle := s.LastSeenAt.Add(m.idle); idle.Before(s.ExpiresAt) {
			return idle
		}
	}
	return s.ExpiresAt
}

// judge returns nil when s is usable at now, or why not.
func (m *Manager) judge(s Session, now time.Time) error {
	switch {
	case !s.RevokedAt.IsZero():
		return ErrRevoked
	case !s.Active(now):
		return ErrExpired
	case m.idle > 0 && !now.Before(s.LastSeenAt.Add(m.idle)):
		return ErrExpired
	}
	return nil
}

// Refresh validates token as Validate does, then replaces it with a new
// one, which it returns with the session: the old token stops working at
// once. It suits API clients that hold a refresh token. Of concurrent
// refreshes of one token exactly one succeeds; the others get ErrNotFound.
// Refresh sets LastSeenAt but does not move ExpiresAt: the absolute timeout
// still counts from sign-in.
//
// A token that was already rotated away, presented again to Refresh or
// Validate, means two parties hold copies of it: the session is revoked
// (its current token with it, so both parties must sign in again) and the
// answer is ErrNotFound, as for any unknown token. A client that retries a
// refresh whose answer it lost is such a party too: it signs in again.
func (m *Manager) Refresh(ctx context.Context, tok string) (Session, string, error) {
	s, old, now, err := m.lookup(ctx, tok)
	if err != nil {
		return Session{}, "", err
	}
	tok, h, err := m.newToken()
	if err != nil {
		return Session{}, "", err
	}
	if err := m.store.RotateSessionToken(ctx, s.ID, old, h, now); err != nil {
		return Session{}, "", storeErr("refresh", err)
	}
	s.LastSeenAt = now
	return s, tok, nil
}

// Get returns the session with this id, revoked and expired ones included,
// or ErrNotFound.
func (m *Manager) Get(ctx context.Context, id string) (Session, error) {
	s, err := m.store.SessionByID(ctx, id)
	if err != nil {
		return Session{}, storeErr("get", err)
	}
	return s, nil
}

// List returns a page of the user's sessions, revoked and expired ones
// included (use Session.Active to tell them apart), ordered by id, which is
// creation order. A user with no sessions gets an empty list, not an error.
func (m *Manager) List(ctx context.Context, userID string, p ListParams) ([]Session, error) {
	ss, err := m.store.ListSessions(ctx, userID, p)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	return ss, nil
}

// Revoke ends the session with this id, for "sign out this device".
// Revoking a revoked session is not an error; an unknown id is ErrNotFound.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	if err := m.store.RevokeSession(ctx, id, m.now()); err != nil {
		return storeErr("revoke", err)
	}
	return nil
}

// RevokeUserSessions ends every active session of the user, for "sign out
// everywhere" and after a password reset: it is the method by which
// *Manager satisfies reset.SessionRevoker. It is idempotent, and returns nil
// when the user has no active session.
func (m *Manager) RevokeUserSessions(ctx context.Context, userID string) error {
	n, err := m.store.RevokeUserSessions(ctx, userID, m.now())
	if err != nil {
		return fmt.Errorf("session: revoke user sessions: %w", err)
	}
	if n > 0 {
		m.log.InfoContext(ctx, "session: revoked user sessions", "user_id", userID, "count", n)
	}
	return nil
}

// RevokeOtherSessions ends every active session of the user but keepID,
// for "sign out my other devices": it is the method by which *Manager
// satisfies account.OtherSessionsRevoker, which a password change calls
// when the sessions live outside the reset Store. It is idempotent. It
// lists the user's sessions and revokes them one by one, so it is not
// atomic; a Store that is also the reset Store revokes them in the
// password change's own transaction instead.
func (m *Manager) RevokeOtherSessions(ctx context.Context, userID, keepID string) error {
	const page = 100
	now := m.now()
	after, n := "", 0
	for {
		ss, err := m.store.ListSessions(ctx, userID, ListParams{Limit: page, After: after})
		if err != nil {
			return fmt.Errorf("session: revoke other sessions: %w", err)
		}
		for _, s := range ss {
			if s.ID == keepID || !s.Active(now) {
				continue
			}
			if err := m.store.RevokeSession(ctx, s.ID, now); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("session: revoke other sessions: %w", err)
			}
			n++
		}
		if len(ss) < page {
			break
		}
		after = ss[len(ss)-1].ID
	}
	if n > 0 {
		m.log.InfoContext(ctx, "session: revoked other sessions", "user_id", userID, "count", n)
	}
	return nil
}

// Purge deletes the sessions that expired or were revoked before before,
// and returns how many. Nothing calls it for you: a host runs it now and
// then (for example daily, with before a week ago, keeping recent sign-outs
// visible in List).
//
// A before later than the clock is refused: it would delete sessions that
// are still in use.
func (m *Manager) Purge(ctx context.Context, before time.Time) (int64, error) {
	if before.After(m.now()) {
		return 0, fmt.Errorf("session: purge: %s is in the future", before.UTC().Format(time.RFC3339))
	}
	n, err := m.store.PurgeSessions(ctx, before)
	if err != nil {
		return 0, fmt.Errorf("session: purge: %w", err)
	}
	return n, nil
}

// storeErr returns ErrNotFound unwrapped, and wraps any other Store error
// with the operation.
func storeErr(op string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf("session: %s: %w", op, err)
}

// cleanMetadata makes s valid UTF-8 without NUL bytes (which some databases
// refuse) and at most maxMetadataLen bytes, cut at a character boundary.
func cleanMetadata(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= maxMetadataLen {
		return s
	}
	i := maxMetadataLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
