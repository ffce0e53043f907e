// Package memstore is an in-memory storage adapter for tests and prototypes:
// it implements store.Store, store.UserCreator, store.SignInRecorder and
// session.Store with a set of maps behind one mutex. Its state is lost when
// the process exits, and it cannot be shared by several processes; use
// store/sqlitestore or store/pgstore for anything that must last.
//
//	st := memstore.New()
//	svc, err := reset.NewService(reset.Config{Store: st, ...})
//
// Every method holds the lock for its whole critical section, so each is
// atomic, and values go in and out as copies: a caller that changes a
// returned User's Metadata or a Job's Payload does not change the store.
//
// The clock it trusts is the caller's (the Service's Config.Now): every
// time it keeps or compares is one it was given, never its own.
// Rate-limit records more than store.MaxClockSkew ahead of the caller's
// now are ignored.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/passreset/passreset/emailaddr"
	"github.com/passreset/passreset/reset"
	"github.com/passreset/passreset/session"
	"github.com/passreset/passreset/store"
	"github.com/passreset/passreset/token"
)

var (
	_ store.Store          = (*Store)(nil)
	_ store.UserCreator    = (*Store)(nil)
	_ store.SignInRecorder = (*Store)(nil)
	_ session.Store        = (*Store)(nil)
)

// Store is an in-memory store. Its zero value is not usable; call New.
type Store struct {
	mu sync.Mutex

	users      map[string]*userRow // by id
	userEmails map[string]string   // folded email -> user id

	resets      map[string]store.Reset // by id
	resetHashes map[token.Hash]string  // token hash -> reset id
	liveResets  map[string]string      // user id -> id of the user's one unused, unended reset
	codeResets  map[string]string      // code key -> id of the newest reset with that key

	jobs    map[string]*jobRow
	rates   map[string][]time.Time   // key -> the recorded requests, oldest first
	replays map[string]*store.Replay // key -> its record

	sessions      map[string]*sessionRow
	sessionHashes map[token.Hash]string          // current token hash -> session id
	retiredHashes map[token.Hash]string          // rotated-away token hash -> session id
	userSessions  map[string]map[string]struct{} // user id -> session ids
}

type userRow struct {
	user         reset.User
	passwordHash string
}

type jobRow struct {
	job        store.Job
	finishedAt time.Time
	failedAt   time.Time
	lastError  string
}

func (j *jobRow) done() bool { return !j.finishedAt.IsZero() || !j.failedAt.IsZero() }

type sessionRow struct {
	s       session.Session
	h       token.Hash
	retired []token.Hash // the hashes RotateSessionToken replaced, oldest first
}

// New returns an empty store.
func New() *Store {
	return &Store{
		users:         make(map[string]*userRow),
		userEmails:    make(map[string]string),
		resets:        make(map[string]store.Reset),
		resetHashes:   make(map[token.Hash]string),
		liveResets:    make(map[string]string),
		codeResets:    make(map[string]string),
		jobs:          make(map[string]*jobRow),
		rates:         make(map[string][]time.Time),
		replays:       make(map[string]*store.Replay),
		sessions:      make(map[string]*sessionRow),
		sessionHashes: make(map[token.Hash]string),
		retiredHashes: make(map[token.Hash]string),
		userSessions:  make(map[string]map[string]struct{}),
	}
}

// errJobID is returned for a job whose id is empty or already taken.
var errJobID = errors.New("job id empty or taken")

// lock takes st.mu for the operation op, whose whole critical section it
// guards, unless ctx is done: then it returns the context's error, wrapped
// with op, and takes nothing. The caller defers st.mu.Unlock.
func (st *Store) lock(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	st.mu.Lock()
	return nil
}

// user returns the row of the user with this id, or reset.ErrUserNotFound.
// The caller holds st.mu.
func (st *Store) user(id string) (*userRow, error) {
	row, ok := st.users[id]
	if !ok {
		return nil, reset.ErrUserNotFound
	}
	return row, nil
}

// reset returns the reset with this id, or reset.ErrResetNotFound. The
// caller holds st.mu.
func (st *Store) reset(id string) (store.Reset, error) {
	r, ok := st.resets[id]
	if !ok {
		return store.Reset{}, reset.ErrResetNotFound
	}
	return r, nil
}

// foldEmail is the key under which emails compare: without regard to case,
// Unicode form or the domain's spelling (emailaddr.Fold).
func foldEmail(email string) string { return emailaddr.Fold(email) }

// copyUser copies u's Metadata, which reads back nil when empty, as
// store.User says.
func copyUser(u reset.User) reset.User {
	u.Metadata = maps.Clone(u.Metadata)
	if len(u.Metadata) == 0 {
		u.Metadata = nil
	}
	return u
}

func copyJob(j store.Job) store.Job {
	j.Payload = bytes.Clone(j.Payload)
	return j
}

// CreateUser implements store.UserCreator.
func (st *Store) CreateUser(ctx context.Context, u reset.User, passwordHash string) error {
	if err := st.lock(ctx, "create user"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	if _, ok := st.userEmails[foldEmail(u.Email)]; ok {
		return store.ErrEmailTaken
	}
	if _, ok := st.users[u.ID]; ok || u.ID == "" {
		return fmt.Errorf("memstore: create user: id %q empty or taken", u.ID)
	}
	st.users[u.ID] = &userRow{user: copyUser(u), passwordHash: passwordHash}
	st.userEmails[foldEmail(u.Email)] = u.ID
	return nil
}

// UserByEmail implements store.Store.
func (st *Store) UserByEmail(ctx context.Context, email string) (reset.User, error) {
	if err := st.lock(ctx, "user by email"); err != nil {
		return reset.User{}, err
	}
	defer st.mu.Unlock()
	id, ok := st.userEmails[foldEmail(email)]
	if !ok {
		return reset.User{}, reset.ErrUserNotFound
	}
	return copyUser(st.users[id].user), nil
}

// UserByID implements store.Store.
func (st *Store) UserByID(ctx context.Context, id string) (reset.User, error) {
	if err := st.lock(ctx, "user by id"); err != nil {
		return reset.User{}, err
	}
	defer st.mu.Unlock()
	row, err := st.user(id)
	if err != nil {
		return reset.User{}, err
	}
	return copyUser(row.user), nil
}

// PasswordHash implements store.Store.
func (st *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	if err := st.lock(ctx, "password hash"); err != nil {
		return "", err
	}
	defer st.mu.Unlock()
	row, err := st.user(userID)
	if err != nil {
		return "", err
	}
	return row.passwordHash, nil
}

// RecordSignIn implements store.SignInRecorder.
func (st *Store) RecordSignIn(ctx context.Context, userID string, at time.Time) error {
	if err := st.lock(ctx, "record sign-in"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	row, err := st.user(userID)
	if err != nil {
		return err
	}
	row.user.LastSignInAt = at
	return nil
}

// checkJobs reports whether jobs can be inserted: every id new and distinct.
// It runs before a transaction changes anything, so that a failure leaves
// nothing half-written.
func (st *Store) checkJobs(jobs []store.Job) error {
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		if _, taken := st.jobs[j.ID]; taken || seen[j.ID] || j.ID == "" {
			return fmt.Errorf("%w: %q", errJobID, j.ID)
		}
		seen[j.ID] = true
	}
	return nil
}

func (st *Store) insertJobs(jobs []store.Job) {
	for _, j := range jobs {
		st.jobs[j.ID] = &jobRow{job: copyJob(j)}
	}
}

// CreateReset implements store.Store. It ends the user's older unused reset
// at r.CreatedAt. It returns reset.ErrUserNotFound when r.UserID is unknown.
func (st *Store) CreateReset(ctx context.Context, r store.Reset, jobs []store.Job) error {
	if err := st.lock(ctx, "create reset"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	// Check everything first: nothing is stored when any part fails.
	if _, ok := st.users[r.UserID]; !ok {
		return reset.ErrUserNotFound
	}
	if _, ok := st.resets[r.ID]; ok || r.ID == "" {
		return fmt.Errorf("memstore: create reset: id %q empty or taken", r.ID)
	}
	if _, ok := st.resetHashes[r.TokenHash]; ok {
		return errors.New("memstore: create reset: token hash taken")
	}
	if err := st.checkJobs(jobs); err != nil {
		return fmt.Errorf("memstore: create reset: %w", err)
	}

	// Every reset comes through here, so a user has at most one unused,
	// unended reset: the one liveResets names.
	if id, ok := st.liveResets[r.UserID]; ok {
		older := st.resets[id]
		older.EndedAt = r.CreatedAt
		st.resets[id] = older
	}
	r.UsedAt, r.EndedAt = time.Time{}, time.Time{}
	st.resets[r.ID] = r
	st.resetHashes[r.TokenHash] = r.ID
	st.liveResets[r.UserID] = r.ID
	if r.Code.Key != "" {
		st.codeResets[r.Code.Key] = r.ID
	}
	st.insertJobs(jobs)
	return nil
}

// EndResets implements store.Store.
func (st *Store) EndResets(ctx context.Context, userID string, now time.Time) (int, error) {
	if err := st.lock(ctx, "end resets"); err != nil {
		return 0, err
	}
	defer st.mu.Unlock()
	// CreateReset keeps at most one reset of a user unused and unended:
	// the one liveResets names.
	id, ok := st.liveResets[userID]
	if !ok {
		return 0, nil
	}
	r := st.resets[id]
	r.EndedAt = now
	st.resets[id] = r
	delete(st.liveResets, userID)
	return 1, nil
}

// SetEmail changes the user's email, as a host does when the user moves
// their account to another address: the resets sent to the old address
// stop working (RedeemReset refuses them). It returns store.ErrEmailTaken
// when another user has the address without regard to case, and
// reset.ErrUserNotFound for an unknown user. A host calls
// reset.Service.EndResets after it, so that the old links are ended too.
func (st *Store) SetEmail(ctx context.Context, userID, email string) error {
	if err := st.lock(ctx, "set email"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	row, err := st.user(userID)
	if err != nil {
		return err
	}
	if id, ok := st.userEmails[foldEmail(email)]; ok && id != userID {
		return store.ErrEmailTaken
	}
	delete(st.userEmails, foldEmail(row.user.Email))
	st.userEmails[foldEmail(email)] = userID
	row.user.Email = email
	row.user.EmailVerified = false
	return nil
}

// ClaimResetCode implements store.Store.
func (st *Store) ClaimResetCode(ctx context.Context, key string, now time.Time) (store.Reset, error) {
	if err := st.lock(ctx, "claim reset code"); err != nil {
		return store.Reset{}, err
	}
	defer st.mu.Unlock()
	id, ok := st.codeResets[key]
	if !ok || key == "" {
		return store.Reset{}, reset.ErrResetNotFound
	}
	r := st.resets[id]
	if r.Status(now) != nil || !r.Code.Usable(now) {
		return store.Reset{}, reset.ErrResetNotFound
	}
	r.Code.TriesLeft--
	st.resets[id] = r
	return r, nil
}

// ChangePassword implements store.Store.
func (st *Store) ChangePassword(ctx context.Context, c store.PasswordChange) (store.Changed, error) {
	if err := st.lock(ctx, "change password"); err != nil {
		return store.Changed{}, err
	}
	defer st.mu.Unlock()
	// Check everything first: nothing is kept when any step fails.
	row, err := st.user(c.UserID)
	if err != nil {
		return store.Changed{}, err
	}
	if row.passwordHash != c.OldHash {
		return store.Changed{}, store.ErrPasswordChanged
	}
	if c.Rehash {
		row.passwordHash = c.NewHash
		return store.Changed{}, nil
	}
	if err := st.checkJobs(c.Jobs); err != nil {
		return store.Changed{}, fmt.Errorf("memstore: change password: %w", err)
	}
	row.passwordHash = c.NewHash
	row.user.UpdatedAt = c.Now
	var n int
	for id := range st.userSessions[c.UserID] {
		row := st.sessions[id]
		switch {
		case id == c.KeepSessionID:
			row.s.Stamp = c.KeepStamp
		case row.s.Active(c.Now):
			row.s.RevokedAt = c.Now
			n++
		}
	}
	st.insertJobs(c.Jobs)
	return store.Changed{SessionsRevoked: n}, nil
}

// ResetByID implements store.Store.
func (st *Store) ResetByID(ctx context.Context, id string) (store.Reset, error) {
	if err := st.lock(ctx, "reset by id"); err != nil {
		return store.Reset{}, err
	}
	defer st.mu.Unlock()
	return st.reset(id)
}

// ResetByTokenHash implements store.Store.
func (st *Store) ResetByTokenHash(ctx context.Context, h token.Hash) (store.Reset, error) {
	if err := st.lock(ctx, "reset by token hash"); err != nil {
		return store.Reset{}, err
	}
	defer st.mu.Unlock()
	id, ok := st.resetHashes[h]
	if !ok {
		return store.Reset{}, reset.ErrResetNotFound
	}
	return st.resets[id], nil
}

// RedeemReset implements store.Store. A Redemption whose UserID is not the
// reset's user is refused with an error, and changes nothing.
func (st *Store) RedeemReset(ctx context.Context, rd store.Redemption) (store.Redeemed, error) {
	if err := st.lock(ctx, "redeem reset"); err != nil {
		return store.Redeemed{}, err
	}
	defer st.mu.Unlock()
	// Check everything first: nothing is kept when any step fails.
	r, err := st.reset(rd.ResetID)
	if err != nil {
		return store.Redeemed{}, err
	}
	if err := r.Status(rd.Now); err != nil {
		return store.Redeemed{}, err
	}
	if rd.UserID != "" && r.UserID != rd.UserID {
		return store.Redeemed{}, store.ErrInvalidToken // the reset belongs to another user
	}
	row, err := st.user(r.UserID)
	if err != nil {
		return store.Redeemed{}, err
	}
	if foldEmail(row.user.Email) != foldEmail(r.Email) {
		return store.Redeemed{}, store.ErrInvalidToken // the address is no longer the user's
	}
	if err := st.checkJobs(rd.Jobs); err != nil {
		return store.Redeemed{}, fmt.Errorf("memstore: redeem reset: %w", err)
	}

	r.UsedAt = rd.Now
	st.resets[r.ID] = r
	if st.liveResets[r.UserID] == r.ID {
		delete(st.liveResets, r.UserID)
	}
	row.passwordHash = rd.PasswordHash
	row.user.EmailVerified = true
	row.user.UpdatedAt = rd.Now
	n := st.revokeUserSessions(r.UserID, rd.Now)
	st.insertJobs(rd.Jobs)
	return store.Redeemed{User: copyUser(row.user), SessionsRevoked: n}, nil
}

// AllowRequest implements store.Store. A limit <= 0 refuses every request.
func (st *Store) AllowRequest(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (bool, time.Time, error) {
	if err := st.lock(ctx, "allow request"); err != nil {
		return false, time.Time{}, err
	}
	defer st.mu.Unlock()
	from, upto := now.Add(-window), now.Add(store.MaxClockSkew)
	var count int
	var oldest time.Time
	for _, at := range st.rates[key] {
		// A request recorded after now counts too: a concurrent caller
		// read its clock later, but got here first. One recorded further
		// ahead than the skew allows came from a clock that ran fast.
		if at.After(from) && !at.After(upto) {
			if count == 0 || at.Before(oldest) {
				oldest = at
			}
			count++
		}
	}
	if count >= limit {
		var retryAt time.Time
		if count > 0 {
			retryAt = oldest.Add(window)
			if latest := now.Add(window); retryAt.After(latest) {
				retryAt = latest
			}
		}
		return false, retryAt, nil
	}
	recorded := st.rates[key]
	i, _ := slices.BinarySearchFunc(recorded, now, time.Time.Compare)
	st.rates[key] = slices.Insert(recorded, i, now)
	return true, time.Time{}, nil
}

// ClaimJobs implements store.Store. Due jobs are claimed in order of RunAt,
// then id.
func (st *Store) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Job, error) {
	if err := st.lock(ctx, "claim jobs"); err != nil {
		return nil, err
	}
	defer st.mu.Unlock()
	if max <= 0 {
		return nil, nil
	}
	var due []*jobRow
	for _, j := range st.jobs {
		if !j.done() && !j.job.RunAt.After(now) && !j.job.ClaimedUntil.After(now) {
			due = append(due, j)
		}
	}
	slices.SortFunc(due, func(a, b *jobRow) int {
		return cmp.Or(a.job.RunAt.Compare(b.job.RunAt), strings.Compare(a.job.ID, b.job.ID))
	})
	due = due[:min(len(due), max)]
	claimed := make([]store.Job, len(due))
	for i, j := range due {
		j.job.ClaimedUntil = now.Add(lease)
		j.job.Attempts++
		claimed[i] = copyJob(j.job)
	}
	return claimed, nil
}

// FinishJob implements store.Store. Finishing a failed job changes nothing.
func (st *Store) FinishJob(ctx context.Context, id string, now time.Time) error {
	return st.updateJob(ctx, "finish job", id, func(j *jobRow) {
		j.finishedAt = now
		j.job.Payload = nil
		j.job.ClaimedUntil = time.Time{}
	})
}

// RetryJob implements store.Store. It clears the job's lease, so the job is
// due again at runAt. Retrying a job that is missing, finished or failed
// changes nothing and returns nil.
func (st *Store) RetryJob(ctx context.Context, id string, runAt time.Time, lastError string) error {
	return st.updateJob(ctx, "retry job", id, func(j *jobRow) {
		j.job.RunAt = runAt
		j.job.ClaimedUntil = time.Time{}
		j.lastError = lastError
	})
}

// FailJob implements store.Store. Failing a job that is missing, finished or
// already failed changes nothing and returns nil.
func (st *Store) FailJob(ctx context.Context, id string, now time.Time, lastError string) error {
	return st.updateJob(ctx, "fail job", id, func(j *jobRow) {
		j.failedAt = now
		j.lastError = lastError
		j.job.Payload = nil
		j.job.ClaimedUntil = time.Time{}
	})
}

// updateJob applies change, under st.mu, to the job with this id unless
// it is missing, finished or failed; op names the operation in an error.
func (st *Store) updateJob(ctx context.Context, op, id string, change func(*jobRow)) error {
	if err := st.lock(ctx, op); err != nil {
		return err
	}
	defer st.mu.Unlock()
	if j, ok := st.jobs[id]; ok && !j.done() {
		change(j)
	}
	return nil
}

// EnqueueJob implements store.Store. Memory is as durable as memstore
// gets: the job lasts as long as the process.
func (st *Store) EnqueueJob(ctx context.Context, j store.Job) error {
	if err := st.lock(ctx, "enqueue job"); err != nil {
		return err
	}
	defer st.mu.Unlock()
	if err := st.checkJobs([]store.Job{j}); err != nil {
		return fmt.Errorf("memstore: enqueue job: %w", err)
	}
	st.insertJobs([]store.Job{j})
	return nil
}

// RenewJobs implements store.Store.
func (st *Store) RenewJobs(ctx context.Context, jobs []store.Job, now, until time.Time) ([]string, error) {
	if err := st.lock(ctx, "renew jobs"); err != nil {
		return nil, err
	}
	defer st.mu.Unlock()
	var renewed []string
	for _, claim := range jobs {
		j, ok := st.jobs[claim.ID]
		if ok && !j.done() && j.job.Attempts == claim.Attempts && j.job.ClaimedUntil.After(now) {
			j.job.ClaimedUntil = until
			renewed = append(renewed, claim.ID)
		}
	}
	return renewed, nil
}

// NextDue implements store.Store.
func (st *Store) NextDue(ctx context.Context) (time.Time, error) {
	if err := st.lock(ctx, "next due"); err != nil {
		return time.Time{}, err
	}
	defer st.mu.Unlock()
	var next time.Time
	for _, j := range st.jobs {
		if j.done() {
			continue
		}
		due := j.job.RunAt
		if j.job.ClaimedUntil.After(due) {
			due = j.job.ClaimedUntil
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next, nil
}

// Purge implements store.Store. Each recorded request counts as one row.
func (st *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := st.lock(ctx, "purge"); err != nil {
		return 0, err
	}
	defer st.mu.Unlock()
	var n int64
	for id, r := range st.resets {
		if r.ExpiresAt.Before(before) || beforeNonZero(r.UsedAt, before) || beforeNonZero(r.EndedAt, before) {
			delete(st.resets, id)
			delete(st.resetHashes, r.TokenHash)
			if st.liveResets[r.UserID] == id {
				delete(st.liveResets, r.UserID)
			}
			if st.codeResets[r.Code.Key] == id {
				delete(st.codeResets, r.Code.Key)
			}
			n++
		}
	}
	for key, recorded := range st.rates {
		kept := slices.DeleteFunc(recorded, func(at time.Time) bool { return at.Before(before) })
		n += int64(len(recorded) - len(kept))
		if len(kept) == 0 {
			delete(st.rates, key)
		} else {
			st.rates[key] = kept
		}
	}
	for id, j := range st.jobs {
		if beforeNonZero(j.finishedAt, before) || beforeNonZero(j.failedAt, before) {
			delete(st.jobs, id)
			n++
		}
	}
	return n, nil
}

// beforeNonZero reports whether t is set and before before.
func beforeNonZero(t, before time.Time) bool { return !t.IsZero() && t.Before(before) }
