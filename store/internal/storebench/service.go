package storebench

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
)

// ResetURL is the passreset side's reset.Config.ResetURL.
const ResetURL = "https://app.example/reset-password"

var secret = []byte("passreset benchmark secret key, 32+ bytes")

// discardMailer sends nothing: a benchmark measures the module, not a
// mail server, and a recorder would grow with every iteration.
type discardMailer struct{}

func (discardMailer) Send(context.Context, mail.Message) error { return nil }

// NoWorkHasher is a Hasher that does no work, so that what a redemption
// costs besides bcrypt shows.
type NoWorkHasher struct{}

// Hash returns PasswordHash.
func (NoWorkHasher) Hash(string) (string, error) { return PasswordHash, nil }

// Compare accepts any password against PasswordHash.
func (NoWorkHasher) Compare(hash, _ string) error {
	if hash != PasswordHash {
		return reset.ErrInvalidCredentials
	}
	return nil
}

// NewService returns a Service over st with the defaults but for the
// Mailer (nil: one that discards), the Logger and the rate limit (see the
// package doc); hasher nil means the default, bcrypt at cost 12.
func NewService(tb testing.TB, st store.Store, hasher password.Hasher, m reset.Mailer) *reset.Service {
	tb.Helper()
	if m == nil {
		m = discardMailer{}
	}
	svc, err := reset.NewService(reset.Config{
		Store:     st,
		Mailer:    m,
		ResetURL:  ResetURL,
		Hasher:    hasher,
		SecretKey: secret,
		RateLimit: reset.RateLimit{Limit: RateLimit},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// NewManager returns a session Manager over st with the defaults; now nil
// means time.Now.
func NewManager(tb testing.TB, st session.Store, now func() time.Time) *session.Manager {
	tb.Helper()
	m, err := session.New(session.Config{Store: st, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// sizer is a Store that records the size of every job's payload it is
// handed.
type sizer struct {
	store.Store
	mu    sync.Mutex
	sizes []int
}

func (s *sizer) record(jobs []store.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		s.sizes = append(s.sizes, len(j.Payload))
	}
}

func (s *sizer) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	s.record(jobs)
	return s.Store.CreateReset(ctx, r, jobs)
}

func (s *sizer) RedeemReset(ctx context.Context, r store.Redemption) (store.Redeemed, error) {
	s.record(r.Jobs)
	return s.Store.RedeemReset(ctx, r)
}

// payloads are blobs of the sizes of the module's sealed reset email and
// password-changed notice for a seeded user, which the raw side stores in
// their place.
type payloads struct {
	once          sync.Once
	email, notice []byte
	err           error
}

func (p *payloads) get(tb testing.TB, d Dialect) (email, notice []byte) {
	tb.Helper()
	p.once.Do(func() {
		ctx := context.Background()
		sz := &sizer{Store: d.Seeded(tb, Spec{Users: 1, Resets: 1, Sessions: 1, Now: time.Now().UTC()}).Store(tb)}
		svc := NewService(tb, sz, NoWorkHasher{}, nil)
		pr, err := svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: Email(0)})
		if err == nil {
			_, err = svc.ResetPassword(ctx, reset.ResetPasswordParams{Token: pr.Token, NewPassword: Password})
		}
		if err == nil && (len(sz.sizes) != 2 || sz.sizes[0] == 0 || sz.sizes[1] == 0) {
			err = errors.New("payload sizes not found")
		}
		if err != nil {
			p.err = err
			return
		}
		p.email = []byte(strings.Repeat("e", sz.sizes[0]))
		p.notice = []byte(strings.Repeat("n", sz.sizes[1]))
	})
	if p.err != nil {
		tb.Fatal(p.err)
	}
	return p.email, p.notice
}
