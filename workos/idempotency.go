package workos

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"sync"
	"time"
)

// errIdempotencyMismatch: the key was used before with another body.
var errIdempotencyMismatch = errors.New("workos: idempotency key reused with another body")

// idempotencyCache keeps the answers to POSTs that carried an
// Idempotency-Key, in this process's memory, so that a retry gets the
// first answer again instead of running twice. It is bounded in age and in
// number; the oldest entries go first.
type idempotencyCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*idempotencyEntry
	order   *list.List // of *idempotencyEntry, oldest first
}

type idempotencyEntry struct {
	slot    string
	body    [sha256.Size]byte // the request body's hash
	created time.Time
	done    chan struct{} // closed when the first request has its answer
	answer  *reply        // the answer to replay; set before done is closed
	elem    *list.Element
}

func newIdempotencyCache(ttl time.Duration, max int, now func() time.Time) *idempotencyCache {
	return &idempotencyCache{ttl: ttl, max: max, now: now, entries: make(map[string]*idempotencyEntry), order: list.New()}
}

// begin looks slot up. When an answer is kept for it, begin returns that
// answer to replay. When the same request is running, it waits for it
// (or for ctx). Otherwise it returns a new entry that the caller must
// finish. A slot used before with another body is errIdempotencyMismatch.
func (c *idempotencyCache) begin(ctx context.Context, slot string, body [sha256.Size]byte) (*idempotencyEntry, *reply, error) {
	for {
		c.mu.Lock()
		c.expire()
		e, ok := c.entries[slot]
		if !ok {
			e = &idempotencyEntry{slot: slot, body: body, created: c.now(), done: make(chan struct{})}
			e.elem = c.order.PushBack(e)
			c.entries[slot] = e
			c.shrink()
			c.mu.Unlock()
			return e, nil, nil
		}
		c.mu.Unlock()
		if e.body != body {
			return nil, nil, errIdempotencyMismatch
		}
		select {
		case <-e.done:
			if e.answer != nil {
				return nil, replayOf(e.answer), nil
			}
			// The first attempt's answer was not kept (a server error):
			// look again, and run the request if nobody else does.
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// finish records the answer of e's request. Answers that a retry could
// change, server errors and rate limits, are not kept.
func (c *idempotencyCache) finish(e *idempotencyEntry, answer *reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if answer.status < 500 && answer.status != http.StatusTooManyRequests {
		e.answer = answer
	} else if c.entries[e.slot] == e {
		delete(c.entries, e.slot)
		c.order.Remove(e.elem)
	}
	close(e.done)
}

// expire drops the entries older than the TTL. c.mu is held.
func (c *idempotencyCache) expire() {
	cutoff := c.now().Add(-c.ttl)
	for f := c.order.Front(); f != nil; f = c.order.Front() {
		e := f.Value.(*idempotencyEntry)
		if e.created.After(cutoff) {
			return
		}
		c.drop(e)
	}
}

// shrink drops the oldest finished entries while there are more than max.
// c.mu is held.
func (c *idempotencyCache) shrink() {
	for f := c.order.Front(); f != nil && c.order.Len() > c.max; {
		e := f.Value.(*idempotencyEntry)
		f = f.Next()
		select {
		case <-e.done:
			c.drop(e)
		default: // still running: keep it
		}
	}
}

func (c *idempotencyCache) drop(e *idempotencyEntry) {
	c.order.Remove(e.elem)
	if c.entries[e.slot] == e {
		delete(c.entries, e.slot)
	}
}

// replayOf is a copy of a kept answer, marked as a replay.
func replayOf(r *reply) *reply {
	cp := *r
	cp.header = r.header.Clone()
	if cp.header == nil {
		cp.header = http.Header{}
	}
	cp.header.Set("Idempotent-Replayed", "true")
	return &cp
}
