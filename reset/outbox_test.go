package reset_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
	"github.com/passreset/passreset/store/sqlitestore"
)

// flakyMailer fails the first attempts at each message, then delivers it,
// slowly; it records every delivery and catches two sends of one message
// at once.
type flakyMailer struct {
	failures int // attempts that fail before one succeeds, per message

	mu        sync.Mutex
	attempts  map[string]int // by recipient: one message each
	inFlight  map[string]bool
	delivered map[string]int
	overlaps  int
}

func newFlakyMailer(failures int) *flakyMailer {
	return &flakyMailer{failures: failures, attempts: map[string]int{}, inFlight: map[string]bool{}, delivered: map[string]int{}}
}

func (m *flakyMailer) Send(ctx context.Context, msg mail.Message) error {
	m.mu.Lock()
	if m.inFlight[msg.To] {
		m.overlaps++
	}
	m.inFlight[msg.To] = true
	m.attempts[msg.To]++
	fail := m.attempts[msg.To] <= m.failures
	m.mu.Unlock()

	time.Sleep(time.Millisecond) // a real server takes a while: long enough for the other dispatcher to try

	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight[msg.To] = false
	if fail {
		return &mail.SMTPError{Code: 421, Enhanced: "4.7.0"}
	}
	m.delivered[msg.To]++
	return nil
}

// TestTwoDispatchersNeverSendTwice runs two Services, as two instances of
// an app, over one SQLite file through two handles, dispatching the same
// outbox at once, with a mail server that refuses each message twice
// before taking it: every message is delivered exactly once, and never
// sent by both at the same time.
func TestTwoDispatchersNeverSendTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	stA, stB := openSQLite(t, path), openSQLite(t, path)
	key := []byte(strings.Repeat("k", 32))
	mailer := newFlakyMailer(2)
	clk := testsvc.NewClock()
	cfg := func(st store.Store) func(*reset.Config) {
		return func(c *reset.Config) {
			c.Store, c.Mailer, c.SecretKey, c.Now = st, mailer, key, clk.Now
			c.Dispatch = reset.DispatchConfig{Backoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 10}
		}
	}
	a, b := newFixture(t, cfg(stA)), newFixture(t, cfg(stB))

	const n = 120 // more than one claim takes (50), so that both dispatchers get some
	for i := range n {
		svc, accounts := a.svc, a.acct
		if i%2 == 1 {
			svc, accounts = b.svc, b.acct
		}
		email := fmt.Sprintf("user%d@example.com", i)
		_, err := accounts.CreateUser(t.Context(), account.CreateUserParams{Email: email})
		require.NoError(t, err)
		_, err = svc.CreatePasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: email})
		require.NoError(t, err, "the refused first attempt does not reach the caller")
	}

	// Rounds: both dispatchers at once, each polling several times; then
	// the clock moves past the backoff. Within a round the clock stands
	// still, so no lease runs out under a send in flight.
	var ran [2]int
	for round := 0; round < 10; round++ {
		clk.Add(2 * time.Second)
		var wg sync.WaitGroup
		for i, svc := range []*reset.Service{a.svc, b.svc} {
			wg.Go(func() {
				for range 5 {
					k, err := svc.DispatchOnce(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					ran[i] += k
				}
			})
		}
		wg.Wait()
	}

	mailer.mu.Lock()
	defer mailer.mu.Unlock()
	require.Zero(t, mailer.overlaps, "a message was being sent by both dispatchers at once")
	require.Len(t, mailer.delivered, n)
	for to, k := range mailer.delivered {
		require.Equal(t, 1, k, "%s got %d copies", to, k)
		require.Equal(t, 3, mailer.attempts[to], "%s: two refusals, one delivery", to)
	}
	require.Equal(t, 2*n, ran[0]+ran[1], "each message was retried twice by the dispatchers")
	require.Positive(t, ran[0], "both dispatchers took part")
	require.Positive(t, ran[1], "both dispatchers took part")
}

// failingRetryStore is a Store whose RetryJob fails, as if the process died
// between an attempt and recording its outcome: the job keeps its lease.
type failingRetryStore struct{ *sqlitestore.Store }

func (failingRetryStore) RetryJob(context.Context, string, time.Time, string) error {
	return errors.New("process died before recording the outcome")
}

// blockingRevoker is a host's session store that hangs, as a process that
// is killed during the call would.
type blockingRevoker struct{ called chan struct{} }

func (r blockingRevoker) RevokeUserSessions(ctx context.Context, _ string) error {
	close(r.called)
	<-ctx.Done()
	return ctx.Err()
}

// TestRevocationSurvivesACrash redeems a token on an instance whose
// SessionRevoker hangs and which then dies before recording anything
// about the attempt. Another instance over the same database, once the
// lease of the dead one has run out, revokes the sessions.
func TestRevocationSurvivesACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	key := []byte(strings.Repeat("k", 32))
	clk := testsvc.NewClock()
	// The host's sessions live elsewhere: a session.Manager over a store of
	// their own, reached through reset.Config.Sessions.
	sessions, err := session.New(session.Config{Store: memstore.New(), Now: clk.Now})
	require.NoError(t, err)

	revoker := blockingRevoker{called: make(chan struct{})}
	dying := newFixture(t, func(c *reset.Config) {
		c.Store = failingRetryStore{openSQLite(t, path)}
		c.SecretKey, c.Now, c.Sessions = key, clk.Now, revoker
	})
	u := dying.user(t, "ana@example.com")
	_, laptop, err := sessions.Create(t.Context(), u.ID, session.Metadata{})
	require.NoError(t, err)
	_, phone, err := sessions.Create(t.Context(), u.ID, session.Metadata{})
	require.NoError(t, err)
	pr := dying.createReset(t, "ana@example.com")

	ctx, kill := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := dying.svc.ResetPassword(ctx, byLink(pr))
		done <- err
	}()
	<-revoker.called // the redemption has committed; the revocation hangs
	kill()
	require.ErrorIs(t, <-done, reset.ErrSessionsNotRevoked)
	require.Contains(t, dying.logs.String(), "process died before recording the outcome")
	require.Equal(t, 1, dying.mail.Len(), "the reset email only: the notice died with the process")

	// The password is changed; the sessions are not revoked yet.
	_, err = dying.acct.Authenticate(t.Context(), account.AuthenticateParams{Email: "ana@example.com", Password: newPassphrase})
	require.NoError(t, err)
	for _, tok := range []string{laptop, phone} {
		_, err := sessions.Validate(t.Context(), tok)
		require.NoError(t, err)
	}

	// Another instance, with a working revoker and its own handle on the
	// database.
	survivor := newFixture(t, func(c *reset.Config) {
		c.Store = openSQLite(t, path)
		c.SecretKey, c.Now, c.Sessions = key, clk.Now, sessions
	})
	clk.Add(reset.DefaultLease - time.Millisecond)
	n, err := survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "the dead instance's lease still runs")

	clk.Add(time.Millisecond) // the lease, which the dead instance no longer renews, has run out
	n, err = survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n, "the revocation, and the notice the dead instance never sent")
	for _, tok := range []string{laptop, phone} {
		_, err := sessions.Validate(t.Context(), tok)
		require.ErrorIs(t, err, session.ErrRevoked)
	}
	msgs := survivor.mail.Messages()
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0].Subject, "password was changed")

	clk.Add(time.Hour)
	n, err = survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "done for good")
}

// lockDatabase holds SQLite's write lock on path, from another connection,
// until the test ends or the returned func is called.
func lockDatabase(t *testing.T, path string) (unlock func()) {
	t.Helper()
	db, err := sql.Open("sqlite3", sqlitestore.DSN(path))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	_, err = conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_, err := conn.ExecContext(context.Background(), "ROLLBACK")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// requireBusy checks that err is a clear error that wraps SQLite's busy
// error.
func requireBusy(t *testing.T, err error, op string) {
	t.Helper()
	var se sqlite3.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, sqlite3.ErrBusy, se.Code, "%v", err)
	require.ErrorContains(t, err, op)
	require.ErrorContains(t, err, "database is locked")
}

// TestLockedDatabase holds the write lock of the SQLite file from another
// connection past the store's busy timeout: CreatePasswordReset and
// ResetPassword fail with an error that wraps the driver's busy error, and
// leave nothing half-written.
func TestLockedDatabase(t *testing.T) {
	for _, limited := range []bool{true, false} {
		// With the per-address limit, its record is the first write and
		// fails; without, the reset's own transaction does.
		name, op := "rate limit record", "rate limit"
		if !limited {
			name, op = "reset transaction", "create reset"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "locked.db")
			f := newFixture(t, func(c *reset.Config) {
				c.Store = openSQLite(t, path, sqlitestore.WithBusyTimeout(50*time.Millisecond))
				c.RateLimit.Disabled = !limited
			})
			f.user(t, "ana@example.com")
			ctx := t.Context()
			older := f.createReset(t, "ana@example.com")
			f.mail.Reset()

			unlock := lockDatabase(t, path)
			start := time.Now()
			_, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
			requireBusy(t, err, op)
			require.Less(t, time.Since(start), 5*time.Second, "the short busy timeout applies")
			require.Zero(t, f.mail.Len(), "no email for a reset that was not stored")

			_, err = f.svc.ResetPassword(ctx, byLink(older))
			requireBusy(t, err, "redeem")
			require.NotContains(t, err.Error(), older.Token)
			require.Zero(t, f.mail.Len(), "no notice for a reset that did not happen")
			unlock()

			_, err = f.svc.CheckToken(ctx, older.Token)
			require.NoError(t, err, "the older reset was not ended, nor its token spent")
			_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: oldPassword})
			require.NoError(t, err, "the password is unchanged")
			_, err = f.svc.ResetPassword(ctx, byLink(older))
			require.NoError(t, err, "the token is still usable")
			_, err = f.acct.Authenticate(ctx, account.AuthenticateParams{Email: "ana@example.com", Password: newPassphrase})
			require.NoError(t, err)
		})
	}
}

// apiMailer is a Mailer of a host's own, such as a client of an HTTP email
// API: its n-th attempt fails with errs[n-1], and every attempt past the
// list delivers.
type apiMailer struct {
	errs []error

	mu        sync.Mutex
	attempts  int
	delivered []mail.Message
}

func (m *apiMailer) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	if m.attempts <= len(m.errs) {
		return m.errs[m.attempts-1]
	}
	m.delivered = append(m.delivered, msg)
	return nil
}

// TestCustomMailerFailures checks that the outbox classifies the failures
// of any Mailer by behaviour, not by type: an error that wraps
// mail.ErrPermanent fails the email at once, for good; any other is
// retried until the email is delivered, once.
func TestCustomMailerFailures(t *testing.T) {
	permanent := fmt.Errorf("emailapi: 422 recipient address rejected: %w", mail.ErrPermanent)
	temporary := errors.New("emailapi: 503 service unavailable")
	for _, tc := range []struct {
		name      string
		errs      []error
		delivered bool
		attempts  int // attempts at the reset email in the end
	}{
		{"permanent", []error{permanent}, false, 1},
		{"permanent, wrapped again", []error{fmt.Errorf("send: %w", permanent)}, false, 1},
		{"temporary", []error{temporary}, true, 2},
		{"temporary twice", []error{temporary, temporary}, true, 3},
		{"temporary then permanent", []error{temporary, permanent}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mailer := &apiMailer{errs: tc.errs}
			f := newFixture(t, func(c *reset.Config) { c.Mailer = mailer })
			f.user(t, "ana@example.com")
			ctx := t.Context()

			pr, err := f.svc.CreatePasswordReset(ctx, reset.CreatePasswordResetParams{Email: "ana@example.com"})
			require.NoError(t, err, "a mail failure never reaches the caller")
			for range 10 {
				f.clock.Add(time.Hour)
				_, err := f.svc.DispatchOnce(ctx)
				require.NoError(t, err)
			}

			mailer.mu.Lock()
			defer mailer.mu.Unlock()
			require.Equal(t, tc.attempts, mailer.attempts)
			if tc.delivered {
				require.Len(t, mailer.delivered, 1)
				require.Contains(t, mailer.delivered[0].Text, pr.Token)
				require.NotContains(t, f.logs.String(), "outbox: giving up")
			} else {
				require.Empty(t, mailer.delivered)
				require.Contains(t, f.logs.String(), "outbox: giving up")
				require.Contains(t, f.logs.String(), "recipient address rejected")
			}
		})
	}
}

// keyRecordingStore is a memstore that records the keys AllowRequest
// counts under.
type keyRecordingStore struct {
	*memstore.Store

	mu   sync.Mutex
	keys []string
}

func (s *keyRecordingStore) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return s.Store.AllowRequest(ctx, key, now, window, limit)
}

// TestSecretKeyDerivation pins the keys derived from Config.SecretKey, as
// the docs describe them: HKDF-SHA256 of SecretKey, without salt, told
// apart by their info. A queued email is sealed with AES-256-GCM under the
// outbox key, the job id as additional data; an address is counted under
// the hex HMAC-SHA256 of it, keyed with the rate-limit key. Another
// instance with the same SecretKey must open the one and count under the
// other, so neither may change unnoticed.
func TestSecretKeyDerivation(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	st := &keyRecordingStore{Store: memstore.New()}
	mailer := &apiMailer{errs: []error{errors.New("emailapi: 503 service unavailable")}}
	f := newFixture(t, func(c *reset.Config) { c.Store, c.Mailer, c.SecretKey = st, mailer, secret })
	f.user(t, "ana@example.com")
	ctx := t.Context()
	pr := f.createReset(t, "ana@example.com")

	rateKey, err := hkdf.Key(sha256.New, secret, nil, "passreset rate limit v1", 32)
	require.NoError(t, err)
	m := hmac.New(sha256.New, rateKey)
	m.Write([]byte("ana@example.com"))
	st.mu.Lock()
	require.Equal(t, []string{hex.EncodeToString(m.Sum(nil))}, st.keys)
	st.mu.Unlock()

	// The first attempt failed: the email waits in the outbox, sealed.
	f.clock.Add(time.Hour)
	jobs, err := st.ClaimJobs(ctx, f.clock.Now(), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.NotContains(t, string(jobs[0].Payload), pr.Token)
	sealKey, err := hkdf.Key(sha256.New, secret, nil, "passreset outbox seal v1", 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(sealKey)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	payload := jobs[0].Payload
	n := aead.NonceSize()
	require.Greater(t, len(payload), n)
	plain, err := aead.Open(nil, payload[:n], payload[n:], []byte(jobs[0].ID))
	require.NoError(t, err, "the payload opens under the documented key, bound to its job id")
	var msg mail.Message
	require.NoError(t, json.Unmarshal(plain, &msg))
	require.Equal(t, "ana@example.com", msg.To)
	require.Contains(t, msg.Text, pr.Token)
	_, err = aead.Open(nil, payload[:n], payload[n:], []byte("job_another"))
	require.Error(t, err, "bound to its job id")
}
