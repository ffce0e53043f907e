package pages_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/passreset/passreset/account"
	"github.com/passreset/passreset/internal/testfix"
	"github.com/passreset/passreset/mail/mailtest"
	"github.com/passreset/passreset/password"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/reset/pages"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/store/memstore"
)

// dyingStore is the Store as seen by a process that dies while it works
// on a reset request, after its page has answered: the lookup of the
// address never returns, and from then on nothing the process writes
// arrives (its claims are not renewed).
type dyingStore struct {
	*memstore.Store
	reached chan struct{}
	once    sync.Once
}

var errDead = errors.New("the process died")

func (s *dyingStore) UserByEmail(ctx context.Context, _ string) (reset.User, error) {
	s.once.Do(func() { close(s.reached) })
	<-ctx.Done()
	return reset.User{}, context.Cause(ctx)
}

func (s *dyingStore) RenewJobs(context.Context, []store.Job, time.Time, time.Time) ([]string, error) {
	return nil, errDead
}

func (s *dyingStore) RetryJob(context.Context, string, time.Time, string) error { return errDead }

func (s *dyingStore) FinishJob(context.Context, string, time.Time) error { return errDead }

// TestForgotRequestSurvivesACrash: the forgot page has answered, and the
// process dies before the reset is created. The request was recorded
// before the answer, so another instance (or the restarted app) carries it
// out once its lease ends: the email goes out.
func TestForgotRequestSurvivesACrash(t *testing.T) {
	st := memstore.New()
	dying := &dyingStore{Store: st, reached: make(chan struct{})}
	key := []byte(strings.Repeat("k", 32))
	clk := testfix.NewClock(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
	newService := func(s store.Store, rec *mailtest.Recorder) *reset.Service {
		svc, err := reset.NewService(reset.Config{Store: s, Mailer: rec, ResetURL: origin + "/reset-password",
			Hasher: password.Bcrypt{Cost: 4}, SecretKey: key, Now: clk.Now})
		require.NoError(t, err)
		return svc
	}
	deadMail, liveMail := new(mailtest.Recorder), new(mailtest.Recorder)
	dead, live := newService(dying, deadMail), newService(st, liveMail)
	accounts, err := account.New(live, account.Config{})
	require.NoError(t, err)
	_, err = accounts.CreateUser(t.Context(), account.CreateUserParams{Email: email, Password: oldPassword})
	require.NoError(t, err)

	h, err := pages.New(pages.Config{Service: dead, SignInURL: "/sign-in"})
	require.NoError(t, err)
	f := &fixture{mux: http.NewServeMux()}
	h.Register(f.mux)
	res := f.post(t, "/forgot-password", url.Values{"email": {email}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body(t, res), "Check your email")
	<-dying.reached // the page has answered; the work hangs, as in a process killed now

	clk.Add(reset.DefaultLease)
	n, err := live.DispatchOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n, "the answered request was not recorded")
	m, ok := liveMail.Last()
	require.True(t, ok, "the answered request was not carried out")
	require.Equal(t, email, m.To)
	require.Contains(t, m.Text, origin+"/reset-password?token=")
	require.Zero(t, deadMail.Len())
}
