package reset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/passreset/passreset/internal/resetlink"
)

// Hashing caps: a password hash or comparison (bcrypt, Argon2id) costs a
// core for a few hundred milliseconds, so a Service runs at most
// Config.MaxHashing of them at once, and one client at most half of
// those. A call that finds no slot within Config.HashingWait returns a
// *BusyError; nothing queues longer.
const (
	// DefaultHashingWait is Config.HashingWait's default.
	DefaultHashingWait = time.Second
	// maxHashingClients caps the clients the hashing gate tracks at once
	// (those holding or waiting for a slot); past it, a new client is
	// answered busy.
	maxHashingClients = 10_000
	// maxFlights caps the resets being confirmed at once in one Service.
	maxFlights = 10_000
)

// ErrBusy: the Service is running as many password hashes as
// Config.MaxHashing allows, or the client its share of them, and none
// finished within Config.HashingWait. Nothing was checked or changed: the
// caller may retry after the error's RetryAfter. The error is a
// *BusyError.
var ErrBusy = errors.New("reset: busy: too many password hashes in flight")

// BusyError says when a caller refused for want of hashing capacity may
// retry. It matches ErrBusy with errors.Is.
type BusyError struct {
	retryAfter time.Duration
}

// RetryAfter is how long to wait before retrying, in whole seconds, at
// least one.
func (e *BusyError) RetryAfter() time.Duration {
	secs := (e.retryAfter + time.Second - 1) / time.Second
	return max(secs, 1) * time.Second
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v; retry in %s", ErrBusy, e.RetryAfter())
}

// Is reports whether target is ErrBusy.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// hashGate bounds the hashing work in flight: slots for the Service, and
// for each named client a share of them.
type hashGate struct {
	slots     chan struct{}
	perClient int
	wait      time.Duration

	mu      sync.Mutex
	clients map[string]*clientSlots
}

// clientSlots are one client's share: held has a token per hash the
// client runs; refs counts the callers holding or waiting for one.
type clientSlots struct {
	held chan struct{}
	refs int
}

func newHashGate(n int, wait time.Duration) *hashGate {
	return &hashGate{
		slots:     make(chan struct{}, n),
		perClient: max(1, n/2),
		wait:      wait,
		clients:   make(map[string]*clientSlots),
	}
}

// acquire takes a slot for one hash or comparison for client ("" for a
// caller without one, who shares only the Service's cap), waiting at most
// the gate's wait. It returns the release, a *BusyError when no slot came,
// or ctx's error.
func (g *hashGate) acquire(ctx context.Context, client string) (release func(), err error) {
	var c *clientSlots
	if client != "" {
		g.mu.Lock()
		c = g.clients[client]
		if c == nil {
			if len(g.clients) >= maxHashingClients {
				g.mu.Unlock()
				return nil, &BusyError{retryAfter: g.wait}
			}
			c = &clientSlots{held: make(chan struct{}, g.perClient)}
			g.clients[client] = c
		}
		c.refs++
		g.mu.Unlock()
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// take waits for a token of ch: at once when one is free, else until
	// the wait (one timer for both steps) or ctx ends.
	take := func(ch chan struct{}) error {
		select {
		case ch <- struct{}{}:
			return nil
		default:
		}
		if timer == nil {
			timer = time.NewTimer(g.wait)
		}
		select {
		case ch <- struct{}{}:
			return nil
		case <-timer.C:
			return &BusyError{retryAfter: g.wait}
		case <-ctx.Done():
			return fmt.Errorf("reset: wait for hashing: %w", ctx.Err())
		}
	}
	if c != nil {
		if err := take(c.held); err != nil {
			g.drop(client, c)
			return nil, err
		}
	}
	if err := take(g.slots); err != nil {
		if c != nil {
			<-c.held
			g.drop(client, c)
		}
		return nil, err
	}
	return func() {
		<-g.slots
		if c != nil {
			<-c.held
			g.drop(client, c)
		}
	}, nil
}

// drop counts a caller of client out, forgetting the client with its last.
func (g *hashGate) drop(client string, c *clientSlots) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.refs--; c.refs == 0 {
		delete(g.clients, client)
	}
}

// flights lets one caller at a time confirm a reset in this process: the
// others wait for its outcome instead of hashing a password for a reset
// that is about to be spent.
type flights struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// begin makes the caller the one confirming reset id, and returns the end
// of its turn; or, when another caller has the turn, returns a channel
// closed when that turn ends. full is true when maxFlights resets are
// being confirmed.
func (f *flights) begin(id string) (end func(), wait <-chan struct{}, full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.m[id]; ok {
		return nil, ch, false
	}
	if len(f.m) >= maxFlights {
		return nil, nil, true
	}
	if f.m == nil {
		f.m = make(map[string]chan struct{})
	}
	ch := make(chan struct{})
	f.m[id] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.m, id)
			f.mu.Unlock()
			close(ch)
		})
	}, nil, false
}

// hash hashes a new password within the hashing cap.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	release, err := s.gate.acquire(ctx, "")
	if err != nil {
		return "", err
	}
	defer release()
	h, err := s.hasher.Hash(pw)
	if err != nil {
		return "", fmt.Errorf("reset: hash password: %w", err)
	}
	return h, nil
}

// compare compares pw with hash within the hashing cap, as client; an
// empty hash is compared with the dummy hash and never matches. It
// returns the Hasher's error (password.ErrMismatch for a wrong password),
// resetlink.ErrNoHash, or the gate's.
func (s *Service) compare(ctx context.Context, client, hash, pw string) error {
	release, err := s.gate.acquire(ctx, client)
	if err != nil {
		return err
	}
	defer release()
	if hash == "" {
		_ = s.hasher.Compare(s.dummyHash, pw)
		return resetlink.ErrNoHash
	}
	return s.hasher.Compare(hash, pw)
}
