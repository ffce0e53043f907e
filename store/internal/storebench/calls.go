package storebench

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

// flowCalls are the Store calls each path of the flow makes, in order:
// what every raw side issues the statements of. When the flow changes
// (a read added, a write moved), TestCalls fails here, and the raw sides
// must follow, or the pairs would compare unequal work.
var flowCalls = map[string][]string{
	"CreatePasswordReset": {"AllowRequest", "UserByEmail", "CreateReset", "FinishJob"},
	"GetPasswordReset":    {"ResetByID"},
	"RejectInvalidToken":  {"ResetByTokenHash"},
	"RedeemWithoutBcrypt": {"ResetByTokenHash", "UserByID", "RedeemReset", "FinishJob"},
	"ValidateSession":     {"SessionByTokenHash"},
	"StampCheck":          {"PasswordHash"},
}

// recorder is a Store that records the name of each call of the port it
// is handed; a method it does not list (a newer one) passes through
// unrecorded.
type recorder struct {
	Store
	mu    sync.Mutex
	calls []string
}

func (r *recorder) note(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func (r *recorder) UserByEmail(ctx context.Context, email string) (store.User, error) {
	r.note("UserByEmail")
	return r.Store.UserByEmail(ctx, email)
}

func (r *recorder) UserByID(ctx context.Context, id string) (store.User, error) {
	r.note("UserByID")
	return r.Store.UserByID(ctx, id)
}

func (r *recorder) PasswordHash(ctx context.Context, userID string) (string, error) {
	r.note("PasswordHash")
	return r.Store.PasswordHash(ctx, userID)
}

func (r *recorder) CreateReset(ctx context.Context, rs store.Reset, jobs []store.Job) error {
	r.note("CreateReset")
	return r.Store.CreateReset(ctx, rs, jobs)
}

func (r *recorder) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	r.note("ResetByID")
	return r.Store.ResetByID(ctx, id)
}

func (r *recorder) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	r.note("ResetByTokenHash")
	return r.Store.ResetByTokenHash(ctx, h)
}

func (r *recorder) RedeemReset(ctx context.Context, rd store.Redemption) (store.Redeemed, error) {
	r.note("RedeemReset")
	return r.Store.RedeemReset(ctx, rd)
}

func (r *recorder) EndResets(ctx context.Context, userID string, now time.Time) (int, error) {
	r.note("EndResets")
	return r.Store.EndResets(ctx, userID, now)
}

func (r *recorder) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	r.note("AllowRequest")
	return r.Store.AllowRequest(ctx, key, now, window, limit)
}

func (r *recorder) CountRequests(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	r.note("CountRequests")
	return r.Store.CountRequests(ctx, key, now, window)
}

func (r *recorder) FinishJob(ctx context.Context, id string, now time.Time) error {
	r.note("FinishJob")
	return r.Store.FinishJob(ctx, id, now)
}

func (r *recorder) EnqueueJob(ctx context.Context, j store.Job) error {
	r.note("EnqueueJob")
	return r.Store.EnqueueJob(ctx, j)
}

func (r *recorder) RenewJobs(ctx context.Context, jobs []store.Job, now, until time.Time) ([]string, error) {
	r.note("RenewJobs")
	return r.Store.RenewJobs(ctx, jobs, now, until)
}

func (r *recorder) SessionByTokenHash(ctx context.Context, h token.Hash) (session.Session, error) {
	r.note("SessionByTokenHash")
	return r.Store.SessionByTokenHash(ctx, h)
}

func (r *recorder) SessionByID(ctx context.Context, id string) (session.Session, error) {
	r.note("SessionByID")
	return r.Store.SessionByID(ctx, id)
}

func (r *recorder) TouchSession(ctx context.Context, id string, at time.Time) error {
	r.note("TouchSession")
	return r.Store.TouchSession(ctx, id, at)
}

func (r *recorder) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	r.note("RevokeUserSessions")
	return r.Store.RevokeUserSessions(ctx, userID, at)
}

// recordingDB opens Stores that report their calls to rec.
type recordingDB struct {
	DB
	rec *recorder
}

func (db recordingDB) Store(tb testing.TB) Store {
	db.rec.Store = db.DB.Store(tb)
	return db.rec
}

// testCalls checks that each path of the flow makes the Store calls of
// flowCalls, in order.
func testCalls(t *testing.T, d Dialect, p *payloads) {
	create, get, reject, redeem, validate, stamp := paths(d, p)
	spec := Spec{Users: 4, Resets: 4, Sessions: 4, Now: time.Now().UTC()}
	for _, pt := range []path{create, get, reject, redeem, validate, stamp} {
		rec := new(recorder)
		op := pt.passreset(t, recordingDB{d.Seeded(t, spec), rec}, upTo(spec.Users), nil)
		rec.take()
		if err := op(1); err != nil {
			t.Fatalf("%s: %v", pt.name, err)
		}
		if got, want := rec.take(), flowCalls[pt.name]; !slices.Equal(got, want) {
			t.Errorf("%s: the flow calls the Store's %s, the raw sides mirror %s: bring the raw sides (and flowCalls) level",
				pt.name, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
}
