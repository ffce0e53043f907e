package reset_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/internal/testfix/testsvc"
	"github.com/passreset/passreset/mail"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
)

// deadStore is the Store as a process that has died sees it, from the
// moment die is called: nothing it writes arrives any more (renewals,
// outcomes), and whatever it was waiting for never comes back. Before that
// it is the memstore it wraps.
type deadStore struct {
	*memstore.Store
	mu   sync.Mutex
	dead bool
}

var errDead = errors.New("the process died")

func (s *deadStore) die() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = true
}

func (s *deadStore) isDead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

func (s *deadStore) RenewJobs(ctx context.Context, jobs []store.Job, now, until time.Time) ([]string, error) {
	if s.isDead() {
		return nil, errDead
	}
	return s.Store.RenewJobs(ctx, jobs, now, until)
}

func (s *deadStore) FinishJob(ctx context.Context, id string, now time.Time) error {
	if s.isDead() {
		return errDead
	}
	return s.Store.FinishJob(ctx, id, now)
}

func (s *deadStore) RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error {
	if s.isDead() {
		return errDead
	}
	return s.Store.RetryJob(ctx, id, runAt, lastError)
}

func (s *deadStore) FailJob(ctx context.Context, id string, now time.Time, lastError string) error {
	if s.isDead() {
		return errDead
	}
	return s.Store.FailJob(ctx, id, now, lastError)
}

// twoInstances is a dying instance and a survivor (another instance, or
// the same app restarted) over one store, with one key and one clock.
func twoInstances(t *testing.T) (dying, survivor *fixture, dead *deadStore) {
	t.Helper()
	st := memstore.New()
	dead = &deadStore{Store: st}
	key := []byte(strings.Repeat("k", 32))
	dying = newFixture(t, func(c *reset.Config) { c.Store, c.SecretKey = dead, key })
	survivor = newFixture(t, func(c *reset.Config) { c.Store, c.SecretKey, c.Now = st, key, dying.clock.Now })
	return dying, survivor, dead
}

// TestRequestSurvivesACrashBeforeItsWork: a reset request recorded by one
// process that dies before doing the work is carried out by a dispatcher
// once the request's lease ends; for an address without an account it is
// done without an email.
func TestRequestSurvivesACrashBeforeItsWork(t *testing.T) {
	dying, survivor, dead := twoInstances(t)
	dying.user(t, "ana@example.com")
	for _, addr := range []string{"ana@example.com", "nobody@example.com"} {
		_, err := dying.svc.RequestPasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: addr})
		require.NoError(t, err)
	}
	dead.die() // before Run

	dying.clock.Add(reset.DefaultLease - time.Millisecond)
	n, err := survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "taken while the dead process's lease ran")

	dying.clock.Add(time.Millisecond)
	n, err = survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n, "both requests carried out")
	msgs := survivor.mail.Messages()
	require.Len(t, msgs, 1, "one email: the unknown address gets none")
	require.Equal(t, "ana@example.com", msgs[0].To)
	require.Contains(t, survivor.logs.String(), "password reset requested for an address without an account")

	dying.clock.Add(time.Hour)
	n, err = survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "both requests done for good")
	require.Zero(t, dying.mail.Len())
}

// TestRequestRunAgainSendsNoSecondEmail: a process dies after its request
// created the reset and sent the email, but before recording the request
// done; the request run again finds the reset and sends nothing more.
func TestRequestRunAgainSendsNoSecondEmail(t *testing.T) {
	dying, survivor, dead := twoInstances(t)
	dying.user(t, "ana@example.com")
	req, err := dying.svc.RequestPasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	// The process dies just as the email is accepted: neither the email
	// job nor the request is recorded done.
	dying.mail.FailWith = func(mail.Message) error { dead.die(); return nil }
	require.NoError(t, req.Run(t.Context()))
	require.Equal(t, 1, dying.mail.Len())

	dying.clock.Add(reset.DefaultLease)
	n, err := survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n, "the request and the reset's email, both unfinished")
	require.Equal(t, 1, survivor.mail.Len(), "the email once more (at least once), and no second reset's")
	first, _ := dying.mail.Last()
	again, _ := survivor.mail.Last()
	require.Equal(t, first.Text, again.Text, "the same link")
	require.Equal(t, first.MessageID, again.MessageID, "the same Message-ID, so that readers fold the two")
	require.NotEmpty(t, again.MessageID)
}

// TestEmailOfADeadSenderGoesOutWhenItsLeaseEnds: the reset email of a
// process that died while sending it goes out once the lease, no longer
// renewed, ends: DefaultLease after the claim, not minutes.
func TestEmailOfADeadSenderGoesOutWhenItsLeaseEnds(t *testing.T) {
	dying, survivor, dead := twoInstances(t)
	dying.user(t, "ana@example.com")
	dying.mail.FailWith = func(mail.Message) error { dead.die(); return errDead }
	pr := dying.createReset(t, "ana@example.com")

	dying.clock.Add(reset.DefaultLease - time.Millisecond)
	n, err := survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)
	dying.clock.Add(time.Millisecond)
	n, err = survivor.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	m, ok := survivor.mail.Last()
	require.True(t, ok)
	require.Contains(t, m.Text, pr.URL)
}

// slowMailer holds every message until released, and counts the sends
// that overlap.
type slowMailer struct {
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	sent    int
}

func (m *slowMailer) Send(ctx context.Context, _ mail.Message) error {
	m.started <- struct{}{}
	select {
	case <-m.release:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent++
	return nil
}

// TestSlowSendKeepsItsJob: a send that lasts longer than a lease keeps its
// job: the sender renews its claim, and another dispatcher never takes the
// job while the send runs. The Service's clock moves on by a lease and more
// while the send hangs.
func TestSlowSendKeepsItsJob(t *testing.T) {
	st := memstore.New()
	key := []byte(strings.Repeat("k", 32))
	clk := testsvc.NewClock()
	lease := 3 * time.Second // renewed every second
	slow := &slowMailer{started: make(chan struct{}, 1), release: make(chan struct{})}
	a := newFixture(t, func(c *reset.Config) {
		c.Store, c.SecretKey, c.Now, c.Mailer = st, key, clk.Now, slow
		c.Dispatch.Lease = lease
	})
	b := newFixture(t, func(c *reset.Config) {
		c.Store, c.SecretKey, c.Now = st, key, clk.Now
		c.Dispatch.Lease = lease
	})
	a.user(t, "ana@example.com")
	created := make(chan error, 1)
	go func() {
		_, err := a.svc.CreatePasswordReset(context.Background(), reset.CreatePasswordResetParams{Email: "ana@example.com"})
		created <- err
	}()
	<-slow.started

	for range 3 { // the clock moves by 1.5 leases in all
		before := clk.Now()
		clk.Add(lease / 2)
		// Wait for a's renewal, which sets the lease from the moved clock.
		waitFor(t, "a renewal of the lease", func() bool {
			next, err := st.NextDue(t.Context())
			require.NoError(t, err)
			return next.After(before.Add(lease))
		})
		n, err := b.svc.DispatchOnce(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "the job was taken from the live sender")
	}
	close(slow.release)
	require.NoError(t, <-created)
	require.Equal(t, 1, slow.sent)
	require.Zero(t, b.mail.Len())
	clk.Add(time.Hour)
	n, err := b.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "the job was finished")
}

// waitFor polls cond until it holds, and fails the test after a generous
// while: the condition is expected, not timed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDispatcherWakesWhenALeaseEnds: a running dispatcher takes the job of
// a dead process as soon as its lease ends, not at its next poll (an hour
// here).
func TestDispatcherWakesWhenALeaseEnds(t *testing.T) {
	st := memstore.New()
	key := []byte(strings.Repeat("k", 32))
	dead := &deadStore{Store: st}
	dying := newFixture(t, func(c *reset.Config) {
		c.Store, c.SecretKey, c.Now = dead, key, time.Now
		c.Dispatch.Lease = 300 * time.Millisecond
	})
	survivor := newFixture(t, func(c *reset.Config) {
		c.Store, c.SecretKey, c.Now = st, key, time.Now
		c.Dispatch.Interval = time.Hour
	})
	dying.user(t, "ana@example.com")
	_, err := dying.svc.RequestPasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: "ana@example.com"})
	require.NoError(t, err)
	dead.die()

	// The survivor starts (a restart, or an instance whose dispatcher
	// polls): the request's lease runs still.
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- survivor.svc.RunDispatcher(ctx) }()
	defer func() { stop(); require.NoError(t, <-done) }()
	wctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	msgs, err := survivor.mail.WaitFor(wctx, 1)
	require.NoError(t, err, "the request of the dead process was not carried out before the dispatcher's next poll")
	require.Equal(t, "ana@example.com", msgs[0].To)
}

// TestUnopenableJobIsReleasedNotFailed: an instance whose key cannot open
// a queued email does not fail it: it releases it, and an instance with
// the right key sends it later. Only after a day unopened is it failed.
func TestUnopenableJobIsReleasedNotFailed(t *testing.T) {
	st := memstore.New()
	key, other := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("z", 32))
	a := newFixture(t, func(c *reset.Config) { c.Store, c.SecretKey = st, key })
	wrong := newFixture(t, func(c *reset.Config) { c.Store, c.SecretKey, c.Now = st, other, a.clock.Now })
	a.user(t, "ana@example.com")
	a.mail.FailWith = func(mail.Message) error { return errors.New("421 later") }
	pr := a.createReset(t, "ana@example.com")

	a.clock.Add(time.Minute)
	n, err := wrong.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, wrong.mail.Len())
	require.Contains(t, wrong.logs.String(), "sealed under another SecretKey")

	a.mail.FailWith = nil
	a.clock.Add(time.Hour)
	n, err = a.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n, "the released job is still there for the right key")
	m, ok := a.mail.Last()
	require.True(t, ok)
	require.Contains(t, m.Text, pr.URL)

	// A job that no instance opens for a day is failed, with a loud line.
	a.createReset(t, "ana@example.com")
	a.mail.FailWith = func(mail.Message) error { return errors.New("421 later") }
	a.createReset(t, "ana@example.com")
	for range 60 {
		a.clock.Add(time.Hour)
		_, err := wrong.svc.DispatchOnce(t.Context())
		require.NoError(t, err)
	}
	require.Contains(t, wrong.logs.String(), "giving up a job that cannot be opened")
	a.mail.FailWith = nil
	n, err = a.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "failed for good")
}

// TestNoSecretKeyOnADurableStoreWarns: a Service on a store whose state
// outlives the process, without a SecretKey, says at start what that
// costs; one on memstore, or with a key, says nothing.
func TestNoSecretKeyOnADurableStoreWarns(t *testing.T) {
	newService := func(st store.Store, key []byte) string {
		var logs bytes.Buffer
		_, err := reset.NewService(reset.Config{Store: st, Mailer: new(mailtest.Recorder), ResetURL: "https://app.example/reset-password",
			SecretKey: key, Hasher: password.Bcrypt{Cost: 4}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		require.NoError(t, err)
		return logs.String()
	}
	durable := openSQLite(t, filepath.Join(t.TempDir(), "app.db"))
	out := newService(durable, nil)
	require.Contains(t, out, "level=WARN")
	require.Contains(t, out, "SecretKey is not set")
	require.Contains(t, out, "cannot be opened after it")
	require.Contains(t, out, "count apart in every instance")
	require.Empty(t, newService(durable, []byte(strings.Repeat("k", 32))))
	require.Empty(t, newService(memstore.New(), nil))
}

// TestDispatcherReleasesWhatItDidNotStart: jobs a dispatcher claimed but
// had not started when it was stopped are due again at once, not after a
// backoff or a lease.
func TestDispatcherReleasesWhatItDidNotStart(t *testing.T) {
	f := newFixture(t)
	f.user(t, "ana@example.com")
	f.mail.FailWith = func(mail.Message) error { return errors.New("421 later") }
	for range 3 {
		f.createReset(t, "ana@example.com")
	}
	f.clock.Add(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The process is told to stop during the first send.
	f.mail.FailWith = func(mail.Message) error { cancel(); return context.Canceled }
	n, err := f.svc.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Zero(t, f.mail.Len())
	next, err := f.store.NextDue(t.Context())
	require.NoError(t, err)
	require.Equal(t, f.clock.Now(), next, "released, due now")
}

func TestParseSecretKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xa7}, 32)
	for _, text := range []string{
		hex.EncodeToString(raw), strings.ToUpper(hex.EncodeToString(raw)), " " + hex.EncodeToString(raw) + "\n",
		"p6enp6enp6enp6enp6enp6enp6enp6enp6enp6enp6c=", "p6enp6enp6enp6enp6enp6enp6enp6enp6enp6enp6c",
	} {
		key, err := reset.ParseSecretKey(text)
		require.NoError(t, err, "%q", text)
		require.Equal(t, raw, key, "%q", text)
	}
	for _, text := range []string{"", "   "} {
		key, err := reset.ParseSecretKey(text)
		require.NoError(t, err, "%q: no key", text)
		require.Nil(t, key, "%q: no key", text)
	}
	for _, text := range []string{"not a key at all!", hex.EncodeToString(raw[:31]), "c2hvcnQ="} {
		_, err := reset.ParseSecretKey(text)
		require.Error(t, err, "%q", text)
		require.NotContains(t, err.Error(), strings.TrimSpace(text), "the error quotes the text")
	}
}

func TestLoadKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.db.key")
	key, created, err := reset.LoadKeyFile(path)
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, key, 32)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "readable by the owner only")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	again, created, err := reset.LoadKeyFile(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, key, again, "the same key at the next start")

	require.NoError(t, os.Chmod(path, 0o644))
	_, _, err = reset.LoadKeyFile(path)
	require.ErrorContains(t, err, "chmod 600")
	require.NoError(t, os.Chmod(path, 0o600))

	require.NoError(t, os.WriteFile(path, []byte("not a key\n"), 0o600))
	_, _, err = reset.LoadKeyFile(path)
	require.Error(t, err)

	_, _, err = reset.LoadKeyFile(filepath.Join(dir, "missing-folder", "k"))
	require.Error(t, err)
}

// TestLoadKeyFileConcurrently: processes that start at once on one
// database all end up with the same key, whichever wrote the file.
func TestLoadKeyFileConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db.key")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	testfix.Concurrently(n, func(i int) {
		keys[i], _, errs[i] = reset.LoadKeyFile(path)
	})
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, keys[0], keys[i])
	}
}

// gateMailer holds every send until n are in flight at once, and records
// the most it saw.
type gateMailer struct {
	n       int
	mu      sync.Mutex
	flying  int
	most    int
	gate    chan struct{}
	opened  bool
	started int
}

func (m *gateMailer) Send(ctx context.Context, _ mail.Message) error {
	m.mu.Lock()
	m.flying++
	m.started++
	m.most = max(m.most, m.flying)
	if m.flying == m.n && !m.opened {
		m.opened = true
		close(m.gate)
	}
	m.mu.Unlock()
	defer func() { m.mu.Lock(); m.flying--; m.mu.Unlock() }()
	select {
	case <-m.gate:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("never reached n sends at once")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestDispatcherSendsSeveralAtOnce: a dispatcher runs up to Workers jobs
// at once, so that a slow mail server does not make it fall behind, and
// no more.
func TestDispatcherSendsSeveralAtOnce(t *testing.T) {
	m := &gateMailer{n: 4, gate: make(chan struct{})}
	f := newFixture(t, func(c *reset.Config) { c.Mailer, c.Dispatch.Workers = m, 4 })
	for i := range 8 {
		addr := fmt.Sprintf("user%d@example.com", i)
		f.user(t, addr)
		req, err := f.svc.RequestPasswordReset(t.Context(), reset.CreatePasswordResetParams{Email: addr})
		require.NoError(t, err)
		require.NoError(t, req.Release(t.Context()))
	}
	n, err := f.svc.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 8, n)
	require.Equal(t, 8, m.started)
	require.Equal(t, 4, m.most, "sends at once")
}
