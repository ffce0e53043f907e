package reset

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/passreset/passreset/store"
)

// errLeaseLost cancels the work on a job whose claim this process no
// longer holds: another process may be running the job.
var errLeaseLost = errors.New("reset: lease on the job lost (not renewed in time); another instance may run it")

// leases keeps alive the claims on jobs that this Service holds while it
// works on them. A claim lasts DispatchConfig.Lease, short so that the
// jobs of a process that dies go to another within seconds; a goroutine,
// which runs only while claims are held, renews them all every Lease/3 in
// one call (store.Store.RenewJobs). A claim that the Store would not renew
// (taken over, or lapsed), or that was not renewed within 2/3 of a Lease of
// the last renewal (the process stalled, or the database did), is lost:
// its work is cancelled and its outcome not recorded, so that two live
// processes never work on one job at once, however slow one of them is.
type leases struct {
	svc   *Service
	every time.Duration // between renewals: Lease/3
	fence time.Duration // without renewal, a claim counts as lost after this: 2*Lease/3

	mu      sync.Mutex
	held    map[*lease]struct{}
	running bool // the renewing goroutine runs
}

// lease is one claim held: the job as claimed (its ID and Attempts name
// the claim).
type lease struct {
	job   store.Job
	timer *time.Timer // fires at the fence

	mu     sync.Mutex
	lost   bool
	cancel context.CancelCauseFunc // of the attempt running under the claim, if any
}

func newLeases(svc *Service) *leases {
	l := svc.dispatch.Lease
	return &leases{svc: svc, every: l / 3, fence: 2 * l / 3, held: make(map[*lease]struct{})}
}

// hold starts keeping the claim on job alive; the caller has just made it
// (ClaimJobs, or a job written claimed) and lets go of it with drop.
func (ls *leases) hold(job store.Job) *lease {
	l := &lease{job: job}
	l.timer = time.AfterFunc(ls.fence, l.lose)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.held[l] = struct{}{}
	if !ls.running {
		ls.running = true
		go ls.renew()
	}
	return l
}

// drop stops keeping the claim alive and reports whether it was still
// held: whether the outcome of its work may be recorded.
func (ls *leases) drop(l *lease) (held bool) {
	l.timer.Stop()
	ls.mu.Lock()
	delete(ls.held, l)
	ls.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		l.cancel(nil)
		l.cancel = nil
	}
	return !l.lost
}

// renew renews every claim held, every ls.every, until none is held.
func (ls *leases) renew() {
	t := time.NewTicker(ls.every)
	defer t.Stop()
	for range t.C {
		ls.mu.Lock()
		if len(ls.held) == 0 {
			ls.running = false
			ls.mu.Unlock()
			return
		}
		held := make([]*lease, 0, len(ls.held))
		jobs := make([]store.Job, 0, len(ls.held))
		for l := range ls.held {
			held = append(held, l)
			jobs = append(jobs, store.Job{ID: l.job.ID, Attempts: l.job.Attempts})
		}
		ls.mu.Unlock()

		start := time.Now()
		now := ls.svc.clock()
		ctx, cancel := context.WithTimeout(context.Background(), ls.every)
		renewed, err := ls.svc.store.RenewJobs(ctx, jobs, now, now.Add(ls.svc.dispatch.Lease))
		cancel()
		if err != nil {
			// The fences decide: a claim not renewed in time is lost.
			ls.svc.log.Warn("outbox: renew leases", "jobs", len(jobs), "err", err)
			continue
		}
		ok := make(map[string]bool, len(renewed))
		for _, id := range renewed {
			ok[id] = true
		}
		for _, l := range held {
			if ok[l.job.ID] {
				l.extend(ls.fence - time.Since(start))
			} else {
				l.lose()
			}
		}
	}
}

// attempt starts the work under the claim: a context that is cancelled if
// the claim is lost, and whether the claim is still held (when it is not,
// the work must not start).
func (l *lease) attempt(ctx context.Context) (context.Context, bool) {
	ctx, cancel := context.WithCancelCause(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		cancel(errLeaseLost)
		return ctx, false
	}
	l.cancel = cancel
	return ctx, true
}

// extend moves the fence d from now, unless the claim is lost already.
func (l *lease) extend(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lost && d > 0 {
		l.timer.Reset(d)
	}
}

// lose marks the claim lost and cancels its work.
func (l *lease) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lost = true
	if l.cancel != nil {
		l.cancel(errLeaseLost)
		l.cancel = nil
	}
}
